//! A full read: every page of both rounds, a large group's members merged over pages, one token.

use scimd_connectors::{Connector, RecordKind, SourceItem};
use scimd_fakes::graph::Directory;
use serde_json::{Value, json};

use crate::support::{Tenant, field, member_keys, properties, read, records, user};

#[tokio::test]
async fn a_full_read_follows_every_page_and_merges_group_members() {
    let mut directory = Directory::default();
    let mut users: Vec<String> = (0..5).map(|n| directory.create_user(user(&format!("user{n}")))).collect();
    let boss = users[0].clone();
    let mut managed = user("managed");
    managed.insert("manager".into(), json!(boss));
    managed.insert("signInActivity".into(), json!({"lastSignInDateTime": "2026-11-20T07:00:00Z"}));
    users.push(directory.create_user(managed));
    let staff = directory.create_group(properties(json!({"displayName": "Staff"})), &users);
    let nested = directory.create_group(properties(json!({"displayName": "All"})), &[staff.clone(), users[1].clone()]);
    let tenant = Tenant::start(directory).await;
    let mut source = tenant.source(json!({}));

    let items = read(&mut source, None).await.expect("the read succeeds");
    let read_users = records(&items, RecordKind::User);
    assert_eq!(read_users.len(), 6, "every page of users");
    let managed = read_users.iter().find(|record| record.key == users[5]).unwrap();
    assert_eq!(field(managed, "userName"), Some(&json!("managed@contoso.example")));
    let manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";
    assert_eq!(field(managed, manager), None, "the manager is no literal value");
    let reference = managed.references.iter().find(|r| r.path == manager).expect("a reference to the manager");
    assert_eq!(reference.key.as_ref(), Some(&boss), "the manager's record, by its Graph id");
    let last_access = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:lastAccess";
    assert_eq!(field(managed, last_access), Some(&json!("2026-11-20T07:00:00Z")));
    assert_eq!(field(read_users[0], "title"), Some(&json!("Engineer")));
    assert_eq!(field(read_users[0], "name.givenName"), Some(&Value::Null), "absent in a full round: cleared");

    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 2, "a group split over pages is one record: {groups:#?}");
    let staff_record = groups.iter().find(|record| record.key == staff).unwrap();
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(member_keys(staff_record), expected, "all six members, over several pages");
    let nested_record = groups.iter().find(|record| record.key == nested).unwrap();
    let mut expected = vec![staff.clone(), users[1].clone()];
    expected.sort();
    assert_eq!(member_keys(nested_record), expected, "groups are members too");
    assert!(items.iter().all(|item| !matches!(item, SourceItem::Deleted { .. })));

    assert!(tenant.requests_to("/users/delta").len() >= 3, "pages of two");
    assert_eq!(tenant.fake.tokens_issued(), 1, "one token serves the whole run");
    let cursor: Value = serde_json::from_str(&source.next_cursor().expect("a cursor")).unwrap();
    assert!(cursor["usersDeltaLink"].as_str().unwrap().contains("/v1.0/users/delta?$deltatoken="), "{cursor}");
    assert!(cursor["groupsDeltaLink"].as_str().unwrap().contains("/v1.0/groups/delta?$deltatoken="), "{cursor}");
    assert!(source.read_everything());
}

#[tokio::test]
async fn without_groups_only_users_are_read() {
    let mut directory = Directory::default();
    let ana = directory.create_user(user("ana"));
    directory.create_group(properties(json!({"displayName": "Staff"})), &[ana]);
    let tenant = Tenant::start(directory).await;
    let mut source = tenant.source(json!({"readGroups": false}));
    let items = read(&mut source, None).await.unwrap();
    assert_eq!((records(&items, RecordKind::User).len(), records(&items, RecordKind::Group).len()), (1, 0));
    assert!(tenant.requests_to("/groups/").is_empty());
    assert!(!source.next_cursor().unwrap().contains("groupsDeltaLink"));
}
