use std::time::Duration;

use scimd_connectors::{Connector, MemberRef, RecordKind, SourceItem};
use scimd_fakes::google::{CUSTOMER_ID, Directory, Route};
use serde_json::{Value, json};

use crate::support::{Google, field, group, read_all, records, user, users};

const LAST_ACCESS: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:lastAccess";
const REASON: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:deactivationReason";

#[tokio::test]
async fn reads_every_user_page_then_the_groups_with_their_members_nested_included() {
    let mut directory = Directory::new();
    let ids = users(&mut directory, 6);
    directory.put_user(json!({
        "id": "u-ana", "primaryEmail": "ana@example.com", "suspended": true, "suspensionReason": "ADMIN",
        "name": {"givenName": "Ana", "familyName": "Kim", "fullName": "Ana Kim"},
        "lastLoginTime": "2026-11-02T08:15:00.000Z",
        "organizations": [{"title": "Engineer", "department": "R&D", "primary": true}],
        "externalIds": [{"type": "organization", "value": "E-17"}],
        "phones": [{"type": "mobile", "value": "+1 555 0100"}, {"type": "work", "value": "+1 555 0199"}],
    }));
    directory.put_group(group("g-staff", "staff@example.com", "Staff"));
    directory.put_group(group("g-all", "all@example.com", "Everyone"));
    directory.set_members("g-staff", &[&ids[0], &ids[1], "u-ana"]);
    directory.set_members("g-all", &["g-staff", &ids[2], CUSTOMER_ID, "someone-outside"]);
    let google = Google::start(directory).await;
    let mut source = google.source(json!({"pageSize": 3}));

    let items = read_all(&mut source).await.unwrap();

    assert_eq!(google.fake.requests(Route::Users), 3, "7 users in pages of 3");
    let kinds: Vec<RecordKind> =
        items.iter().map(|item| if let SourceItem::Record(r) = item { r.kind } else { panic!("{item:?}") }).collect();
    assert_eq!(kinds, [[RecordKind::User; 7].as_slice(), &[RecordKind::Group; 2]].concat(), "users first, then groups");
    let users = records(&items, RecordKind::User);
    let ana = users.iter().find(|r| r.key == "u-ana").unwrap();
    assert_eq!(field(ana, "userName"), "ana@example.com");
    assert_eq!(field(ana, "displayName"), "Ana Kim");
    assert_eq!(field(ana, "active"), false, "suspended in Google");
    assert_eq!(field(ana, REASON), "suspended in Google Workspace (ADMIN)");
    assert_eq!(field(ana, LAST_ACCESS), "2026-11-02T08:15:00.000Z");
    assert_eq!(field(ana, "title"), "Engineer");
    assert_eq!(field(ana, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"), "E-17");
    assert_eq!(field(ana, r#"phoneNumbers[type eq "work"].value"#), "+1 555 0199");
    let plain = users.iter().find(|r| r.key == ids[0]).unwrap();
    assert_eq!(field(plain, "active"), true);
    assert_eq!(field(plain, LAST_ACCESS), &Value::Null, "never signed in (1970-01-01) is no value");
    assert_eq!(field(plain, "title"), &Value::Null);

    let groups = records(&items, RecordKind::Group);
    assert_eq!((groups[0].key.as_str(), field(groups[0], "externalId")), ("g-staff", &json!("staff@example.com")));
    let keys = |members: &[MemberRef]| members.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>();
    assert_eq!(
        keys(groups[0].members.as_ref().unwrap()),
        [format!("SourceKey({:?})", ids[0]), format!("SourceKey({:?})", ids[1]), r#"SourceKey("u-ana")"#.to_owned()]
    );
    assert_eq!(
        groups[1].members.as_ref().unwrap(),
        &[MemberRef::SourceKey("g-staff".into()), MemberRef::SourceKey(ids[2].clone())],
        "the nested group and the user; the customer and the outside address name no record"
    );
    assert_eq!(source.next_cursor(), None, "Google has no delta: every run is full");
}

#[tokio::test]
async fn a_group_with_many_member_pages_is_read_whole() {
    let mut directory = Directory::new();
    let ids = users(&mut directory, 450);
    directory.put_group(group("g-big", "big@example.com", "Big"));
    directory.set_members("g-big", &ids.iter().map(String::as_str).collect::<Vec<_>>());
    let google = Google::start(directory).await;

    let items = read_all(&mut google.source(json!({}))).await.unwrap();

    let big = records(&items, RecordKind::Group)[0];
    assert_eq!(big.members.as_ref().unwrap().len(), 450);
    assert_eq!(google.fake.requests(Route::Members), 3, "pages of 200");
    assert_eq!(google.fake.requests(Route::Users), 1, "450 users fit one page of 500");
}

#[tokio::test]
async fn members_of_several_groups_are_read_at_once_and_sent_in_list_order() {
    let mut directory = Directory::new();
    let ids = users(&mut directory, 3);
    let group_ids: Vec<String> = (0..12)
        .map(|n| directory.put_group(group(&format!("g{n:02}"), &format!("g{n}@example.com"), &format!("G{n}"))))
        .collect();
    for id in &group_ids {
        directory.set_members(id, &[&ids[0]]);
    }
    let google = Google::start(directory).await;
    google.fake.set_latency(Duration::from_millis(40));

    let items = read_all(&mut google.source(json!({"memberConcurrency": 4}))).await.unwrap();

    let keys: Vec<&str> = records(&items, RecordKind::Group).iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, group_ids.iter().map(String::as_str).collect::<Vec<_>>());
    let most = google.fake.most_members_in_flight();
    assert!((2..=4).contains(&most), "at most memberConcurrency groups at once, and more than one: {most}");
}

#[tokio::test]
async fn each_run_reads_the_directory_as_it_is_now() {
    let mut directory = Directory::new();
    let ids = users(&mut directory, 3);
    directory.put_group(group("g1", "g1@example.com", "One"));
    directory.set_members("g1", &[&ids[0], &ids[1]]);
    let google = Google::start(directory).await;
    let mut source = google.source(json!({}));
    assert_eq!(records(&read_all(&mut source).await.unwrap(), RecordKind::User).len(), 3);

    {
        let mut directory = google.fake.directory();
        assert!(directory.remove_user(&ids[1]));
        directory.update_user(&ids[0], |u| u["name"]["fullName"] = json!("Renamed"));
        directory.put_user(user("u-new", "new@example.com", "New", "Person"));
    }
    let items = read_all(&mut source).await.unwrap();

    let users = records(&items, RecordKind::User);
    let keys: Vec<&str> = users.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, [ids[0].as_str(), ids[2].as_str(), "u-new"]);
    assert_eq!(field(users[0], "displayName"), "Renamed");
    let group = records(&items, RecordKind::Group)[0];
    assert_eq!(
        group.members.as_ref().unwrap(),
        &[MemberRef::SourceKey(ids[0].clone())],
        "a deleted user leaves its groups"
    );
}

#[tokio::test]
async fn a_domain_lists_only_its_users_and_groups_can_be_left_out() {
    let mut directory = Directory::new();
    directory.put_user(user("u1", "ana@example.com", "Ana", "Kim"));
    directory.put_user(user("u2", "bo@subsidiary.example", "Bo", "Li"));
    directory.put_group(group("g1", "g1@example.com", "One"));
    let google = Google::start(directory).await;

    let items =
        read_all(&mut google.source(json!({"domain": "subsidiary.example", "readGroups": false}))).await.unwrap();

    let keys: Vec<&str> = records(&items, RecordKind::User).iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["u2"]);
    assert!(records(&items, RecordKind::Group).is_empty());
    assert_eq!(google.fake.requests(Route::Groups), 0);
}
