//! TLS against slapd's self-signed certificate: `ldaps://` and StartTLS with `tlsCaFile`, and a
//! certificate the client does not trust.

use scimd_connectors::ldap::LdapSource;
use serde_json::json;

use crate::support::{Slapd, read_all, reader_config, user_ldif, user_names};

#[tokio::test]
async fn ldaps_and_start_tls_read_with_the_given_ca() {
    let Some(slapd) = Slapd::start(&user_ldif("ana", "Ana", "Kim", &[])) else { return };
    let ca = slapd.ca_file();
    let ldaps = json!({"url": slapd.ldaps_url(), "tlsCaFile": ca});
    let items = read_all(&mut LdapSource::new(reader_config(&slapd, ldaps)), None).await.expect("an ldaps read");
    assert_eq!(user_names(&items), ["ana"]);

    let start_tls = json!({"startTls": true, "tlsCaFile": ca});
    let items = read_all(&mut LdapSource::new(reader_config(&slapd, start_tls)), None).await.expect("a StartTLS read");
    assert_eq!(user_names(&items), ["ana"]);
}

#[tokio::test]
async fn an_untrusted_certificate_fails_and_says_what_to_check() {
    let Some(slapd) = Slapd::start("") else { return };
    for overrides in [json!({"url": slapd.ldaps_url()}), json!({"startTls": true})] {
        let mut source = LdapSource::new(reader_config(&slapd, overrides));
        let error = read_all(&mut source, None).await.unwrap_err().to_string();
        assert!(error.contains("TLS") && error.contains("tlsCaFile"), "{error}");
    }
}
