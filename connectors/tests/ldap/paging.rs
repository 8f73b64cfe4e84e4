use ldap3::{LdapConnAsync, Scope};
use scimd_connectors::RecordKind;
use scimd_connectors::ldap::LdapSource;
use serde_json::json;

use crate::support::{PEOPLE, Slapd, read_all, reader_config, records, user_ldif};

const USERS: usize = 1500;

fn many_users() -> String {
    (0..USERS).map(|n| user_ldif(&format!("user{n:05}"), "User", &format!("{n:05}"), &[])).collect()
}

#[tokio::test]
async fn a_paged_read_returns_every_user_past_the_readers_size_limit() {
    let Some(slapd) = Slapd::start(&many_users()) else { return };

    // The fixture's limit is real: an unpaged search as the reader stops at 1000 entries.
    let (connection, mut ldap) = LdapConnAsync::new(&slapd.url).await.unwrap();
    ldap3::drive!(connection);
    ldap.simple_bind("cn=reader,dc=example,dc=com", "reader").await.unwrap().success().unwrap();
    let unpaged = ldap.search(PEOPLE, Scope::Subtree, "(objectClass=inetOrgPerson)", vec!["uid"]).await.unwrap();
    assert_eq!((unpaged.0.len(), unpaged.1.rc), (1000, 4), "sizeLimitExceeded after 1000 entries");

    let mut source = LdapSource::new(reader_config(&slapd, json!({"pageSize": 400})));
    let items = read_all(&mut source, None).await.unwrap();
    assert_eq!(records(&items, RecordKind::User).len(), USERS);
}

#[tokio::test]
async fn a_search_cut_short_by_the_server_is_an_error_not_the_end() {
    let Some(slapd) = Slapd::start(&many_users()) else { return };
    // This account's paged searches stop after 1200 entries, with sizeLimitExceeded.
    let password_file = slapd.write_file("capped-password", "capped");
    let capped = json!({"bindDn": "cn=capped,dc=example,dc=com", "bindPasswordFile": password_file});
    let mut source = LdapSource::new(reader_config(&slapd, capped));

    let error = read_all(&mut source, None).await.unwrap_err().to_string();

    assert!(error.contains("sizeLimitExceeded") && error.contains("not read to the end"), "{error}");
    assert_eq!(scimd_connectors::Connector::next_cursor(&source), None);
}
