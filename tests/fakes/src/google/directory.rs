//! The directory the fake serves: users, groups and memberships, in Google's JSON shapes. Lists
//! page by position (a page token names where the next page starts), so a directory changed
//! between two runs pages like Google's.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

/// The customer id `my_customer` stands for.
pub const CUSTOMER_ID: &str = "C03fake01";

#[derive(Debug, Default, Clone)]
struct Table {
    rows: BTreeMap<u64, Value>,
    by_id: HashMap<String, u64>,
}

impl Table {
    fn insert(&mut self, seq: u64, row: Value) -> String {
        let id = row["id"].as_str().expect("rows have ids").to_owned();
        if let Some(old) = self.by_id.insert(id.clone(), seq) {
            self.rows.remove(&old);
        }
        self.rows.insert(seq, row);
        id
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.rows.get_mut(self.by_id.get(id)?)
    }

    fn remove(&mut self, id: &str) -> bool {
        self.by_id.remove(id).and_then(|seq| self.rows.remove(&seq)).is_some()
    }
}

/// A page of a list: its elements and where the next page starts.
pub struct Slice {
    pub items: Vec<Value>,
    pub next: Option<u64>,
}

#[derive(Debug, Default, Clone)]
pub struct Directory {
    users: Table,
    groups: Table,
    /// Group id → member ids in the order added.
    members: HashMap<String, Vec<String>>,
    next_seq: u64,
}

impl Directory {
    pub fn new() -> Self {
        Self::default()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Adds (or replaces) a user; `user` needs `id` and `primaryEmail`, Google's bookkeeping
    /// fields are filled in.
    pub fn put_user(&mut self, mut user: Value) -> String {
        let fields = user.as_object_mut().expect("a user is an object");
        fields.insert("kind".into(), json!("admin#directory#user"));
        fields.entry("customerId").or_insert(json!(CUSTOMER_ID));
        fields.entry("suspended").or_insert(json!(false));
        fields.entry("archived").or_insert(json!(false));
        fields.entry("isAdmin").or_insert(json!(false));
        fields.entry("orgUnitPath").or_insert(json!("/"));
        fields.entry("lastLoginTime").or_insert(json!("1970-01-01T00:00:00.000Z"));
        fields.entry("creationTime").or_insert(json!("2024-01-15T09:00:00.000Z"));
        let seq = self.seq();
        user["etag"] = json!(format!("\"etag-user-{seq}\""));
        self.users.insert(seq, user)
    }

    /// Changes a user in place; false if there is none with `id`.
    pub fn update_user(&mut self, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let Some(user) = self.users.get_mut(id) else { return false };
        change(user);
        true
    }

    /// Deletes a user, and its memberships as Google does.
    pub fn remove_user(&mut self, id: &str) -> bool {
        self.members.values_mut().for_each(|members| members.retain(|member| member != id));
        self.users.remove(id)
    }

    /// Adds (or replaces) a group; `group` needs `id`, `email` and `name`.
    pub fn put_group(&mut self, mut group: Value) -> String {
        let fields = group.as_object_mut().expect("a group is an object");
        fields.insert("kind".into(), json!("admin#directory#group"));
        fields.entry("adminCreated").or_insert(json!(true));
        fields.entry("description").or_insert(json!(""));
        let seq = self.seq();
        group["etag"] = json!(format!("\"etag-group-{seq}\""));
        let id = self.groups.insert(seq, group);
        self.members.entry(id.clone()).or_default();
        id
    }

    pub fn update_group(&mut self, id: &str, change: impl FnOnce(&mut Value)) -> bool {
        let Some(group) = self.groups.get_mut(id) else { return false };
        change(group);
        true
    }

    pub fn remove_group(&mut self, id: &str) -> bool {
        self.members.remove(id);
        self.members.values_mut().for_each(|members| members.retain(|member| member != id));
        self.groups.remove(id)
    }

    /// Sets a group's members: ids of users or groups, or a customer id (everyone).
    pub fn set_members(&mut self, group_id: &str, members: &[&str]) {
        let list = self.members.entry(group_id.to_owned()).or_default();
        *list = members.iter().map(|member| (*member).to_owned()).collect();
        self.refresh_member_count(group_id);
    }

    fn refresh_member_count(&mut self, group_id: &str) {
        let count = self.members.get(group_id).map_or(0, Vec::len);
        if let Some(group) = self.groups.get_mut(group_id) {
            group["directMembersCount"] = json!(count.to_string());
        }
    }

    pub fn user_count(&self) -> usize {
        self.users.rows.len()
    }

    pub fn group_count(&self) -> usize {
        self.groups.rows.len()
    }

    /// Users from position `from` on, of `domain` if given.
    pub fn users(&self, from: u64, size: usize, domain: Option<&str>) -> Slice {
        let suffix = domain.map(|domain| format!("@{}", domain.to_ascii_lowercase()));
        let in_domain = |user: &Value| {
            suffix.as_ref().is_none_or(|suffix| {
                user["primaryEmail"].as_str().is_some_and(|email| email.to_ascii_lowercase().ends_with(suffix))
            })
        };
        slice(&self.users, from, size, in_domain)
    }

    pub fn groups(&self, from: u64, size: usize, domain: Option<&str>) -> Slice {
        let suffix = domain.map(|domain| format!("@{}", domain.to_ascii_lowercase()));
        let in_domain = |group: &Value| {
            suffix.as_ref().is_none_or(|suffix| {
                group["email"].as_str().is_some_and(|email| email.to_ascii_lowercase().ends_with(suffix))
            })
        };
        slice(&self.groups, from, size, in_domain)
    }

    /// A group's members from position `from` on, as `admin#directory#member`s; None if there is
    /// no such group (by id or email).
    pub fn members(&self, group_key: &str, from: u64, size: usize) -> Option<Slice> {
        let group_id = match self.groups.by_id.get(group_key) {
            Some(_) => group_key.to_owned(),
            None => {
                let by_email = self.groups.rows.values().find(|g| g["email"].as_str() == Some(group_key))?;
                by_email["id"].as_str()?.to_owned()
            }
        };
        let ids = self.members.get(&group_id).map_or(&[][..], Vec::as_slice);
        let start = (from as usize).min(ids.len());
        let end = (start + size).min(ids.len());
        let items = ids[start..end].iter().map(|id| self.member(id)).collect();
        Some(Slice { items, next: (end < ids.len()).then_some(end as u64) })
    }

    fn member(&self, id: &str) -> Value {
        fn lookup<'t>(table: &'t Table, id: &str) -> Option<&'t Value> {
            table.rows.get(table.by_id.get(id)?)
        }
        let (kind, email, status) = if let Some(user) = lookup(&self.users, id) {
            let suspended = user["suspended"].as_bool() == Some(true);
            ("USER", user["primaryEmail"].clone(), if suspended { "SUSPENDED" } else { "ACTIVE" })
        } else if let Some(group) = lookup(&self.groups, id) {
            ("GROUP", group["email"].clone(), "ACTIVE")
        } else if id == CUSTOMER_ID {
            return json!({"kind": "admin#directory#member", "etag": "\"etag-member\"", "id": id, "role": "MEMBER", "type": "CUSTOMER"});
        } else {
            ("EXTERNAL", json!(format!("{id}@elsewhere.example.org")), "ACTIVE")
        };
        json!({
            "kind": "admin#directory#member", "etag": format!("\"etag-member-{id}\""), "id": id, "email": email,
            "role": "MEMBER", "type": kind, "status": status, "delivery_settings": "ALL_MAIL",
        })
    }

    /// A synthetic directory for benchmarks: `users` users (every 50th suspended, every 10th never
    /// signed in), `groups` groups with each user in one or two of groups 1.., and group 0 holding
    /// the first `big_group_members` users; group 2 nests group 1.
    pub fn generate(users: u64, groups: u64, big_group_members: u64) -> Self {
        let mut directory = Self::new();
        let user_ids: Vec<String> = (0..users).map(|i| directory.put_user(generated_user(i))).collect();
        let group_ids: Vec<String> = (0..groups)
            .map(|j| {
                directory.put_group(json!({"id": format!("03x{j:012}"), "email": format!("group{j:05}@example.com"), "name": format!("Group {j:05}")}))
            })
            .collect();
        let mut members: Vec<Vec<&str>> = vec![Vec::new(); groups as usize];
        if groups > 0 {
            members[0].extend(user_ids.iter().take(big_group_members as usize).map(String::as_str));
        }
        if groups > 1 {
            let others = groups - 1;
            for (i, id) in user_ids.iter().enumerate() {
                let first = 1 + (i as u64 % others);
                let second = 1 + ((i as u64 * 7 + 3) % others);
                members[first as usize].push(id);
                if second != first {
                    members[second as usize].push(id);
                }
            }
        }
        if groups > 2 {
            members[2].push(&group_ids[1]);
        }
        for (group, ids) in group_ids.iter().zip(&members) {
            directory.set_members(group, ids);
        }
        directory
    }
}

fn slice(table: &Table, from: u64, size: usize, keep: impl Fn(&Value) -> bool) -> Slice {
    let mut items = Vec::with_capacity(size.min(table.rows.len()));
    let mut rows = table.rows.range(from..).filter(|(_, row)| keep(row));
    for (_, row) in rows.by_ref().take(size) {
        items.push(row.clone());
    }
    Slice { items, next: rows.next().map(|(seq, _)| *seq) }
}

fn generated_user(i: u64) -> Value {
    let last_login = if i.is_multiple_of(10) {
        "1970-01-01T00:00:00.000Z".to_owned()
    } else {
        format!("2026-{:02}-{:02}T{:02}:{:02}:00.000Z", 1 + i % 11, 1 + i % 28, i % 24, i % 60)
    };
    json!({
        "id": format!("1{i:020}"),
        "primaryEmail": format!("user{i:06}@example.com"),
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}"), "fullName": format!("Given{i} Family{i}")},
        "suspended": i % 50 == 49,
        "lastLoginTime": last_login,
        "emails": [{"address": format!("user{i:06}@example.com"), "primary": true}],
        "organizations": [{"title": "Engineer", "department": format!("Department {}", i % 20), "primary": true, "customType": ""}],
        "externalIds": [{"value": format!("E{i:06}"), "type": "organization"}],
        "phones": [{"value": format!("+1 555 {:07}", i), "type": "work"}],
    })
}

#[cfg(test)]
mod tests {
    use super::Directory;

    #[test]
    fn pages_by_position_and_keeps_members_consistent() {
        let mut directory = Directory::generate(10, 4, 3);
        let first = directory.users(0, 4, None);
        assert_eq!(first.items.len(), 4);
        let second = directory.users(first.next.unwrap(), 4, None);
        assert_eq!(second.items[0]["primaryEmail"], "user000004@example.com");
        let big = directory.members("03x000000000000", 0, 200).unwrap();
        assert_eq!(big.items.len(), 3);
        let nested = directory.members("group00002@example.com", 0, 200).unwrap();
        assert!(nested.items.iter().any(|m| m["type"] == "GROUP"));
        let id = first.items[0]["id"].as_str().unwrap().to_owned();
        assert!(directory.remove_user(&id));
        assert_eq!(directory.members("03x000000000000", 0, 200).unwrap().items.len(), 2);
        assert_eq!(directory.users(0, 100, Some("other.org")).items.len(), 0);
    }
}
