//! The fixtures: a slapd per test with LDIF for its entries, one Samba AD domain controller shared
//! by the tests, an in-process fake AD, and reads through the connector.

pub mod fake_ad;
pub mod samba_ad;
pub mod slapd;

use futures_util::{StreamExt, TryStreamExt};
use ldap3::{Ldap, LdapConnAsync};
use scimd_connectors::ldap::{LdapConfig, LdapSource};
use scimd_connectors::{Connector, ConnectorError, Record, RecordKind, SourceItem};
use serde_json::{Value, json};

pub use slapd::Slapd;

pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const GROUPS: &str = "ou=groups,dc=example,dc=com";

pub fn user_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE}")
}

pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},{GROUPS}")
}

/// An inetOrgPerson; `groups` become its memberOf, which slapadd does not maintain.
pub fn user_ldif(uid: &str, given_name: &str, family_name: &str, groups: &[&str]) -> String {
    let mut ldif = format!(
        "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {given_name} {family_name}\ngivenName: {given_name}\n\
         sn: {family_name}\nmail: {uid}@example.com\ntitle: Engineer\n",
        user_dn(uid)
    );
    for group in groups {
        ldif.push_str(&format!("memberOf: {}\n", group_dn(group)));
    }
    ldif + "\n"
}

pub fn group_ldif(cn: &str, member_uids: &[&str]) -> String {
    let mut ldif = format!("dn: {}\nobjectClass: groupOfNames\ncn: {cn}\n", group_dn(cn));
    for uid in member_uids {
        ldif.push_str(&format!("member: {}\n", user_dn(uid)));
    }
    ldif + "\n"
}

/// The reader's configuration, `overrides` merged over it.
pub fn reader_config(slapd: &Slapd, overrides: Value) -> LdapConfig {
    let password_file = slapd.write_file("reader-password", "reader\n");
    let mut config = json!({
        "url": slapd.url,
        "bindDn": "cn=reader,dc=example,dc=com",
        "bindPasswordFile": password_file,
        "users": {"base": PEOPLE},
        "groups": {"base": GROUPS},
        "timeoutSeconds": 5,
    });
    for (key, value) in overrides.as_object().expect("overrides are an object") {
        config[key] = value.clone();
    }
    LdapConfig::from_value(config).expect("a valid configuration")
}

pub async fn read_all(source: &mut LdapSource, cursor: Option<&str>) -> Result<Vec<SourceItem>, ConnectorError> {
    source.read(cursor).try_collect().await
}

/// A read that must fail: the items yielded before the error, and the error.
pub async fn read_until_error(source: &mut LdapSource) -> (Vec<SourceItem>, ConnectorError) {
    let mut items = Vec::new();
    let mut stream = source.read(None);
    while let Some(item) = stream.next().await {
        match item {
            Ok(item) => items.push(item),
            Err(error) => return (items, error),
        }
    }
    panic!("the read ended without an error after {} items", items.len())
}

pub fn records(items: &[SourceItem], kind: RecordKind) -> Vec<&Record> {
    items
        .iter()
        .filter_map(|item| match item {
            SourceItem::Record(record) if record.kind == kind => Some(record),
            _ => None,
        })
        .collect()
}

/// The kind of each item, in order; the items must all be records.
pub fn record_kinds(items: &[SourceItem]) -> Vec<RecordKind> {
    items
        .iter()
        .map(|item| match item {
            SourceItem::Record(record) => record.kind,
            other => panic!("expected records only, got {other:?}"),
        })
        .collect()
}

pub fn field<'r>(record: &'r Record, path: &str) -> Option<&'r Value> {
    record.fields.iter().find(|field| field.path == path).map(|field| &field.value)
}

pub fn user_names(items: &[SourceItem]) -> Vec<String> {
    let mut names: Vec<String> = records(items, RecordKind::User)
        .into_iter()
        .filter_map(|record| field(record, "userName")?.as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// A connection bound as the directory's administrator, for changing entries.
pub async fn admin(slapd: &Slapd) -> Ldap {
    let (connection, mut ldap) = LdapConnAsync::new(&slapd.url).await.expect("slapd answers");
    ldap3::drive!(connection);
    ldap.simple_bind("cn=admin,dc=example,dc=com", "secret").await.unwrap().success().unwrap();
    ldap
}
