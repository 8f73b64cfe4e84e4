use std::collections::HashSet;
use std::time::Duration;

use ldap3::Mod;
use scimd_connectors::ldap::LdapSource;
use scimd_connectors::{Connector, MemberRef, RecordKind};
use serde_json::json;

use crate::support::{
    Slapd, admin, field, group_dn, group_ldif, read_all, reader_config, records, user_dn, user_ldif, user_names,
};

fn directory() -> String {
    [
        user_ldif("ana", "Ana", "Kim", &["staff"]),
        user_ldif("ben", "Ben", "Lee", &[]),
        user_ldif("cho", "Cho", "Park", &[]),
        group_ldif("staff", &["ana"]),
        group_ldif("admins", &["cho"]),
    ]
    .concat()
}

/// A source that has read the directory once, and the cursor of that read. modifyTimestamp counts
/// whole seconds and a cursor reads its second again, so the read waits until the loaded entries
/// are a second older than the change its cursor marks.
async fn after_a_full_read(slapd: &Slapd) -> (LdapSource, String) {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut ldap = admin(slapd).await;
    let touch = Mod::Replace("description", HashSet::from(["touched"]));
    ldap.modify("cn=reader,dc=example,dc=com", vec![touch]).await.unwrap().success().unwrap();
    let mut source = LdapSource::new(reader_config(slapd, json!({})));
    read_all(&mut source, None).await.unwrap();
    let cursor = source.next_cursor().unwrap();
    (source, cursor)
}

#[tokio::test]
async fn reads_only_what_changed_since_the_cursor_including_group_side_membership_changes() {
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let (mut source, cursor) = after_a_full_read(&slapd).await;

    let mut ldap = admin(&slapd).await;
    let new_title = Mod::Replace("title", HashSet::from(["Manager"]));
    ldap.modify(&user_dn("ana"), vec![new_title]).await.unwrap().success().unwrap();
    let dee = [
        ("objectClass", HashSet::from(["inetOrgPerson"])),
        ("uid", HashSet::from(["dee"])),
        ("cn", HashSet::from(["Dee Cho"])),
        ("sn", HashSet::from(["Cho"])),
    ];
    ldap.add(&user_dn("dee"), dee.to_vec()).await.unwrap().success().unwrap();
    // The memberof overlay gives ben a memberOf without touching his modifyTimestamp: only the
    // group shows the change.
    let ben = user_dn("ben");
    ldap.modify(&group_dn("staff"), vec![Mod::Add("member", HashSet::from([ben.as_str()]))])
        .await
        .unwrap()
        .success()
        .unwrap();

    let items = read_all(&mut source, Some(&cursor)).await.unwrap();

    assert_eq!(user_names(&items), ["ana", "dee"]);
    let ana = records(&items, RecordKind::User)
        .into_iter()
        .find(|user| field(user, "userName") == Some(&json!("ana")))
        .unwrap();
    assert_eq!(field(ana, "title"), Some(&json!("Manager")));
    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 1, "admins did not change");
    assert_eq!(
        groups[0].members.as_deref().unwrap(),
        [MemberRef::SourceName(user_dn("ana")), MemberRef::SourceName(user_dn("ben"))],
        "a changed group comes with all its members"
    );
    let next = source.next_cursor().unwrap();
    assert!(next >= cursor, "{next} follows {cursor}");
}

#[tokio::test]
async fn an_unchanged_directory_reads_nothing_and_keeps_a_cursor() {
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let (mut source, cursor) = after_a_full_read(&slapd).await;

    let items = read_all(&mut source, Some(&cursor)).await.unwrap();

    assert!(items.is_empty(), "{items:?}");
    assert_eq!(source.next_cursor(), Some(cursor));
}

#[tokio::test]
async fn the_cursor_is_set_only_once_the_stream_has_ended_successfully() {
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let mut source = LdapSource::new(reader_config(&slapd, json!({})));
    read_all(&mut source, None).await.unwrap();
    assert!(source.next_cursor().is_some());

    {
        let mut stream = source.read(None);
        let first = futures_util::StreamExt::next(&mut stream).await;
        assert!(matches!(first, Some(Ok(_))));
    }
    assert_eq!(source.next_cursor(), None, "a read stopped part-way gives no cursor");

    let error = read_all(&mut source, Some("not a cursor")).await.unwrap_err();
    assert!(error.to_string().contains("run a full sync"), "{error}");
    assert_eq!(source.next_cursor(), None);
}
