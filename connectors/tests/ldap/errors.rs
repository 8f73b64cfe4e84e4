use scimd_connectors::Connector;
use scimd_connectors::ldap::LdapSource;
use serde_json::json;

use crate::support::{Slapd, read_all, read_until_error, reader_config, user_ldif};

async fn read_error(source: &mut LdapSource) -> String {
    let error = read_all(source, None).await.unwrap_err().to_string();
    assert_eq!(source.next_cursor(), None);
    error
}

#[tokio::test]
async fn a_wrong_password_names_the_bind_dn_and_the_password_source() {
    let Some(slapd) = Slapd::start("") else { return };
    let wrong = slapd.write_file("wrong-password", "not-the-password");
    let mut source = LdapSource::new(reader_config(&slapd, json!({"bindPasswordFile": wrong})));

    let error = read_error(&mut source).await;

    assert!(error.contains("invalidCredentials") && error.contains("cn=reader,dc=example,dc=com"), "{error}");
    assert!(error.contains("wrong-password"), "names the password file: {error}");
    assert!(!error.contains("not-the-password"), "never shows the password: {error}");
}

#[tokio::test]
async fn a_missing_base_says_which_base() {
    let Some(slapd) = Slapd::start("") else { return };
    let config = json!({"users": {"base": "ou=nobody,dc=example,dc=com"}});
    let mut source = LdapSource::new(reader_config(&slapd, config));

    let error = read_error(&mut source).await;

    assert!(error.contains("noSuchObject") && error.contains("check users.base"), "{error}");
}

#[tokio::test]
async fn a_missing_groups_base_fails_before_any_user_is_read() {
    let Some(slapd) = Slapd::start(&user_ldif("ana", "Ana", "Kim", &[])) else { return };
    let config = json!({"groups": {"base": "ou=nowhere,dc=example,dc=com"}});
    let mut source = LdapSource::new(reader_config(&slapd, config));

    let (items, error) = read_until_error(&mut source).await;

    assert!(items.is_empty(), "nothing is yielded, so nothing is written: {items:?}");
    assert!(error.to_string().contains("check groups.base"), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_says_to_check_host_and_port() {
    let Some(slapd) = Slapd::start("") else { return };
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut source = LdapSource::new(reader_config(&slapd, json!({"url": format!("ldap://127.0.0.1:{closed_port}")})));

    let error = read_error(&mut source).await;

    assert!(error.contains("cannot connect") && error.contains("check the host and port"), "{error}");
}
