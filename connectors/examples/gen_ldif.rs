//! Writes a synthetic directory as LDIF for `tests/ldap/slapd.sh start DIR FILE`, the same for a
//! given seed:
//!
//! ```text
//! cargo run --release -p scimd-connectors --example gen_ldif -- --users 100000 --groups 1000 \
//!     --big-group-members 50000 --out directory.ldif
//! ```
//!
//! slapadd bypasses overlays, so the file carries what slapd would have added: the operational
//! attributes and each user's `memberOf`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "support/generator.rs"]
mod generator;

use generator::SplitMix64;

const USAGE: &str = "\
usage: gen_ldif --users N --groups G --out PATH [--big-group-members M] [--seed S]

  --users N              inetOrgPerson entries uid=user000001,ou=people,dc=example,dc=com ...
  --groups G             groupOfNames entries cn=group00000,ou=groups,dc=example,dc=com ...; each user is in 1 to 3
                         of groups 1..G-1, and a group nobody drew gets one member
  --out PATH             the LDIF file to write
  --big-group-members M  group 0 holds users 1..M as well (default 0)
  --seed S               the seed of the group choice and the entryUUIDs (default 1)";

const PEOPLE: &str = "ou=people,dc=example,dc=com";
const GROUPS: &str = "ou=groups,dc=example,dc=com";
const CREATOR: &str = "cn=admin,dc=example,dc=com";
const TIMESTAMP: &str = "20250101000000Z";
const MAX_GROUPS_PER_USER: u64 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    users: u64,
    groups: u64,
    out: PathBuf,
    big_group_members: u64,
    seed: u64,
}

fn main() -> ExitCode {
    generator::run("gen_ldif", USAGE, parse_args(std::env::args().skip(1)), |options: &Options| {
        write_file(options)
            .map(|()| {
                format!("wrote {} users and {} groups to {}", options.users, options.groups, options.out.display())
            })
            .map_err(|error| format!("cannot write {}: {error}", options.out.display()))
    })
}

/// The options, or None when help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let (mut users, mut groups, mut out) = (None, None, None);
    let mut options = Options { users: 0, groups: 0, out: PathBuf::new(), big_group_members: 0, seed: 1 };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag} takes a whole number, not {value:?}"));
        match flag.as_str() {
            "--users" => users = Some(number()?),
            "--groups" => groups = Some(number()?),
            "--out" => out = Some(PathBuf::from(&value)),
            "--big-group-members" => options.big_group_members = number()?,
            "--seed" => options.seed = number()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    options.users = users.ok_or("--users is required")?;
    options.groups = groups.ok_or("--groups is required")?;
    options.out = out.ok_or("--out is required")?;
    if options.groups > 0 && options.users == 0 {
        return Err("a groupOfNames needs a member: --groups needs --users 1 or more".to_owned());
    }
    if options.big_group_members > options.users {
        return Err(format!("--big-group-members {} exceeds --users {}", options.big_group_members, options.users));
    }
    if options.big_group_members > 0 && options.groups == 0 {
        return Err("--big-group-members needs --groups 1 or more".to_owned());
    }
    Ok(Some(options))
}

fn write_file(options: &Options) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&options.out)?);
    write_directory(&mut out, options)?;
    out.flush()
}

fn write_directory(out: &mut impl Write, options: &Options) -> io::Result<()> {
    let mut random = SplitMix64(options.seed);
    let memberships = Memberships::draw(&mut random, options);
    for user in 1..=options.users {
        write_user(out, &mut random, user, memberships.groups_of(user))?;
    }
    for group in 0..options.groups {
        write_group(out, &mut random, group, &memberships.members[group as usize])?;
    }
    Ok(())
}

/// Who is in which group, both ways round: groups list their members and users their memberOf.
struct Memberships {
    /// Per user (index user - 1): the groups, ascending.
    user_groups: Vec<Vec<u32>>,
    /// Per group: the users, ascending.
    members: Vec<Vec<u32>>,
}

impl Memberships {
    fn draw(random: &mut SplitMix64, options: &Options) -> Self {
        let (users, groups) = (options.users as usize, options.groups as usize);
        let mut user_groups = vec![Vec::new(); users];
        for (index, groups_of_user) in user_groups.iter_mut().enumerate() {
            if (index as u64) < options.big_group_members {
                groups_of_user.push(0);
            }
            if groups > 1 {
                let count = 1 + random.below(MAX_GROUPS_PER_USER.min(groups as u64 - 1));
                while (groups_of_user.iter().filter(|&&group| group != 0).count() as u64) < count {
                    let group = 1 + random.below(groups as u64 - 1) as u32;
                    if !groups_of_user.contains(&group) {
                        groups_of_user.push(group);
                    }
                }
            }
        }
        let mut members = vec![Vec::new(); groups];
        for (index, groups_of_user) in user_groups.iter().enumerate() {
            for &group in groups_of_user {
                members[group as usize].push(index as u32 + 1);
            }
        }
        for (group, group_members) in members.iter_mut().enumerate() {
            if group_members.is_empty() {
                let user = group % users;
                group_members.push(user as u32 + 1);
                user_groups[user].push(group as u32);
            }
        }
        for groups_of_user in &mut user_groups {
            groups_of_user.sort_unstable();
        }
        Self { user_groups, members }
    }

    fn groups_of(&self, user: u64) -> &[u32] {
        &self.user_groups[user as usize - 1]
    }
}

fn write_user(out: &mut impl Write, random: &mut SplitMix64, user: u64, groups: &[u32]) -> io::Result<()> {
    writeln!(out, "dn: uid=user{user:06},{PEOPLE}")?;
    writeln!(out, "objectClass: inetOrgPerson")?;
    writeln!(out, "uid: user{user:06}\ncn: User {user:06}\ngivenName: User\nsn: {user:06}")?;
    writeln!(out, "mail: user{user:06}@example.com")?;
    write_operational(out, random, "inetOrgPerson")?;
    for group in groups {
        writeln!(out, "memberOf: cn=group{group:05},{GROUPS}")?;
    }
    writeln!(out)
}

fn write_group(out: &mut impl Write, random: &mut SplitMix64, group: u64, members: &[u32]) -> io::Result<()> {
    writeln!(out, "dn: cn=group{group:05},{GROUPS}")?;
    writeln!(out, "objectClass: groupOfNames\ncn: group{group:05}")?;
    write_operational(out, random, "groupOfNames")?;
    for user in members {
        writeln!(out, "member: uid=user{user:06},{PEOPLE}")?;
    }
    writeln!(out)
}

/// What slapd adds to an entry it creates; entryCSN counts a change per entry in its first field.
fn write_operational(out: &mut impl Write, random: &mut SplitMix64, structural_class: &str) -> io::Result<()> {
    writeln!(out, "structuralObjectClass: {structural_class}")?;
    writeln!(out, "entryUUID: {}", uuid(random))?;
    writeln!(out, "creatorsName: {CREATOR}\ncreateTimestamp: {TIMESTAMP}")?;
    writeln!(out, "entryCSN: 20250101000000.000000Z#000000#000#000000")?;
    writeln!(out, "modifiersName: {CREATOR}\nmodifyTimestamp: {TIMESTAMP}")
}

/// A random (version 4) UUID in its canonical text.
fn uuid(random: &mut SplitMix64) -> String {
    let (high, low) = (random.next(), random.next());
    let high = (high & !0xF000) | 0x4000;
    let low = (low & !(0xC << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Options, SplitMix64, parse_args, uuid, write_directory};

    fn options(users: u64, groups: u64, big_group_members: u64) -> Options {
        Options { users, groups, out: "unused.ldif".into(), big_group_members, seed: 7 }
    }

    fn generate(options: &Options) -> String {
        let mut bytes = Vec::new();
        write_directory(&mut bytes, options).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    /// Each entry's DN and its values of `attribute`.
    fn values_by_dn(ldif: &str, attribute: &str) -> HashMap<String, Vec<String>> {
        let prefix = format!("{attribute}: ");
        ldif.split("\n\n")
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let dn = entry.lines().next().unwrap().strip_prefix("dn: ").unwrap().to_owned();
                let values = entry.lines().filter_map(|line| line.strip_prefix(&prefix)).map(str::to_owned).collect();
                (dn, values)
            })
            .collect()
    }

    #[test]
    fn members_and_member_of_agree_and_every_group_has_a_member() {
        let ldif = generate(&options(300, 40, 120));
        let members = values_by_dn(&ldif, "member");
        let member_of = values_by_dn(&ldif, "memberOf");
        let groups: Vec<_> = members.iter().filter(|(dn, _)| dn.starts_with("cn=group")).collect();
        assert_eq!(groups.len(), 40);
        let mut pairs_from_groups = Vec::new();
        for (group, users) in groups {
            assert!(!users.is_empty(), "{group} has no member");
            pairs_from_groups.extend(users.iter().map(|user| (user.clone(), group.clone())));
        }
        let mut pairs_from_users: Vec<_> = member_of
            .iter()
            .flat_map(|(user, groups)| groups.iter().map(|group| (user.clone(), group.clone())))
            .collect();
        pairs_from_groups.sort();
        pairs_from_users.sort();
        assert_eq!(pairs_from_groups, pairs_from_users);
        assert_eq!(members["cn=group00000,ou=groups,dc=example,dc=com"].len(), 120);
        for (user, groups) in member_of.iter().filter(|(dn, _)| dn.starts_with("uid=")) {
            let ordinary = groups.iter().filter(|group| !group.starts_with("cn=group00000")).count();
            assert!(ordinary >= 1, "{user} is in no ordinary group: {groups:?}");
        }
    }

    #[test]
    fn entries_carry_what_slapadd_does_not_add() {
        let ldif = generate(&options(2, 1, 0));
        let first = ldif.split("\n\n").next().unwrap();
        for attribute in
            ["entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp", "creatorsName", "structuralObjectClass"]
        {
            assert!(first.contains(&format!("\n{attribute}: ")), "{attribute} missing in {first}");
        }
        let uuids = values_by_dn(&ldif, "entryUUID");
        let mut distinct: Vec<_> = uuids.values().flatten().collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn the_same_seed_writes_the_same_file() {
        let first = generate(&options(50, 5, 10));
        assert_eq!(first, generate(&options(50, 5, 10)));
        assert_ne!(first, generate(&Options { seed: 8, ..options(50, 5, 10) }));
        assert!(first.starts_with("dn: uid=user000001,ou=people,dc=example,dc=com\n"));
    }

    #[test]
    fn uuids_are_canonical_version_4() {
        let uuid = uuid(&mut SplitMix64(1));
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{uuid}");
    }

    #[test]
    fn parses_arguments() {
        let args = |line: &str| parse_args(line.split_whitespace().map(String::from));
        let parsed = args("--users 10 --groups 2 --out a.ldif --big-group-members 5 --seed 9").unwrap().unwrap();
        assert_eq!(parsed, Options { users: 10, groups: 2, out: "a.ldif".into(), big_group_members: 5, seed: 9 });
        assert_eq!(args("--help").unwrap(), None);
        assert!(args("--groups 1 --out a.ldif").is_err());
        assert!(args("--users 0 --groups 1 --out a.ldif").is_err());
        assert!(args("--users 3 --groups 1 --out a.ldif --big-group-members 4").is_err());
        assert!(args("--users 1 --groups 1 --out a.ldif --colour red").is_err());
    }
}
