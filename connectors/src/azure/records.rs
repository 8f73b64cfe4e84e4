//! Graph objects become records: the mapped properties as fields, `id` as the key, group members
//! by their Graph ids, the manager as a reference to the user with that id. A full delta round returns every selected property, so an absent one has no
//! value and its field is null (the engine clears it); an incremental round returns at least the
//! changed properties, so an absent one is left out and the engine leaves its value alone.

use serde_json::{Map, Value};

use super::mapping::{EMAIL_PRIMARY_PATH, EMAIL_VALUE_PATH, MANAGER_PROPERTY, Mapping, top_level};
use crate::{Correlation, Field, MemberRef, Record, RecordKind, Reference, Rejected, SourceItem};

pub(super) const REMOVED: &str = "@removed";
pub(super) const MEMBERS_DELTA: &str = "members@delta";
const MANAGER_DELTA: &str = "manager@delta";

/// Whether absent properties mean "no value" (a full round) or "unchanged" (an incremental one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Round {
    Full,
    Incremental,
}

pub(super) fn id_of(entry: &Map<String, Value>) -> Option<&str> {
    entry.get("id").and_then(Value::as_str).filter(|id| !id.is_empty())
}

pub(super) fn is_removed(entry: &Map<String, Value>) -> bool {
    entry.get(REMOVED).is_some_and(|removed| !removed.is_null())
}

/// A user entry of `/users/delta`: a record, a deletion (`@removed`), or a rejection without `id`.
pub(super) fn user_item(mapping: &Mapping, entry: &Map<String, Value>, round: Round) -> SourceItem {
    let (fields, references) = values(mapping, entry, round);
    let value_of = |path: &str| fields.iter().find(|field| field.path == path).and_then(|f| f.value.as_str());
    let correlate: Vec<Correlation> = [
        value_of(EMAIL_VALUE_PATH).map(|email| Correlation::Email(email.to_owned())),
        value_of("userName").map(|name| Correlation::UserName(name.to_owned())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(key) = id_of(entry) else {
        let errors = vec!["KEY_MISSING (a Graph user without id)".to_owned()];
        return SourceItem::Rejected(Rejected { kind: RecordKind::User, correlate, errors, origin: None });
    };
    if is_removed(entry) {
        return SourceItem::Deleted { kind: RecordKind::User, key: key.to_owned() };
    }
    SourceItem::Record(Record {
        kind: RecordKind::User,
        key: key.to_owned(),
        name: None,
        fields,
        references,
        correlate,
        groups: None,
        members: None,
        origin: None,
    })
}

/// A group record from its (merged) properties; `members` are all its members, or None when the
/// round did not touch them.
pub(super) fn group_record(
    mapping: &Mapping,
    key: &str,
    entry: &Map<String, Value>,
    round: Round,
    members: Option<Vec<MemberRef>>,
) -> SourceItem {
    SourceItem::Record(Record {
        kind: RecordKind::Group,
        key: key.to_owned(),
        name: None,
        fields: values(mapping, entry, round).0,
        references: Vec::new(),
        correlate: Vec::new(),
        groups: None,
        members,
        origin: None,
    })
}

/// A member of `members@delta` or `/groups/{id}/members`, if it is a user or a group (devices,
/// service principals and contacts have no place in SCIM), and whether it was removed.
pub(super) fn member_of(entry: &Map<String, Value>) -> Option<(MemberRef, bool)> {
    let kind = entry.get("@odata.type").and_then(Value::as_str);
    if !matches!(kind, None | Some("#microsoft.graph.user" | "#microsoft.graph.group")) {
        return None;
    }
    Some((MemberRef::SourceKey(id_of(entry)?.to_owned()), is_removed(entry)))
}

/// The mapped properties: the manager as a reference (its Graph id is the key of the manager's
/// record), the others as fields.
fn values(mapping: &Mapping, entry: &Map<String, Value>, round: Round) -> (Vec<Field>, Vec<Reference>) {
    let mut fields = Vec::new();
    let mut references = Vec::new();
    for (path, property) in mapping.entries() {
        let Some(value) = property_value(entry, property, round) else { continue };
        if property == MANAGER_PROPERTY {
            let key = value.as_str().map(str::to_owned);
            references.push(Reference { name: property.to_owned(), path: path.to_owned(), key });
            continue;
        }
        let has_value = !value.is_null();
        fields.push(Field { name: property.to_owned(), path: path.to_owned(), value });
        if path == EMAIL_VALUE_PATH && has_value {
            fields.push(Field { name: property.to_owned(), path: EMAIL_PRIMARY_PATH.to_owned(), value: true.into() });
        }
    }
    (fields, references)
}

/// The property's value (null: none), or None when an incremental round did not send it.
fn property_value(entry: &Map<String, Value>, property: &str, round: Round) -> Option<Value> {
    let absent = || (round == Round::Full).then_some(Value::Null);
    if property == MANAGER_PROPERTY {
        // Delta: `manager@delta: [{id}]`, or `[{id, @removed}]` once the manager is gone; `$expand`: `manager: {id}`.
        return match (entry.get(MANAGER_DELTA), entry.get(MANAGER_PROPERTY)) {
            (Some(Value::Array(changes)), _) => {
                let current = changes.iter().filter_map(Value::as_object).find(|m| !is_removed(m));
                Some(current.and_then(id_of).map_or(Value::Null, |id| Value::String(id.to_owned())))
            }
            (_, Some(manager)) => Some(manager.get("id").cloned().filter(Value::is_string).unwrap_or(Value::Null)),
            _ => absent(),
        };
    }
    let Some(mut value) = entry.get(top_level(property)) else { return absent() };
    for part in property.split('.').skip(1) {
        match value.get(part) {
            Some(inner) => value = inner,
            None => return Some(Value::Null),
        }
    }
    Some(scalar(value))
}

/// Strings, booleans and numbers as they are; a list's first element (`businessPhones`); objects
/// have no SCIM value here.
fn scalar(value: &Value) -> Value {
    match value {
        Value::Array(values) => values.first().map(scalar).unwrap_or(Value::Null),
        Value::Object(_) => Value::Null,
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::{Round, member_of, user_item};
    use crate::azure::mapping::default_user_mapping;
    use crate::{Correlation, MemberRef, SourceItem};

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    const MANAGER_PATH: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";

    /// A record's fields as (path, value), and its references as (path, key).
    type Values = (Vec<(String, Value)>, Vec<(String, Option<String>)>);

    fn values(item: SourceItem) -> Values {
        match item {
            SourceItem::Record(record) => (
                record.fields.into_iter().map(|f| (f.path, f.value)).collect(),
                record.references.into_iter().map(|r| (r.path, r.key)).collect(),
            ),
            other => panic!("expected a record, got {other:?}"),
        }
    }

    fn user(entry: Value, round: Round) -> Values {
        values(user_item(&default_user_mapping(), &object(entry), round))
    }

    fn value(fields: &[(String, Value)], path: &str) -> Option<Value> {
        fields.iter().find(|(p, _)| p.ends_with(path)).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_full_round_maps_every_property_and_nulls_the_absent_ones() {
        let entry = object(json!({
            "id": "u1", "userPrincipalName": "ana@contoso.com", "accountEnabled": false, "mail": "Ana@contoso.com",
            "jobTitle": null, "signInActivity": {"lastSignInDateTime": "2026-11-01T08:00:00Z"},
            "manager@delta": [{"@odata.type": "#microsoft.graph.user", "id": "boss"}]
        }));
        let item = user_item(&default_user_mapping(), &entry, Round::Full);
        if let SourceItem::Record(record) = &item {
            assert_eq!(
                record.correlate,
                [Correlation::Email("Ana@contoso.com".into()), Correlation::UserName("ana@contoso.com".into())]
            );
        }
        let (fields, references) = values(item);
        assert_eq!(value(&fields, "userName"), Some(json!("ana@contoso.com")));
        assert_eq!(value(&fields, "active"), Some(json!(false)));
        assert_eq!(value(&fields, "title"), Some(Value::Null));
        assert_eq!(value(&fields, "name.givenName"), Some(Value::Null), "absent in a full round: no value");
        assert_eq!(value(&fields, ".primary"), Some(json!(true)));
        assert_eq!(value(&fields, "lastAccess"), Some(json!("2026-11-01T08:00:00Z")));
        assert_eq!(value(&fields, "manager.value"), None, "the manager is no literal value");
        assert_eq!(references, [(MANAGER_PATH.to_owned(), Some("boss".to_owned()))], "but the user with key boss");
    }

    #[test]
    fn an_incremental_round_leaves_out_what_it_did_not_send() {
        let (fields, references) = user(json!({"id": "u1", "jobTitle": "Chief"}), Round::Incremental);
        assert_eq!(value(&fields, "title"), Some(json!("Chief")));
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert!(references.is_empty(), "the manager was not sent, so it is left alone: {references:?}");
    }

    #[test]
    fn a_removed_or_missing_manager_is_a_reference_to_no_one() {
        let removed = json!({"id": "u1", "manager@delta": [{"id": "boss", "@removed": {"reason": "deleted"}}]});
        let none = vec![(MANAGER_PATH.to_owned(), None)];
        assert_eq!(user(removed, Round::Incremental).1, none, "a removed manager is cleared");
        assert_eq!(user(json!({"id": "u1"}), Round::Full).1, none, "no manager in a full round");
        let changed = json!({"id": "u1", "manager@delta": [{"id": "old", "@removed": {}}, {"id": "new"}]});
        assert_eq!(user(changed, Round::Incremental).1, [(MANAGER_PATH.to_owned(), Some("new".to_owned()))]);
        let expanded = json!({"id": "u1", "manager": {"@odata.type": "#microsoft.graph.user", "id": "boss"}});
        assert_eq!(user(expanded, Round::Full).1, [(MANAGER_PATH.to_owned(), Some("boss".to_owned()))]);
    }

    #[test]
    fn removed_entries_are_deletions() {
        let entry = object(json!({"id": "u1", "@removed": {"reason": "changed"}}));
        assert_eq!(
            user_item(&default_user_mapping(), &entry, Round::Incremental),
            SourceItem::Deleted { kind: crate::RecordKind::User, key: "u1".into() }
        );
        let nameless = object(json!({"userPrincipalName": "x@y"}));
        assert!(matches!(user_item(&default_user_mapping(), &nameless, Round::Full), SourceItem::Rejected(_)));
    }

    #[test]
    fn members_are_users_and_groups_only() {
        let user = object(json!({"@odata.type": "#microsoft.graph.user", "id": "u1"}));
        assert_eq!(member_of(&user), Some((MemberRef::SourceKey("u1".into()), false)));
        let gone =
            object(json!({"@odata.type": "#microsoft.graph.group", "id": "g1", "@removed": {"reason": "deleted"}}));
        assert_eq!(member_of(&gone), Some((MemberRef::SourceKey("g1".into()), true)));
        assert_eq!(member_of(&object(json!({"@odata.type": "#microsoft.graph.device", "id": "d1"}))), None);
    }
}
