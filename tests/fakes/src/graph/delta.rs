//! Delta rounds as Graph pages them. A round from scratch lists every object that existed when it
//! started, with all selected properties; a round from a delta token lists the objects changed
//! since that token (only the properties changed since, `members@delta` with the membership
//! changes, `@removed` for what was deleted). A round sees the objects as of its start: what
//! changes while it pages is left to the next round. Pages hold at most `page_size` entries, a
//! group's members counting one each, so a large group is split over pages as Graph does.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Map, Value, json};

use super::directory::{Directory, MemberKind, Object, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Users,
    Groups,
}

impl Collection {
    pub fn name(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Groups => "groups",
        }
    }
}

/// Where a round is: `since` None for a round from scratch; `after` the last id listed (with
/// `offset` > 0: the group whose members continue at `offset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub since: Option<Version>,
    pub snapshot: Version,
    pub after: Option<String>,
    pub offset: usize,
}

impl Position {
    pub fn skip_token(&self) -> String {
        let since = self.since.map_or("f".to_owned(), |v| v.to_string());
        format!("{since}.{}.{}.{}", self.snapshot, self.after.as_deref().unwrap_or("-"), self.offset)
    }

    pub fn parse_skip_token(token: &str) -> Option<Position> {
        let mut parts = token.split('.');
        let since = match parts.next()? {
            "f" => None,
            number => Some(number.parse().ok()?),
        };
        let snapshot = parts.next()?.parse().ok()?;
        let after = match parts.next()? {
            "-" => None,
            id => Some(id.to_owned()),
        };
        let offset = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Position { since, snapshot, after, offset })
    }
}

/// A page's entries and, if the round goes on, where.
pub struct DeltaPage {
    pub value: Vec<Value>,
    pub next: Option<Position>,
}

fn changed_since(object: &Object, since: Option<Version>, version: Version) -> bool {
    since.is_none_or(|since| object.created > since || version > since)
}

pub fn page(
    directory: &Directory,
    collection: Collection,
    select: &[String],
    at: &Position,
    page_size: usize,
) -> DeltaPage {
    let (live, deleted) = match collection {
        Collection::Users => (&directory.users, &directory.deleted_users),
        Collection::Groups => (&directory.groups, &directory.deleted_groups),
    };
    let resuming = at.offset > 0;
    let lower = match &at.after {
        Some(after) if resuming => Bound::Included(after.clone()),
        Some(after) => Bound::Excluded(after.clone()),
        None => Bound::Unbounded,
    };
    let in_round = |object: &&Object| match at.since {
        None => object.created <= at.snapshot,
        Some(since) => object.version > since && object.version <= at.snapshot,
    };
    let mut live = live.range((lower.clone(), Bound::Unbounded)).filter(|(_, object)| in_round(object)).peekable();
    let removed_in_round =
        |version: &Version| at.since.is_some_and(|since| *version > since && *version <= at.snapshot);
    let mut gone = deleted.range((lower, Bound::Unbounded)).filter(|(_, version)| removed_in_round(version)).peekable();

    let mut value = Vec::new();
    let mut budget = page_size.max(1);
    let mut last: Option<String> = None;
    let mut offset = if resuming { at.offset } else { 0 };
    loop {
        let take_live = match (live.peek(), gone.peek()) {
            (None, None) => return DeltaPage { value, next: None },
            (Some((live_id, _)), Some((gone_id, _))) => live_id < gone_id,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if budget == 0 {
            return DeltaPage { value, next: Some(Position { after: last, offset: 0, ..at.clone() }) };
        }
        budget -= 1;
        if !take_live {
            let (id, _) = gone.next().expect("peeked");
            value.push(removed(collection, id));
            last = Some(id.clone());
            continue;
        }
        let (id, object) = live.next().expect("peeked");
        let mut entry = properties(id, object, select, at.since);
        if collection == Collection::Groups && select.iter().any(|name| name == "members") {
            let members = member_changes(object, at.since);
            if members.is_empty() {
                value.push(Value::Object(entry));
                last = Some(id.clone());
                offset = 0;
                continue;
            }
            let rest = &members[offset.min(members.len())..];
            let taken = rest.len().min(budget.max(1));
            budget = budget.saturating_sub(taken);
            let chunk = rest[..taken].iter().map(|&(id, kind, removed)| member_json(id, kind, removed)).collect();
            entry.insert("members@delta".to_owned(), Value::Array(chunk));
            if taken < rest.len() {
                value.push(Value::Object(entry));
                let next = Position { after: Some(id.clone()), offset: offset + taken, ..at.clone() };
                return DeltaPage { value, next: Some(next) };
            }
        }
        offset = 0;
        value.push(Value::Object(entry));
        last = Some(id.clone());
    }
}

fn removed(collection: Collection, id: &str) -> Value {
    // Users go to the recycle bin first ("changed": restorable); groups here are deleted for good.
    let (kind, reason) = match collection {
        Collection::Users => ("#microsoft.graph.user", "changed"),
        Collection::Groups => ("#microsoft.graph.group", "deleted"),
    };
    json!({"@odata.type": kind, "id": id, "@removed": {"reason": reason}})
}

/// The selected properties: all of them in a round from scratch or for an object created since,
/// else those changed since (null for a cleared one).
fn properties(id: &str, object: &Object, select: &[String], since: Option<Version>) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("id".to_owned(), Value::String(id.to_owned()));
    for name in select.iter().filter(|name| !matches!(name.as_str(), "id" | "members")) {
        if name == "manager" {
            if !changed_since(object, since, object.manager_changed) {
                continue;
            }
            let manager = |id: &str| json!({"@odata.type": "#microsoft.graph.user", "id": id});
            let changes = match (&object.manager, &object.previous_manager) {
                (Some(current), _) => vec![manager(current.as_str())],
                (None, Some(previous)) if since.is_some() => {
                    let mut gone = manager(previous.as_str());
                    gone["@removed"] = json!({"reason": "deleted"});
                    vec![gone]
                }
                (None, _) if since.is_none() => continue,
                (None, _) => Vec::new(),
            };
            entry.insert("manager@delta".to_owned(), Value::Array(changes));
            continue;
        }
        let version = object.changed.get(name).copied().unwrap_or(object.created);
        if changed_since(object, since, version) {
            entry.insert(name.clone(), object.properties.get(name).cloned().unwrap_or(Value::Null));
        }
    }
    entry
}

/// `members@delta`: every member from scratch (or for a group created since), else the members
/// added and removed since; as (id, kind, removed), turned into JSON only for the page's chunk.
fn member_changes(group: &Object, since: Option<Version>) -> Vec<(&str, MemberKind, bool)> {
    let everything = since.is_none_or(|since| group.created > since);
    let mut changes: Vec<(&str, MemberKind, bool)> = group
        .members
        .iter()
        .filter(|(_, (_, added))| everything || since.is_some_and(|since| *added > since))
        .map(|(id, (kind, _))| (id.as_str(), *kind, false))
        .collect();
    if !everything {
        let removed: BTreeMap<&String, _> =
            group.removed_members.iter().filter(|(_, (_, at))| since.is_some_and(|since| *at > since)).collect();
        changes.extend(removed.into_iter().map(|(id, (kind, _))| (id.as_str(), *kind, true)));
    }
    changes
}

fn member_json(id: &str, kind: MemberKind, removed: bool) -> Value {
    let mut member = json!({"@odata.type": kind.odata_type(), "id": id});
    if removed {
        member["@removed"] = json!({"reason": "deleted"});
    }
    member
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Collection, Position, page};
    use crate::graph::directory::Directory;

    fn select(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn skip_tokens_round_trip() {
        let at = Position { since: Some(4), snapshot: 9, after: Some("00-1".into()), offset: 3 };
        assert_eq!(Position::parse_skip_token(&at.skip_token()), Some(at));
        let scratch = Position { since: None, snapshot: 2, after: None, offset: 0 };
        assert_eq!(Position::parse_skip_token(&scratch.skip_token()), Some(scratch));
        assert_eq!(Position::parse_skip_token("x"), None);
    }

    #[test]
    fn a_large_group_is_split_over_pages_and_changes_list_only_what_changed() {
        let mut directory = Directory::default();
        let users: Vec<String> = (0..5)
            .map(|n| directory.create_user(json!({"displayName": format!("u{n}")}).as_object().unwrap().clone()))
            .collect();
        let group = directory.create_group(json!({"displayName": "g"}).as_object().unwrap().clone(), &users);
        let select = select(&["displayName", "members"]);
        let mut at = Position { since: None, snapshot: directory.version, after: None, offset: 0 };
        let mut seen = 0;
        let mut pages = 0;
        loop {
            let delta = page(&directory, Collection::Groups, &select, &at, 3);
            pages += 1;
            for entry in &delta.value {
                assert_eq!(entry["id"], group.as_str());
                seen += entry["members@delta"].as_array().unwrap().len();
            }
            match delta.next {
                Some(next) => at = next,
                None => break,
            }
        }
        assert_eq!((seen, pages), (5, 3));

        let since = directory.version;
        directory.delete_user(&users[0]);
        directory.update_user(&users[1], json!({"displayName": "renamed"}).as_object().unwrap().clone());
        let at = Position { since: Some(since), snapshot: directory.version, after: None, offset: 0 };
        let delta = page(&directory, Collection::Users, &select, &at, 10);
        assert_eq!(delta.value.len(), 2, "{:?}", delta.value);
        assert_eq!(delta.value[0]["@removed"]["reason"], "changed");
        assert_eq!(delta.value[1], json!({"id": users[1], "displayName": "renamed"}));
        let groups = page(&directory, Collection::Groups, &select, &at, 10);
        assert_eq!(groups.value[0]["members@delta"][0]["@removed"]["reason"], "deleted");
        assert_eq!(groups.value[0].get("displayName"), None, "unchanged properties are left out");
    }
}
