//! Directory entries become records: the mapped attributes as fields, the key attribute as the key,
//! the normalized DN as the name, and a group's members by DN or by `memberUid`.

use ldap3::SearchEntry;
use serde_json::Value;

use super::ad;
use super::config::LdapConfig;
use super::dn::normalize_dn;
use super::mapping::{EMAIL_PRIMARY_PATH, EMAIL_VALUE_PATH, Mapping};
use crate::{Correlation, Field, MemberRef, Record, RecordKind, Rejected, SourceItem};

/// Group attributes that name members by DN (`uniqueMember` may add `#'…'B` after it).
const DN_MEMBER_ATTRIBUTES: [&str; 2] = ["member", "uniqueMember"];
/// posixGroup members, by user name.
const UID_MEMBER_ATTRIBUTE: &str = "memberUid";
const ACCOUNT_CONTROL_ATTRIBUTE: &str = "userAccountControl";

pub(super) struct EntryReader<'c> {
    config: &'c LdapConfig,
}

impl<'c> EntryReader<'c> {
    pub(super) fn new(config: &'c LdapConfig) -> Self {
        Self { config }
    }

    /// What a user search asks for; `extra` adds the attributes that track changes.
    pub(super) fn user_attributes(&self, extra: &[&str]) -> Vec<String> {
        self.attributes(&self.config.user_mapping, extra)
    }

    /// What a group search asks for; `member_request` is how `member` is asked for (AD: a range).
    pub(super) fn group_attributes(&self, member_request: &str, extra: &[&str]) -> Vec<String> {
        let mut attributes = self.attributes(&self.config.group_mapping, extra);
        attributes.extend([member_request, DN_MEMBER_ATTRIBUTES[1], UID_MEMBER_ATTRIBUTE].map(str::to_owned));
        attributes
    }

    fn attributes(&self, mapping: &Mapping, extra: &[&str]) -> Vec<String> {
        let mut attributes = vec![self.config.key_attribute.clone()];
        for attribute in mapping.entries().map(|(_, attribute)| attribute).chain(extra.iter().copied()) {
            if !attributes.iter().any(|known| known.eq_ignore_ascii_case(attribute)) {
                attributes.push(attribute.to_owned());
            }
        }
        attributes
    }

    pub(super) fn user_item(&self, entry: &SearchEntry) -> SourceItem {
        let key = self.key(entry);
        let fields = self.fields(entry, &self.config.user_mapping, key.as_deref());
        let value_of = |path: &str| fields.iter().find(|field| field.path == path).and_then(|f| f.value.as_str());
        let correlate: Vec<Correlation> = [
            value_of(EMAIL_VALUE_PATH).map(|email| Correlation::Email(email.to_owned())),
            value_of("userName").map(|name| Correlation::UserName(name.to_owned())),
        ]
        .into_iter()
        .flatten()
        .collect();
        match key {
            Some(key) => SourceItem::Record(Record {
                kind: RecordKind::User,
                key,
                name: Some(normalize_dn(&entry.dn)),
                fields,
                correlate,
                references: Vec::new(),
                groups: None,
                members: None,
                origin: None,
            }),
            None => self.key_missing(RecordKind::User, entry, correlate),
        }
    }

    /// `member_dns` are the group's `member` values, gathered by the caller (AD hands them out in
    /// ranges); `uniqueMember` and `memberUid` are read from the entry.
    pub(super) fn group_item(&self, entry: &SearchEntry, member_dns: &[String]) -> SourceItem {
        let Some(key) = self.key(entry) else {
            return self.key_missing(RecordKind::Group, entry, Vec::new());
        };
        let unique_members = values(entry, DN_MEMBER_ATTRIBUTES[1]).iter().map(|value| strip_unique_id(value));
        let mut members: Vec<MemberRef> = member_dns
            .iter()
            .map(String::as_str)
            .chain(unique_members)
            .map(|dn| MemberRef::SourceName(normalize_dn(dn)))
            .collect();
        members.extend(values(entry, UID_MEMBER_ATTRIBUTE).iter().map(|uid| MemberRef::UserName(uid.clone())));
        SourceItem::Record(Record {
            kind: RecordKind::Group,
            fields: self.fields(entry, &self.config.group_mapping, Some(&key)),
            key,
            name: Some(normalize_dn(&entry.dn)),
            correlate: Vec::new(),
            references: Vec::new(),
            groups: None,
            members: Some(members),
            origin: None,
        })
    }

    /// The key attribute's value: an objectGUID (or another binary key) in a GUID's canonical
    /// text, anything else as it is.
    pub(super) fn key(&self, entry: &SearchEntry) -> Option<String> {
        let attribute = &self.config.key_attribute;
        let text = values(entry, attribute).first();
        let binary = || entry.bin_attrs.iter().find(|(name, _)| name.eq_ignore_ascii_case(attribute))?.1.first();
        if attribute.eq_ignore_ascii_case(ad::OBJECT_GUID) {
            // ldap3 hands a binary value over as text when its bytes happen to be valid UTF-8.
            let bytes = text.map(String::as_bytes).or_else(|| binary().map(Vec::as_slice))?;
            return ad::guid_string(bytes);
        }
        text.cloned().or_else(|| ad::guid_string(binary()?))
    }

    fn fields(&self, entry: &SearchEntry, mapping: &Mapping, key: Option<&str>) -> Vec<Field> {
        let mut fields = Vec::new();
        for (path, attribute) in mapping.entries() {
            let value = if attribute.eq_ignore_ascii_case(&self.config.key_attribute) {
                key.map(|key| Value::String(key.to_owned()))
            } else {
                values(entry, attribute).first().map(|value| field_value(path, attribute, value))
            };
            // No value: the engine clears what the path holds, so a value removed here goes there too.
            let value = value.unwrap_or(Value::Null);
            let has_value = !value.is_null();
            fields.push(Field { name: attribute.to_owned(), path: path.to_owned(), value });
            if path == EMAIL_VALUE_PATH && has_value {
                fields.push(Field {
                    name: attribute.to_owned(),
                    path: EMAIL_PRIMARY_PATH.to_owned(),
                    value: true.into(),
                });
            }
        }
        fields
    }

    fn key_missing(&self, kind: RecordKind, entry: &SearchEntry, correlate: Vec<Correlation>) -> SourceItem {
        let error = format!("KEY_MISSING ({} has no {})", entry.dn, self.config.key_attribute);
        SourceItem::Rejected(Rejected { kind, correlate, errors: vec![error], origin: None })
    }
}

/// `active` takes booleans: from `userAccountControl`'s disable bit, or an LDAP boolean.
fn field_value(path: &str, attribute: &str, value: &str) -> Value {
    if path == "active" {
        let active = if attribute.eq_ignore_ascii_case(ACCOUNT_CONTROL_ATTRIBUTE) {
            ad::active_from_account_control(value)
        } else {
            match value {
                "TRUE" => Some(true),
                "FALSE" => Some(false),
                _ => None,
            }
        };
        if let Some(active) = active {
            return active.into();
        }
    }
    Value::String(value.to_owned())
}

/// An attribute's text values, its name compared case-insensitively (servers answer with the
/// schema's spelling, not the request's).
pub(super) fn values<'e>(entry: &'e SearchEntry, attribute: &str) -> &'e [String] {
    entry.attrs.iter().find(|(name, _)| name.eq_ignore_ascii_case(attribute)).map_or(&[], |(_, values)| values)
}

/// A `uniqueMember` value without its optional `#'0101'B` unique identifier.
fn strip_unique_id(value: &str) -> &str {
    match value.rfind('#') {
        Some(at) if value[at + 1..].starts_with('\'') && value.ends_with("'B") => &value[..at],
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ldap3::SearchEntry;
    use serde_json::{Value, json};

    use super::{EntryReader, strip_unique_id};
    use crate::ldap::LdapConfig;
    use crate::{Correlation, MemberRef, RecordKind, SourceItem};

    fn entry(dn: &str, attrs: &[(&str, &[&str])], bin_attrs: &[(&str, Vec<u8>)]) -> SearchEntry {
        let text = |values: &[&str]| values.iter().map(|value| (*value).to_owned()).collect();
        SearchEntry {
            dn: dn.to_owned(),
            attrs: attrs.iter().map(|(name, values)| ((*name).to_owned(), text(values))).collect(),
            bin_attrs: bin_attrs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), vec![value.clone()]))
                .collect::<HashMap<_, _>>(),
        }
    }

    fn config(flavor: &str) -> LdapConfig {
        LdapConfig::from_value(json!({"url": "ldap://h", "flavor": flavor, "users": {"base": "dc=x"}})).unwrap()
    }

    fn record(item: SourceItem) -> crate::Record {
        match item {
            SourceItem::Record(record) => record,
            other => panic!("expected a record, got {other:?}"),
        }
    }

    #[test]
    fn maps_an_openldap_user() {
        let config = config("openldap");
        let user = entry(
            "uid=Ana,OU=people, dc=x",
            &[
                ("entryUUID", &["5f0c-uuid"]),
                ("uid", &["ana"]),
                ("cn", &["Ana Kim"]),
                ("sn", &["Kim"]),
                ("mail", &["ana@example.com", "ana.kim@example.com"]),
            ],
            &[],
        );
        let record = record(EntryReader::new(&config).user_item(&user));
        assert_eq!((record.kind, record.key.as_str()), (RecordKind::User, "5f0c-uuid"));
        assert_eq!(record.name.as_deref(), Some("uid=ana,ou=people,dc=x"));
        let fields: Vec<_> =
            record.fields.iter().map(|f| (f.name.as_str(), f.path.as_str(), f.value.clone())).collect();
        assert_eq!(
            fields,
            [
                ("uid", "userName", json!("ana")),
                ("cn", "displayName", json!("Ana Kim")),
                ("givenName", "name.givenName", Value::Null),
                ("sn", "name.familyName", json!("Kim")),
                ("mail", r#"emails[type eq "work"].value"#, json!("ana@example.com")),
                ("mail", r#"emails[type eq "work"].primary"#, json!(true)),
                ("title", "title", Value::Null),
                ("telephoneNumber", r#"phoneNumbers[type eq "work"].value"#, Value::Null),
            ],
            "attributes the entry lacks are null, so the engine clears them"
        );
        assert_eq!(
            record.correlate,
            [Correlation::Email("ana@example.com".into()), Correlation::UserName("ana".into())]
        );
    }

    #[test]
    fn maps_an_active_directory_user_with_guid_key_and_account_control() {
        let config = config("activeDirectory");
        let guid = vec![0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let user = entry(
            "CN=Kim\\, Ana,OU=Staff,DC=example,DC=com",
            &[("userPrincipalName", &["ana@example.com"]), ("userAccountControl", &["514"])],
            &[("objectGUID", guid)],
        );
        let record = record(EntryReader::new(&config).user_item(&user));
        assert_eq!(record.key, "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(record.name.as_deref(), Some("cn=kim\\, ana,ou=staff,dc=example,dc=com"));
        let active = record.fields.iter().find(|f| f.path == "active").unwrap();
        assert_eq!((active.name.as_str(), &active.value), ("userAccountControl", &json!(false)));
    }

    #[test]
    fn an_object_guid_whose_bytes_are_valid_utf8_is_still_a_guid() {
        let config = config("activeDirectory");
        let user = entry("CN=a,DC=x", &[("objectGUID", &["ABCDEFGHIJKLMNOP"]), ("userPrincipalName", &["a@x"])], &[]);
        let record = record(EntryReader::new(&config).user_item(&user));
        assert_eq!(record.key, "44434241-4645-4847-494a-4b4c4d4e4f50");
    }

    #[test]
    fn an_entry_without_its_key_is_rejected_with_its_dn() {
        let config = config("openldap");
        let item = EntryReader::new(&config).user_item(&entry("uid=x,dc=x", &[("uid", &["x"])], &[]));
        match item {
            SourceItem::Rejected(rejected) => {
                assert_eq!(rejected.errors, ["KEY_MISSING (uid=x,dc=x has no entryUUID)"]);
                assert_eq!(rejected.correlate, [Correlation::UserName("x".into())]);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn groups_name_members_by_normalized_dn_or_user_name() {
        let config = config("openldap");
        let group = entry(
            "cn=Staff,ou=groups,dc=x",
            &[
                ("entryUUID", &["g-1"]),
                ("cn", &["Staff"]),
                ("uniqueMember", &["uid=B,dc=x#'0101'B"]),
                ("memberUid", &["carl"]),
            ],
            &[],
        );
        let record = record(EntryReader::new(&config).group_item(&group, &["UID=a, dc=x".to_owned()]));
        assert_eq!(record.kind, RecordKind::Group);
        assert_eq!(
            record.members.unwrap(),
            [
                MemberRef::SourceName("uid=a,dc=x".into()),
                MemberRef::SourceName("uid=b,dc=x".into()),
                MemberRef::UserName("carl".into()),
            ]
        );
        assert_eq!(record.fields[0].path, "displayName");
    }

    #[test]
    fn strips_unique_member_identifiers_only() {
        assert_eq!(strip_unique_id("uid=a,dc=x#'0101'B"), "uid=a,dc=x");
        assert_eq!(strip_unique_id(r"cn=a\#b,dc=x"), r"cn=a\#b,dc=x");
    }
}
