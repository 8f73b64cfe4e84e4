//! What an audit event says changed (DESIGN.md §5): the top-level attributes that differ, each with
//! its old and new value, secrets redacted. Writers compute it from the documents they already
//! hold; the store appends it in the transaction of the change (`store::audit`).

pub mod export;

use serde_json::{Map, Value, json};

/// What a secret's value becomes in the log.
pub const REDACTED: &str = "[redacted]";

/// Attributes kept by the server, not set by any writer: `meta` changes on every write.
const NOT_RECORDED: [&str; 3] = ["schemas", "meta", "id"];

/// Whether an attribute holds a secret (a password, a client secret).
fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("password") || name.contains("secret")
}

/// `value` with every secret attribute, at any depth, replaced by `REDACTED`.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| (key.clone(), if is_secret(key) { json!(REDACTED) } else { redact(v) }))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn recorded(key: &str, value: &Value) -> Value {
    if is_secret(key) { json!(REDACTED) } else { redact(value) }
}

/// `{attr: {"old": …, "new": …}}` for every top-level attribute that differs between two
/// documents (`Null` stands for none); an absent side is left out.
pub fn diff(old: &Value, new: &Value) -> Value {
    let empty = Map::new();
    let (old, new) = (old.as_object().unwrap_or(&empty), new.as_object().unwrap_or(&empty));
    let mut changes = Map::new();
    for key in old.keys().chain(new.keys().filter(|k| !old.contains_key(*k))) {
        let (before, after) = (old.get(key), new.get(key));
        if before == after || NOT_RECORDED.contains(&key.as_str()) {
            continue;
        }
        let mut entry = Map::new();
        if let Some(before) = before {
            entry.insert("old".to_owned(), recorded(key, before));
        }
        if let Some(after) = after {
            entry.insert("new".to_owned(), recorded(key, after));
        }
        changes.insert(key.clone(), Value::Object(entry));
    }
    Value::Object(changes)
}

/// The changes of a new resource: each of its attributes, new.
pub fn created(doc: &Value) -> Value {
    diff(&Value::Null, doc)
}

/// The changes of a deleted resource: each of its attributes, old.
pub fn deleted(doc: &Value) -> Value {
    diff(doc, &Value::Null)
}

/// `deleted` of a stored document's text.
pub fn deleted_text(doc: &str) -> Value {
    deleted(&serde_json::from_str(doc).unwrap_or(Value::Null))
}

/// Adds a password change (never its value) to `changes`.
pub fn with_password(mut changes: Value, password_set: bool) -> Value {
    if password_set && let Some(map) = changes.as_object_mut() {
        map.insert("password".to_owned(), json!({ "new": REDACTED }));
    }
    changes
}

/// `{"members": {"added": [...], "removed": [...]}}`, the empty sides left out.
pub fn members(added: &[String], removed: &[String]) -> Value {
    let mut entry = Map::new();
    if !added.is_empty() {
        entry.insert("added".to_owned(), json!(added));
    }
    if !removed.is_empty() {
        entry.insert("removed".to_owned(), json!(removed));
    }
    json!({ "members": entry })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_changed_added_and_removed_attributes_only() {
        let old = json!({"id": "1", "userName": "a", "title": "x", "active": true, "meta": {"version": 1}});
        let new = json!({"id": "1", "userName": "b", "active": true, "nickName": "n", "meta": {"version": 2}});
        assert_eq!(
            diff(&old, &new),
            json!({
                "userName": {"old": "a", "new": "b"},
                "title": {"old": "x"},
                "nickName": {"new": "n"},
            })
        );
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let new = json!({"password": "p", "urn:ext": {"clientSecret": "s", "team": "t"}, "name": {"givenName": "g"}});
        assert_eq!(
            created(&new),
            json!({
                "password": {"new": REDACTED},
                "urn:ext": {"new": {"clientSecret": REDACTED, "team": "t"}},
                "name": {"new": {"givenName": "g"}},
            })
        );
        assert_eq!(with_password(json!({}), true), json!({"password": {"new": REDACTED}}));
        assert_eq!(with_password(json!({}), false), json!({}));
    }

    #[test]
    fn a_deletion_records_every_attribute_as_old() {
        let doc = json!({"id": "1", "userName": "a", "password": "p", "meta": {"version": 3}});
        let expected = json!({"userName": {"old": "a"}, "password": {"old": REDACTED}});
        assert_eq!(deleted(&doc), expected);
        assert_eq!(deleted_text(&doc.to_string()), expected);
    }

    #[test]
    fn members_lists_only_the_sides_that_changed() {
        assert_eq!(members(&["a".into()], &[]), json!({"members": {"added": ["a"]}}));
        assert_eq!(members(&[], &["b".into()]), json!({"members": {"removed": ["b"]}}));
    }
}
