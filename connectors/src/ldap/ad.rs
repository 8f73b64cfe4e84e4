//! What Active Directory encodes its own way: the objectGUID key, `userAccountControl`, and group
//! members handed out in ranges (`member;range=0-1499`).

use ldap3::SearchEntry;

/// The key attribute of the Active Directory flavour: 16 bytes, never text.
pub const OBJECT_GUID: &str = "objectGUID";

/// The show-deleted control: searches with it also find tombstones under `CN=Deleted Objects`.
pub const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// How many member values one ranged request asks for: AD's default MaxValRange.
pub const MEMBER_RANGE_STEP: u64 = 1500;

const ACCOUNTDISABLE: u64 = 0x2;

/// The canonical text of an objectGUID: its first three fields are stored little-endian.
pub fn guid_string(bytes: &[u8]) -> Option<String> {
    let bytes: &[u8; 16] = bytes.try_into().ok()?;
    let hex = |range: &[usize]| range.iter().map(|&i| format!("{:02x}", bytes[i])).collect::<String>();
    Some(format!(
        "{}-{}-{}-{}-{}",
        hex(&[3, 2, 1, 0]),
        hex(&[5, 4]),
        hex(&[7, 6]),
        hex(&[8, 9]),
        hex(&[10, 11, 12, 13, 14, 15])
    ))
}

/// `active` from `userAccountControl`: false when the ACCOUNTDISABLE bit is set; None when the
/// value is not a number.
pub fn active_from_account_control(value: &str) -> Option<bool> {
    let flags = value.trim().parse::<i64>().ok()?;
    Some(flags as u64 & ACCOUNTDISABLE == 0)
}

/// The attribute that asks for members `low` to `low + MEMBER_RANGE_STEP - 1`.
pub fn member_range_request(member_attribute: &str, low: u64) -> String {
    format!("{member_attribute};range={low}-{}", low + MEMBER_RANGE_STEP - 1)
}

/// Where a returned range of member values leaves off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    /// `…-*`: these were the last values.
    Last,
    /// The values end at this index; the next request starts after it.
    At(u64),
}

/// The range a response's `member;range=low-high` (or `low-*`) covers; a plain `member` is the
/// whole list, `0-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRange {
    pub low: u64,
    pub end: RangeEnd,
}

const WHOLE_LIST: MemberRange = MemberRange { low: 0, end: RangeEnd::Last };

impl MemberRange {
    /// Whether this range, holding `count` values, carries on a list read up to `low`: it starts
    /// there and, unless it is the last, holds every value it spans. Anything else would make a
    /// member list that silently skips or repeats members.
    pub fn continues_at(&self, low: u64, count: usize) -> bool {
        self.low == low
            && match self.end {
                RangeEnd::Last => true,
                RangeEnd::At(high) => high.checked_sub(low).and_then(|span| span.checked_add(1)) == Some(count as u64),
            }
    }
}

/// The range of a returned attribute description, when it is `attribute;range=low-high` for
/// `member_attribute` (the name compared case-insensitively); None for any other description.
pub fn returned_range(description: &str, member_attribute: &str) -> Option<MemberRange> {
    let (name, options) = description.split_once(';')?;
    if !name.eq_ignore_ascii_case(member_attribute) {
        return None;
    }
    let range = options.split(';').find_map(|option| {
        let (key, value) = option.split_once('=')?;
        key.eq_ignore_ascii_case("range").then_some(value)
    })?;
    let (low, high) = range.split_once('-')?;
    let end = if high == "*" { RangeEnd::Last } else { RangeEnd::At(high.parse().ok()?) };
    Some(MemberRange { low: low.parse().ok()?, end })
}

/// The member values an entry carries and the range they cover: a plain `member_attribute` is
/// the whole list; None when the entry has neither.
pub fn returned_members(entry: &SearchEntry, member_attribute: &str) -> Option<(Vec<String>, MemberRange)> {
    entry.attrs.iter().find_map(|(description, values)| {
        let range = if description.eq_ignore_ascii_case(member_attribute) {
            Some(WHOLE_LIST)
        } else {
            returned_range(description, member_attribute)
        };
        range.map(|range| (values.clone(), range))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ldap3::SearchEntry;

    use super::{
        MemberRange, RangeEnd, active_from_account_control, guid_string, member_range_request, returned_members,
        returned_range,
    };

    fn range(low: u64, end: RangeEnd) -> MemberRange {
        MemberRange { low, end }
    }

    #[test]
    fn formats_object_guids_with_little_endian_leading_fields() {
        let bytes = [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(guid_string(&bytes).unwrap(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(guid_string(&bytes[..15]), None);
    }

    #[test]
    fn account_control_disable_bit_makes_users_inactive() {
        assert_eq!(active_from_account_control("512"), Some(true)); // NORMAL_ACCOUNT
        assert_eq!(active_from_account_control("514"), Some(false)); // NORMAL_ACCOUNT | ACCOUNTDISABLE
        assert_eq!(active_from_account_control("66050"), Some(false)); // … | DONT_EXPIRE_PASSWORD
        assert_eq!(active_from_account_control("66048"), Some(true));
        assert_eq!(active_from_account_control("-2147483646"), Some(false)); // AD may send it signed
        assert_eq!(active_from_account_control("enabled"), None);
    }

    #[test]
    fn asks_for_member_ranges_of_the_default_step() {
        assert_eq!(member_range_request("member", 0), "member;range=0-1499");
        assert_eq!(member_range_request("member", 1500), "member;range=1500-2999");
    }

    #[test]
    fn reads_where_a_returned_range_ends() {
        assert_eq!(returned_range("member;range=0-1499", "member"), Some(range(0, RangeEnd::At(1499))));
        assert_eq!(returned_range("Member;Range=1500-*", "member"), Some(range(1500, RangeEnd::Last)));
        assert_eq!(returned_range("member;range=1000-1999", "member"), Some(range(1000, RangeEnd::At(1999))));
        assert_eq!(returned_range("member", "member"), None);
        assert_eq!(returned_range("memberOf;range=0-*", "member"), None);
        assert_eq!(returned_range("member;range=0-x", "member"), None);
        assert_eq!(returned_range("member;range=x-9", "member"), None);
    }

    #[test]
    fn finds_members_sent_whole_or_in_a_range() {
        let entry = |description: &str| SearchEntry {
            dn: "CN=Staff,DC=example,DC=com".into(),
            attrs: HashMap::from([(description.to_owned(), vec!["CN=a".to_owned()])]),
            bin_attrs: HashMap::new(),
        };
        assert_eq!(returned_members(&entry("member"), "member"), Some((vec!["CN=a".into()], range(0, RangeEnd::Last))));
        assert_eq!(
            returned_members(&entry("member;range=0-1499"), "member"),
            Some((vec!["CN=a".into()], range(0, RangeEnd::At(1499))))
        );
        assert_eq!(returned_members(&entry("member;range=1500-*"), "member").unwrap().1, range(1500, RangeEnd::Last));
        assert_eq!(returned_members(&entry("cn"), "member"), None);
    }

    #[test]
    fn a_range_continues_a_list_only_where_it_left_off_and_whole() {
        assert!(range(1500, RangeEnd::At(2999)).continues_at(1500, 1500));
        assert!(range(1500, RangeEnd::At(2499)).continues_at(1500, 1000), "a smaller step than asked");
        assert!(range(1500, RangeEnd::Last).continues_at(1500, 7));
        assert!(!range(0, RangeEnd::At(1499)).continues_at(1500, 1500), "the first range again");
        assert!(!range(1500, RangeEnd::At(2999)).continues_at(1500, 1499), "a value missing");
        assert!(!range(0, RangeEnd::Last).continues_at(1500, 3000), "the whole list again");
        assert!(!range(1500, RangeEnd::At(1400)).continues_at(1500, 0));
    }
}
