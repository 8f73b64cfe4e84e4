//! Google's users and groups become records: the mapped fields (null where Google has no value,
//! so the engine clears it), the immutable `id` as the key, and a group's members by their ids.
//!
//! Suspended and archived users cannot sign in, so both are inactive; which of the two, and
//! Google's suspension reason, become the user's `deactivationReason`, where admins see it
//! without the connector writing any field they own.

use serde_json::Value;

use super::config::GoogleConfig;
use super::mapping::{EMAIL_PRIMARY_PATH, EMAIL_VALUE_PATH, Mapping};
use crate::{Correlation, DEACTIVATION_REASON_PATH, Field, MemberRef, Record, RecordKind, Rejected, SourceItem};

/// Member types that name a record of the run; `CUSTOMER` (everyone in the account) and
/// `EXTERNAL` (an address outside the account) name none.
const MEMBER_TYPES: [&str; 2] = ["USER", "GROUP"];

pub(super) struct RecordReader<'c> {
    config: &'c GoogleConfig,
}

impl<'c> RecordReader<'c> {
    pub(super) fn new(config: &'c GoogleConfig) -> Self {
        Self { config }
    }

    pub(super) fn user_item(&self, user: &Value) -> SourceItem {
        let mut fields = fields(user, &self.config.user_mapping);
        if let Some((flag, reason)) = disabled(user)
            && let Some(active) = fields.iter_mut().find(|field| field.path == "active")
        {
            if flag == "archived" {
                active.name = flag.to_owned();
            }
            active.value = Value::Bool(false);
            let name = active.name.clone();
            fields.push(Field { name, path: DEACTIVATION_REASON_PATH.to_owned(), value: reason.into() });
        }
        let value_of = |path: &str| fields.iter().find(|field| field.path == path).and_then(|f| f.value.as_str());
        let correlate: Vec<Correlation> = [
            user.get("primaryEmail").and_then(Value::as_str).map(|email| Correlation::Email(email.to_owned())),
            value_of("userName").map(|name| Correlation::UserName(name.to_owned())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match key(user) {
            Some(key) => SourceItem::Record(Record {
                kind: RecordKind::User,
                key,
                name: None,
                fields,
                correlate,
                references: Vec::new(),
                groups: None,
                members: None,
                origin: None,
            }),
            None => key_missing(RecordKind::User, user, correlate),
        }
    }

    /// `members` are the group's `members.list` elements, all pages.
    pub(super) fn group_item(&self, group: &Value, members: &[Value]) -> SourceItem {
        let correlate: Vec<Correlation> = group
            .get("email")
            .and_then(Value::as_str)
            .map(|email| Correlation::ExternalId(email.to_owned()))
            .into_iter()
            .collect();
        let Some(key) = key(group) else {
            return key_missing(RecordKind::Group, group, correlate);
        };
        let members = members
            .iter()
            .filter(|member| {
                member.get("type").and_then(Value::as_str).is_some_and(|kind| MEMBER_TYPES.contains(&kind))
            })
            .filter_map(|member| member.get("id").and_then(Value::as_str))
            .map(|id| MemberRef::SourceKey(id.to_owned()))
            .collect();
        SourceItem::Record(Record {
            kind: RecordKind::Group,
            key,
            name: None,
            fields: fields(group, &self.config.group_mapping),
            correlate,
            references: Vec::new(),
            groups: None,
            members: Some(members),
            origin: None,
        })
    }
}

fn key(resource: &Value) -> Option<String> {
    resource.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()).map(str::to_owned)
}

/// Whether Google keeps the user from signing in: the field that says so and the reason to show.
fn disabled(user: &Value) -> Option<(&'static str, String)> {
    let flag = |name: &str| user.get(name).and_then(Value::as_bool) == Some(true);
    if flag("archived") {
        return Some(("archived", "archived in Google Workspace".to_owned()));
    }
    if flag("suspended") {
        let reason = match user.get("suspensionReason").and_then(Value::as_str) {
            Some(why) if !why.is_empty() => format!("suspended in Google Workspace ({why})"),
            _ => "suspended in Google Workspace".to_owned(),
        };
        return Some(("suspended", reason));
    }
    None
}

fn fields(resource: &Value, mapping: &Mapping) -> Vec<Field> {
    let mut fields = Vec::new();
    for (path, source) in mapping.entries() {
        let value = source.read(resource).unwrap_or(Value::Null);
        let has_value = !value.is_null();
        fields.push(Field { name: source.text().to_owned(), path: path.to_owned(), value });
        if path == EMAIL_VALUE_PATH && has_value {
            fields.push(Field {
                name: source.text().to_owned(),
                path: EMAIL_PRIMARY_PATH.to_owned(),
                value: true.into(),
            });
        }
    }
    fields
}

fn key_missing(kind: RecordKind, resource: &Value, correlate: Vec<Correlation>) -> SourceItem {
    let named = resource.get("primaryEmail").or(resource.get("email")).and_then(Value::as_str).unwrap_or("an entry");
    let error = format!("KEY_MISSING ({named} has no id)");
    SourceItem::Rejected(Rejected { kind, correlate, errors: vec![error], origin: None })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::RecordReader;
    use crate::google::GoogleConfig;
    use crate::{Correlation, MemberRef, Record, RecordKind, SourceItem};

    fn config() -> GoogleConfig {
        GoogleConfig::from_value(json!({"keyFile": "/k", "adminEmail": "admin@example.com"})).unwrap()
    }

    fn record(item: SourceItem) -> Record {
        match item {
            SourceItem::Record(record) => record,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    fn value<'r>(record: &'r Record, path: &str) -> &'r Value {
        &record.fields.iter().find(|field| field.path.ends_with(path)).unwrap_or_else(|| panic!("no {path}")).value
    }

    #[test]
    fn maps_a_user_with_nulls_for_what_google_lacks() {
        let config = config();
        let user = json!({
            "kind": "admin#directory#user", "id": "1001", "primaryEmail": "ana@example.com",
            "name": {"givenName": "Ana", "familyName": "Kim", "fullName": "Ana Kim"},
            "suspended": false, "archived": false, "lastLoginTime": "2026-11-02T08:15:00.000Z",
            "organizations": [{"title": "Engineer", "department": "R&D", "primary": true}],
        });
        let record = record(RecordReader::new(&config).user_item(&user));
        assert_eq!((record.kind, record.key.as_str()), (RecordKind::User, "1001"));
        let fields: Vec<_> = record.fields.iter().map(|f| (f.name.as_str(), f.value.clone())).collect();
        assert_eq!(
            fields,
            [
                ("primaryEmail", json!("ana@example.com")),
                ("name.fullName", json!("Ana Kim")),
                ("name.givenName", json!("Ana")),
                ("name.familyName", json!("Kim")),
                ("primaryEmail", json!("ana@example.com")),
                ("primaryEmail", json!(true)),
                ("!suspended", json!(true)),
                ("organizations[primary].title", json!("Engineer")),
                ("organizations[primary].department", json!("R&D")),
                ("externalIds[type=organization].value", Value::Null),
                ("phones[type=work].value", Value::Null),
                ("lastLoginTime", json!("2026-11-02T08:15:00.000Z")),
            ]
        );
        assert_eq!(
            record.correlate,
            [Correlation::Email("ana@example.com".into()), Correlation::UserName("ana@example.com".into())]
        );
    }

    #[test]
    fn suspended_and_archived_users_are_inactive_with_the_reason() {
        let config = config();
        let reader = RecordReader::new(&config);
        let suspended =
            json!({"id": "1", "primaryEmail": "a@example.com", "suspended": true, "suspensionReason": "ADMIN"});
        let suspended = record(reader.user_item(&suspended));
        assert_eq!(value(&suspended, "active"), &json!(false));
        assert_eq!(value(&suspended, ":deactivationReason"), &json!("suspended in Google Workspace (ADMIN)"));
        let archived = json!({"id": "2", "primaryEmail": "b@example.com", "suspended": false, "archived": true});
        let archived = record(reader.user_item(&archived));
        let active = archived.fields.iter().find(|f| f.path == "active").unwrap();
        assert_eq!((active.name.as_str(), &active.value), ("archived", &json!(false)));
        assert_eq!(value(&archived, ":deactivationReason"), &json!("archived in Google Workspace"));
        let active_user =
            record(reader.user_item(&json!({"id": "3", "primaryEmail": "c@example.com", "suspended": false})));
        assert_eq!(value(&active_user, "active"), &json!(true));
        assert!(active_user.fields.iter().all(|f| !f.path.ends_with("deactivationReason")));
    }

    #[test]
    fn groups_name_users_and_groups_by_id_and_skip_the_rest() {
        let config = config();
        let group = json!({"kind": "admin#directory#group", "id": "g1", "email": "staff@example.com", "name": "Staff"});
        let members = [
            json!({"id": "1001", "email": "ana@example.com", "type": "USER", "role": "MEMBER", "status": "ACTIVE"}),
            json!({"id": "g2", "email": "eng@example.com", "type": "GROUP", "role": "MEMBER"}),
            json!({"id": "C0abc", "type": "CUSTOMER", "role": "MEMBER"}),
            json!({"id": "9", "email": "x@elsewhere.org", "type": "EXTERNAL", "role": "MEMBER"}),
        ];
        let record = record(RecordReader::new(&config).group_item(&group, &members));
        assert_eq!(
            record.members.clone().unwrap(),
            [MemberRef::SourceKey("1001".into()), MemberRef::SourceKey("g2".into())]
        );
        assert_eq!(value(&record, "displayName"), &json!("Staff"));
        assert_eq!(value(&record, "externalId"), &json!("staff@example.com"));
        assert_eq!(record.correlate, [Correlation::ExternalId("staff@example.com".into())]);
    }

    #[test]
    fn an_entry_without_id_is_rejected() {
        let config = config();
        match RecordReader::new(&config).user_item(&json!({"primaryEmail": "x@example.com"})) {
            SourceItem::Rejected(rejected) => assert_eq!(rejected.errors, ["KEY_MISSING (x@example.com has no id)"]),
            other => panic!("{other:?}"),
        }
    }
}
