//! Incremental reads: exactly what changed since the cursor, and a fresh full read when the
//! cursor's delta links have expired.

use scimd_connectors::{Connector, RecordKind, SourceItem};
use scimd_fakes::graph::Directory;
use serde_json::{Value, json};

use crate::support::{Tenant, field, member_keys, properties, read, records, user};

struct Fixture {
    tenant: Tenant,
    users: Vec<String>,
    staff: String,
    quiet: String,
}

async fn fixture() -> Fixture {
    let mut directory = Directory::default();
    let users: Vec<String> =
        ["ana", "ben", "cho", "dee"].iter().map(|name| directory.create_user(user(name))).collect();
    let staff = directory.create_group(properties(json!({"displayName": "Staff"})), &users[..3]);
    let quiet = directory.create_group(properties(json!({"displayName": "Quiet"})), &users[3..]);
    Fixture { tenant: Tenant::start(directory).await, users, staff, quiet }
}

#[tokio::test]
async fn an_incremental_read_returns_exactly_the_changes() {
    let Fixture { tenant, users, staff, quiet } = fixture().await;
    let mut source = tenant.source(json!({}));
    read(&mut source, None).await.unwrap();
    let cursor = source.next_cursor().unwrap();

    let (eve, quiet_members) = tenant.fake.with(|directory| {
        let eve = directory.create_user(user("eve"));
        directory.update_user(&users[0], properties(json!({"jobTitle": "Chief", "accountEnabled": false})));
        directory.delete_user(&users[1]);
        directory.change_members(&staff, std::slice::from_ref(&eve), &users[2..3]);
        (eve, directory.groups[&quiet].members.len())
    });
    assert_eq!(quiet_members, 1);

    let items = read(&mut source, Some(&cursor)).await.expect("the incremental read succeeds");
    assert!(!source.read_everything(), "a delta round, not everything");
    let changed_users = records(&items, RecordKind::User);
    let keys: Vec<&str> = changed_users.iter().map(|record| record.key.as_str()).collect();
    assert_eq!(keys, [users[0].as_str(), eve.as_str()], "the changed and the new user, nobody else");
    let ana = changed_users[0];
    let paths: Vec<&str> = ana.fields.iter().map(|field| field.path.as_str()).collect();
    assert_eq!(paths, ["active", "title"], "only the changed properties; the others are left alone");
    assert_eq!((field(ana, "active"), field(ana, "title")), (Some(&json!(false)), Some(&json!("Chief"))));
    assert_eq!(field(changed_users[1], "userName"), Some(&json!("eve@contoso.example")), "a new user comes whole");
    assert_eq!(field(changed_users[1], "name.familyName"), Some(&Value::Null));

    let deleted: Vec<&SourceItem> = items.iter().filter(|item| matches!(item, SourceItem::Deleted { .. })).collect();
    assert_eq!(deleted, [&SourceItem::Deleted { kind: RecordKind::User, key: users[1].clone() }]);

    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 1, "only the group whose members changed: {groups:#?}");
    let mut expected = vec![users[0].clone(), eve.clone()];
    expected.sort();
    assert_eq!(member_keys(groups[0]), expected, "the full member list, not the change list");
    assert!(tenant.requests_to(&format!("/groups/{staff}/members")).len() == 1);

    // A rename without member changes must not touch the members.
    let cursor = source.next_cursor().unwrap();
    tenant.fake.with(|directory| directory.update_group(&quiet, properties(json!({"displayName": "Calm"}))));
    let items = read(&mut source, Some(&cursor)).await.unwrap();
    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 1);
    assert_eq!(field(groups[0], "displayName"), Some(&json!("Calm")));
    assert_eq!(groups[0].members, None, "members unchanged: None, so the engine keeps them");
    assert!(records(&items, RecordKind::User).is_empty());

    // Deleted groups are deletions; nothing changed reads nothing.
    let cursor = source.next_cursor().unwrap();
    tenant.fake.with(|directory| directory.delete_group(&quiet));
    let items = read(&mut source, Some(&cursor)).await.unwrap();
    assert_eq!(items, [SourceItem::Deleted { kind: RecordKind::Group, key: quiet.clone() }]);
    let cursor = source.next_cursor().unwrap();
    assert_eq!(read(&mut source, Some(&cursor)).await.unwrap(), []);
}

#[tokio::test]
async fn an_expired_delta_link_reads_everything_again() {
    let Fixture { tenant, users, .. } = fixture().await;
    let mut source = tenant.source(json!({}));
    read(&mut source, None).await.unwrap();
    let cursor = source.next_cursor().unwrap();
    tenant.fake.with(|directory| {
        directory.delete_user(&users[3]);
        directory.expire_tokens();
    });

    let items = read(&mut source, Some(&cursor)).await.expect("the 410 is not an error");
    assert!(tenant.fake.requests().iter().any(|request| request.status == 410), "the cursor was refused");
    assert!(source.read_everything(), "the engine applies the missing policy after this read");
    assert_eq!(records(&items, RecordKind::User).len(), 3, "every user there is");
    assert_eq!(records(&items, RecordKind::Group).len(), 2);
    let new_cursor = source.next_cursor().unwrap();
    assert_ne!(new_cursor, cursor);
    assert_eq!(read(&mut source, Some(&new_cursor)).await.unwrap(), [], "the new cursor works");
}

#[tokio::test]
async fn a_cursor_of_another_kind_is_refused() {
    let Fixture { tenant, .. } = fixture().await;
    let mut source = tenant.source(json!({}));
    let error = read(&mut source, Some(r#"{"modifyTimestamp":"20250101000000Z"}"#)).await.unwrap_err();
    assert!(error.to_string().contains("full sync"), "{error}");
    assert_eq!(source.next_cursor(), None);
}
