//! The Active Directory flavour against Samba AD: objectGUID keys, account state, members by DN,
//! ranged members, and incremental runs by uSNChanged with deletions from the tombstones.

use std::collections::HashSet;

use futures_util::StreamExt;
use scimd_connectors::ldap::LdapSource;
use scimd_connectors::ldap::dn::normalize_dn;
use scimd_connectors::{Connector, MemberRef, Record, RecordKind, SourceItem};
use serde_json::{Value, json};

use crate::support::samba_ad::{DISABLED, ENABLED, Ou, SambaAd, samba_ad};
use crate::support::{field, read_all, record_kinds, records};

fn by_dn(dn: &str) -> MemberRef {
    MemberRef::SourceName(normalize_dn(dn))
}

fn sorted(mut members: Vec<MemberRef>) -> Vec<MemberRef> {
    members.sort_by_key(|member| format!("{member:?}"));
    members
}

fn named<'r>(records: &[&'r Record], dn: &str) -> &'r Record {
    let name = normalize_dn(dn);
    records.iter().find(|record| record.name.as_deref() == Some(name.as_str())).unwrap_or_else(|| panic!("no {dn}"))
}

fn usn_of(cursor: &str) -> u64 {
    let cursor: Value = serde_json::from_str(cursor).unwrap();
    cursor["highestCommittedUSN"].as_u64().unwrap_or_else(|| panic!("an AD cursor: {cursor}"))
}

#[tokio::test]
async fn reads_users_and_groups_with_guid_keys_principal_names_account_state_and_nested_members() {
    let Some(dc) = samba_ad() else { return };
    let mut ou = dc.fresh_ou("scimd-full-read").await;
    let ana = ou.add_user("fr-ana", ENABLED).await;
    let ben = ou.add_user("fr-ben", DISABLED).await;
    let cho = ou.add_user("fr-cho", ENABLED).await;
    let staff = ou.add_group("fr-staff", &[ana.clone(), ben.clone()]).await;
    let everyone = ou.add_group("fr-everyone", &[staff.clone(), cho.clone()]).await;
    let stored = ou.read(&ben, &["userAccountControl"]).await.unwrap();
    assert_eq!(stored.attrs["userAccountControl"], [DISABLED], "Samba keeps the disabled account as written");
    let mut source = LdapSource::new(dc.config(&ou, json!({})));

    let items = read_all(&mut source, None).await.unwrap();

    let kinds = record_kinds(&items);
    assert_eq!(kinds, [[RecordKind::User; 3].as_slice(), &[RecordKind::Group; 2]].concat());
    let users = records(&items, RecordKind::User);
    let ana_record = named(&users, &ana);
    assert_eq!(ana_record.key, dc.guid_shown_by_samba_tool("fr-ana"));
    assert_eq!(named(&users, &ben).key, dc.guid_shown_by_samba_tool("fr-ben"));
    assert_eq!(field(ana_record, "userName"), Some(&json!("fr-ana@example.test")));
    assert_eq!(field(ana_record, "displayName"), Some(&json!("User fr-ana")));
    assert_eq!(field(ana_record, "active"), Some(&json!(true)));
    assert_eq!(field(named(&users, &ben), "active"), Some(&json!(false)));

    let groups = records(&items, RecordKind::Group);
    let staff_record = named(&groups, &staff);
    assert_eq!(field(staff_record, "displayName"), Some(&json!("fr-staff")));
    assert_eq!(staff_record.key.len(), 36, "an objectGUID: {}", staff_record.key);
    assert_eq!(sorted(staff_record.members.clone().unwrap()), sorted(vec![by_dn(&ana), by_dn(&ben)]));
    let everyone_members = sorted(named(&groups, &everyone).members.clone().unwrap());
    assert_eq!(everyone_members, sorted(vec![by_dn(&staff), by_dn(&cho)]), "the nested group by its DN");

    let cursor = source.next_cursor().expect("a cursor after a complete read");
    let newest = ou.read(&everyone, &["uSNChanged"]).await.unwrap();
    let newest: u64 = newest.attrs["uSNChanged"][0].parse().unwrap();
    assert!(usn_of(&cursor) >= newest, "{cursor} marks the start of the read, after the entries were written");
}

const BIG_GROUP_MEMBERS: usize = 1600;
/// Set on the big group once all its members are in, so the next run can reuse them: Samba adds
/// a few hundred users a second.
const COMPLETE: &str = "all members added";

/// The OU holding a group of [`BIG_GROUP_MEMBERS`] users, and their DNs.
async fn big_group(dc: &SambaAd, ou_name: &str) -> (Ou, String, Vec<String>) {
    let mut ou = dc.ou(ou_name).await;
    let group = ou.dn_of("rg-big");
    let member_dns: Vec<String> = (0..BIG_GROUP_MEMBERS).map(|n| ou.dn_of(&format!("rg-{n:04}"))).collect();
    let description = ou.read(&group, &["description"]).await;
    if description.is_some_and(|entry| entry.attrs.get("description").is_some_and(|d| d == &[COMPLETE])) {
        return (ou, group, member_dns);
    }
    let mut ou = dc.fresh_ou(ou_name).await;
    let users = futures_util::stream::iter(0..BIG_GROUP_MEMBERS).for_each_concurrent(4, |n| {
        let mut ou = Ou { dn: ou.dn.clone(), ldap: ou.ldap.clone() };
        async move {
            ou.add_user(&format!("rg-{n:04}"), ENABLED).await;
        }
    });
    users.await;
    ou.add_group("rg-big", &member_dns).await;
    ou.modify(&group, "description", COMPLETE).await;
    (ou, group, member_dns)
}

#[tokio::test]
async fn reads_every_member_of_a_large_group_range_by_range() {
    let Some(dc) = samba_ad() else { return };
    let (mut ou, group, member_dns) = big_group(dc, "scimd-ranged").await;
    let first_range = ou.read(&group, &["member;range=0-1499"]).await.unwrap();
    let described: Vec<(&String, usize)> =
        first_range.attrs.iter().map(|(name, values)| (name, values.len())).collect();
    assert_eq!(described, [(&"member;range=0-1499".to_owned(), 1500)], "Samba answers the range asked for");
    let mut source = LdapSource::new(dc.config(&ou, json!({"users": {"base": ou.dn, "filter": "(cn=nobody)"}})));

    let items = read_all(&mut source, None).await.unwrap();

    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups.len(), 1);
    let members = groups[0].members.clone().unwrap();
    assert_eq!(members.len(), BIG_GROUP_MEMBERS, "no member lost or read twice");
    let expected: HashSet<MemberRef> = member_dns.iter().map(|dn| by_dn(dn)).collect();
    assert_eq!(members.into_iter().collect::<HashSet<_>>(), expected);
}

/// The OU's records and the source's cursor after a full read.
async fn after_a_full_read(source: &mut LdapSource) -> (Vec<SourceItem>, String) {
    let items = read_all(source, None).await.unwrap();
    let cursor = source.next_cursor().expect("a cursor after a complete read");
    (items, cursor)
}

/// Deletions are searched in the whole domain, where the other tests delete too: only those of
/// `keys` belong to the test.
fn deletions_among(items: &[SourceItem], keys: &[&str]) -> Vec<(RecordKind, String)> {
    items
        .iter()
        .filter_map(|item| match item {
            SourceItem::Deleted { kind, key } if keys.contains(&key.as_str()) => Some((*kind, key.clone())),
            _ => None,
        })
        .collect()
}

fn all_keys(items: &[SourceItem]) -> Vec<&str> {
    let users = records(items, RecordKind::User);
    users.into_iter().chain(records(items, RecordKind::Group)).map(|record| record.key.as_str()).collect()
}

#[tokio::test]
async fn an_incremental_run_reads_only_the_entry_changed_since_the_cursor() {
    let Some(dc) = samba_ad() else { return };
    let mut ou = dc.fresh_ou("scimd-incremental").await;
    let ana = ou.add_user("inc-ana", ENABLED).await;
    let ben = ou.add_user("inc-ben", ENABLED).await;
    ou.add_group("inc-staff", &[ana.clone(), ben.clone()]).await;
    let mut source = LdapSource::new(dc.config(&ou, json!({})));
    let (full, cursor) = after_a_full_read(&mut source).await;
    assert_eq!(full.len(), 3);

    ou.modify(&ben, "displayName", "Ben Renamed").await;
    let items = read_all(&mut source, Some(&cursor)).await.unwrap();

    let changed: Vec<&Record> =
        records(&items, RecordKind::User).into_iter().chain(records(&items, RecordKind::Group)).collect();
    assert_eq!(changed.len(), 1, "only ben changed: {changed:?}");
    assert_eq!(changed[0].key, named(&records(&full, RecordKind::User), &ben).key);
    assert_eq!(field(changed[0], "displayName"), Some(&json!("Ben Renamed")));
    assert_eq!(deletions_among(&items, &all_keys(&full)), []);
    let next = source.next_cursor().unwrap();
    let ben_usn: u64 = ou.read(&ben, &["uSNChanged"]).await.unwrap().attrs["uSNChanged"][0].parse().unwrap();
    assert!(usn_of(&cursor) < ben_usn && ben_usn <= usn_of(&next), "{cursor} < {ben_usn} <= {next}");

    let again = read_all(&mut source, Some(&next)).await.unwrap();
    assert_eq!(all_keys(&again), Vec::<&str>::new(), "nothing changed in the OU since");
}

#[tokio::test]
async fn an_incremental_run_reports_a_deleted_user_by_its_guid() {
    let Some(dc) = samba_ad() else { return };
    let mut ou = dc.fresh_ou("scimd-deletion").await;
    let ana = ou.add_user("del-ana", ENABLED).await;
    let ben = ou.add_user("del-ben", ENABLED).await;
    let staff = ou.add_group("del-staff", &[ana.clone(), ben.clone()]).await;
    let mut source = LdapSource::new(dc.config(&ou, json!({})));
    let (full, cursor) = after_a_full_read(&mut source).await;
    let ben_key = named(&records(&full, RecordKind::User), &ben).key.clone();
    assert_eq!(ben_key, dc.guid_shown_by_samba_tool("del-ben"));

    ou.delete(&ben).await;
    let items = read_all(&mut source, Some(&cursor)).await.unwrap();

    assert_eq!(deletions_among(&items, &all_keys(&full)), [(RecordKind::User, ben_key)]);
    assert_eq!(records(&items, RecordKind::User).len(), 0, "ana did not change");
    // Samba drops ben from the group without raising the group's uSNChanged, so the group may not
    // come back; the engine removes ben's memberships with ben. A group that does come back must
    // not list him.
    for group in records(&items, RecordKind::Group) {
        assert_eq!(group.name.as_deref(), Some(normalize_dn(&staff).as_str()));
        assert_eq!(group.members.clone().unwrap(), [by_dn(&ana)]);
    }
}
