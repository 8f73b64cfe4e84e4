//! The Active Directory flavour against the fake AD, for what Samba does not enforce: forced and
//! shortened member ranges, and a MaxPageSize below the page size asked for.

use scimd_connectors::ldap::{LdapConfig, LdapSource};
use scimd_connectors::{Connector, MemberRef, RecordKind};
use serde_json::{Value, json};

use crate::support::fake_ad::{FakeAd, FakeEntry, LaterRanges, Limits, NAMING_CONTEXT};
use crate::support::{field, read_all, read_until_error, records};

fn people() -> String {
    format!("OU=people,{NAMING_CONTEXT}")
}

fn groups() -> String {
    format!("OU=groups,{NAMING_CONTEXT}")
}

/// A GUID from `n`; its first byte is never valid UTF-8, like most real ones.
fn guid(n: u32) -> Vec<u8> {
    [[0xfe, 0x01, 0x02, 0x03].as_slice(), &n.to_be_bytes(), &[0x88; 8]].concat()
}

fn user(n: u32, account_control: &str) -> FakeEntry {
    FakeEntry::new(format!("CN=user{n:05},{}", people()))
        .with("objectClass", ["top", "person", "organizationalPerson", "user"])
        .with("objectCategory", ["person"])
        .with("objectGUID", [guid(n)])
        .with("userPrincipalName", [format!("user{n:05}@fake.test")])
        .with("userAccountControl", [account_control])
}

fn member_dn(n: usize) -> String {
    format!("CN=member{n:05},{}", people())
}

fn group(cn: &str, members: usize) -> FakeEntry {
    FakeEntry::new(format!("CN={cn},{}", groups()))
        .with("objectClass", ["top", "group"])
        .with("objectGUID", [guid(900_000)])
        .with("cn", [cn])
        .with("member", (0..members).map(member_dn))
}

fn config(fake: &FakeAd, overrides: Value) -> LdapConfig {
    let mut config = json!({
        "url": fake.url,
        "flavor": "activeDirectory",
        "users": {"base": people()},
        "groups": {"base": groups()},
        "timeoutSeconds": 10,
    });
    for (key, value) in overrides.as_object().expect("overrides are an object") {
        config[key] = value.clone();
    }
    LdapConfig::from_value(config).expect("a valid configuration")
}

fn expected_members(count: usize) -> Vec<MemberRef> {
    (0..count).map(|n| MemberRef::SourceName(member_dn(n).to_ascii_lowercase())).collect()
}

#[tokio::test]
async fn reads_a_5000_member_group_through_ranges_smaller_than_asked() {
    let limits = Limits { max_value_range: 1000, ..Limits::default() };
    let fake = FakeAd::start(vec![group("big", 5000)], limits).await;
    let mut source = LdapSource::new(config(&fake, json!({})));

    let items = read_all(&mut source, None).await.unwrap();

    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members.clone().unwrap(), expected_members(5000));
    let ranges = fake.served().member_ranges.clone();
    let expected_ranges =
        ["member;range=0-999", "member;range=1000-1999", "member;range=2000-2999", "member;range=3000-3999"];
    assert_eq!(ranges, [expected_ranges.as_slice(), &["member;range=4000-*"]].concat(), "1500 asked, 1000 served");
}

#[tokio::test]
async fn follows_ranges_the_server_forces_on_a_plain_member_request() {
    let fake = FakeAd::start(vec![group("big", 5000)], Limits::default()).await;
    // The OpenLDAP flavour asks for plain `member`; the server ranges it all the same.
    let overrides = json!({"flavor": "openldap", "keyAttribute": "objectGUID", "userMapping": {"userName": "cn"},
                           "groups": {"base": groups(), "filter": "(objectClass=group)"}});
    let mut source = LdapSource::new(config(&fake, overrides));

    let items = read_all(&mut source, None).await.unwrap();

    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups[0].members.clone().unwrap(), expected_members(5000));
    let ranges = fake.served().member_ranges.clone();
    assert_eq!(
        ranges,
        ["member;range=0-1499", "member;range=1500-2999", "member;range=3000-4499", "member;range=4500-*"]
    );
}

#[tokio::test]
async fn reads_every_user_through_pages_capped_below_the_page_size_asked() {
    let users: Vec<FakeEntry> = (0..2500).map(|n| user(n, "512")).collect();
    let fake = FakeAd::start(users, Limits::default()).await;
    let mut source = LdapSource::new(config(&fake, json!({"pageSize": 2000, "groups": null})));

    let items = read_all(&mut source, None).await.unwrap();

    let users = records(&items, RecordKind::User);
    assert_eq!(users.len(), 2500);
    let keys: std::collections::HashSet<&str> = users.iter().map(|user| user.key.as_str()).collect();
    assert_eq!(keys.len(), 2500, "no user read twice");
    assert_eq!(fake.served().pages, [1000, 1000, 500], "2000 asked, MaxPageSize 1000 served");
}

#[tokio::test]
async fn formats_guids_whose_bytes_happen_to_be_text_and_reads_the_disable_bit() {
    let mut textual = user(1, "514");
    textual.attributes.retain(|(name, _)| name != "objectGUID");
    let textual = textual.with("objectGUID", [b"ABCDEFGHIJKLMNOP".to_vec()]);
    let fake = FakeAd::start(vec![textual, user(2, "66048")], Limits::default()).await;
    let mut source = LdapSource::new(config(&fake, json!({"groups": null})));

    let items = read_all(&mut source, None).await.unwrap();

    let users = records(&items, RecordKind::User);
    assert_eq!(users[0].key, "44434241-4645-4847-494a-4b4c4d4e4f50");
    assert_eq!(field(users[0], "active"), Some(&json!(false)));
    assert_eq!(users[1].key, "030201fe-0000-0200-8888-888888888888");
    assert_eq!(field(users[1], "active"), Some(&json!(true)));
}

async fn read_with_later_ranges(later_ranges: LaterRanges) -> String {
    let limits = Limits { later_ranges, ..Limits::default() };
    let fake = FakeAd::start(vec![group("big", 3000)], limits).await;
    let mut source = LdapSource::new(config(&fake, json!({})));

    let (items, error) = read_until_error(&mut source).await;

    assert_eq!(records(&items, RecordKind::Group).len(), 0, "a group with part of its members is never yielded");
    assert_eq!(source.next_cursor(), None);
    error.to_string()
}

#[tokio::test]
async fn a_member_range_that_does_not_advance_is_an_error() {
    let error = read_with_later_ranges(LaterRanges::RepeatFirst).await;
    assert!(error.contains("CN=big") && error.contains("after 1500"), "{error}");
}

#[tokio::test]
async fn a_member_range_that_stops_early_is_an_error() {
    let error = read_with_later_ranges(LaterRanges::Missing).await;
    assert!(error.contains("CN=big") && error.contains("after 1500"), "{error}");
}
