use scimd_connectors::ldap::LdapSource;
use scimd_connectors::{Connector, Correlation, MemberRef, RecordKind};
use serde_json::json;

use crate::support::{Slapd, field, group_ldif, read_all, reader_config, record_kinds, records, user_dn, user_ldif};

fn directory() -> String {
    [
        user_ldif("ana", "Ana", "Kim", &["staff"]),
        user_ldif("ben", "Ben", "Lee", &["staff", "admins"]),
        user_ldif("cho", "Cho", "Park", &[]),
        group_ldif("staff", &["ana", "ben"]),
        group_ldif("admins", &["ben"]),
        "dn: cn=ops,ou=groups,dc=example,dc=com\nobjectClass: posixGroup\ncn: ops\ngidNumber: 5000\nmemberUid: cho\n\n"
            .to_owned(),
    ]
    .concat()
}

#[tokio::test]
async fn reads_users_then_groups_with_mapped_fields_and_members() {
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let mut source = LdapSource::new(reader_config(&slapd, json!({})));

    let items = read_all(&mut source, None).await.unwrap();

    let kinds = record_kinds(&items);
    assert_eq!(kinds, [[RecordKind::User; 3].as_slice(), &[RecordKind::Group; 3]].concat());

    let users = records(&items, RecordKind::User);
    let ana = users.iter().find(|user| field(user, "userName") == Some(&json!("ana"))).unwrap();
    assert_eq!(ana.key.len(), 36, "an entryUUID: {}", ana.key);
    assert_eq!(ana.name.as_deref(), Some(user_dn("ana").as_str()));
    assert_eq!(field(ana, "displayName"), Some(&json!("Ana Kim")));
    assert_eq!(field(ana, "name.givenName"), Some(&json!("Ana")));
    assert_eq!(field(ana, "name.familyName"), Some(&json!("Kim")));
    assert_eq!(field(ana, r#"emails[type eq "work"].value"#), Some(&json!("ana@example.com")));
    assert_eq!(field(ana, r#"emails[type eq "work"].primary"#), Some(&json!(true)));
    assert_eq!(field(ana, "title"), Some(&json!("Engineer")));
    assert_eq!(ana.correlate, [Correlation::Email("ana@example.com".into()), Correlation::UserName("ana".into())]);
    let report_names: Vec<&str> = ana.fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(report_names, ["uid", "cn", "givenName", "sn", "mail", "mail", "title", "telephoneNumber"]);
    assert_eq!(field(ana, r#"phoneNumbers[type eq "work"].value"#), Some(&json!(null)), "no phone: cleared");

    let groups = records(&items, RecordKind::Group);
    let members_of = |cn: &str| {
        let group = groups.iter().find(|group| field(group, "displayName") == Some(&json!(cn))).unwrap();
        assert!(group.correlate.is_empty());
        group.members.clone().unwrap()
    };
    let by_dn = |uid: &str| MemberRef::SourceName(user_dn(uid));
    assert_eq!(members_of("staff"), [by_dn("ana"), by_dn("ben")]);
    assert_eq!(members_of("admins"), [by_dn("ben")]);
    assert_eq!(members_of("ops"), [MemberRef::UserName("cho".into())]);
    // Members name users exactly as the users' own records are named.
    assert!(users.iter().any(|user| user.name.as_deref() == Some(user_dn("ben").as_str())));

    let cursor = source.next_cursor().expect("a cursor after a complete read");
    assert!(cursor.starts_with(r#"{"modifyTimestamp":"20"#), "{cursor}");
}

#[tokio::test]
async fn a_configured_mapping_replaces_the_default() {
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let mapping = json!({"userMapping": {"userName": "mail", "externalId": "entryUUID"}, "groups": null});
    let mut source = LdapSource::new(reader_config(&slapd, mapping));

    let items = read_all(&mut source, None).await.unwrap();

    let users = records(&items, RecordKind::User);
    assert_eq!((users.len(), items.len()), (3, 3));
    for user in users {
        let paths: Vec<&str> = user.fields.iter().map(|field| field.path.as_str()).collect();
        assert_eq!(paths, ["userName", "externalId"]);
        assert_eq!(field(user, "externalId"), Some(&json!(user.key)));
        assert_eq!(user.correlate.len(), 1, "no email mapped: correlated by userName only");
    }
}
