//! Writes a synthetic CSV bulk-registration file for benchmarks, the same for a given seed:
//!
//! ```text
//! cargo run --release -p scimd-connectors --example gen_csv -- --rows 100000 --out users.csv
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "support/generator.rs"]
mod generator;

use generator::SplitMix64;

const USAGE: &str = "\
usage: gen_csv --rows N --out PATH [--groups G] [--seed S] [--inactive-every K]

  --rows N            data rows to write (users User 000001, user000001@example.com, ...)
  --out PATH          the CSV file to write
  --groups G          group ids dept_001..dept_G to pick 1 to 3 from per row; 0 leaves GroupIdList empty (default 20)
  --seed S            the seed of the group choice (default 1)
  --inactive-every K  every K-th row is INACTIVE; 0 for none (default 0)";

const MAX_GROUPS_PER_ROW: u64 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rows: u64,
    out: PathBuf,
    groups: u64,
    seed: u64,
    inactive_every: u64,
}

fn main() -> ExitCode {
    generator::run("gen_csv", USAGE, parse_args(std::env::args().skip(1)), |options: &Options| {
        write_file(options)
            .map(|()| format!("wrote {} rows to {}", options.rows, options.out.display()))
            .map_err(|error| format!("cannot write {}: {error}", options.out.display()))
    })
}

/// The options, or None when help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let (mut rows, mut out) = (None, None);
    let mut options = Options { rows: 0, out: PathBuf::new(), groups: 20, seed: 1, inactive_every: 0 };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag} takes a whole number, not {value:?}"));
        match flag.as_str() {
            "--rows" => rows = Some(number()?),
            "--out" => out = Some(PathBuf::from(&value)),
            "--groups" => options.groups = number()?,
            "--seed" => options.seed = number()?,
            "--inactive-every" => options.inactive_every = number()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    options.rows = rows.ok_or("--rows is required")?;
    options.out = out.ok_or("--out is required")?;
    Ok(Some(options))
}

fn write_file(options: &Options) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&options.out)?);
    write_users(&mut out, options)?;
    out.flush()
}

fn write_users(out: &mut impl Write, options: &Options) -> io::Result<()> {
    writeln!(out, "{}", scimd_connectors::csv::REPORT_COLUMNS.join(","))?;
    let mut random = SplitMix64(options.seed);
    let mut groups = Vec::new();
    for n in 1..=options.rows {
        write!(out, "User {n:06},user{n:06}@example.com,user{n:06}@example.com,")?;
        pick_groups(&mut random, options.groups, &mut groups);
        for (i, group) in groups.iter().enumerate() {
            let separator = if i == 0 { "" } else { " " };
            write!(out, "{separator}dept_{group:03}")?;
        }
        let inactive = options.inactive_every > 0 && n % options.inactive_every == 0;
        writeln!(out, ",{}", if inactive { "INACTIVE" } else { "ACTIVE" })?;
    }
    Ok(())
}

/// 1 to 3 distinct group numbers in 1..=`available`, ascending.
fn pick_groups(random: &mut SplitMix64, available: u64, groups: &mut Vec<u64>) {
    groups.clear();
    if available == 0 {
        return;
    }
    let count = 1 + random.below(MAX_GROUPS_PER_ROW.min(available));
    while (groups.len() as u64) < count {
        let group = 1 + random.below(available);
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups.sort_unstable();
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use scimd_connectors::SourceItem;
    use scimd_connectors::csv::{CsvSummary, inspect, records};

    use super::{Options, parse_args, write_users};

    fn options(rows: u64, seed: u64, inactive_every: u64) -> Options {
        Options { rows, out: "unused.csv".into(), groups: 20, seed, inactive_every }
    }

    fn generate(options: &Options) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_users(&mut bytes, options).unwrap();
        bytes
    }

    #[test]
    fn writes_rows_every_one_a_valid_user() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&generate(&options(500, 7, 10))).unwrap();
        file.flush().unwrap();

        assert_eq!(inspect(file.path()).unwrap(), CsvSummary { rows: 500 });
        let items: Vec<_> = records(file.path()).unwrap().map(Result::unwrap).collect();
        let inactive = items
            .iter()
            .filter(|item| match item {
                SourceItem::Record(record) => {
                    let groups = &record.groups.as_ref().unwrap().groups;
                    assert!((1..=3).contains(&groups.len()));
                    record.fields.iter().any(|field| field.path == "active" && field.value == false)
                }
                other => panic!("expected a record, got {other:?}"),
            })
            .count();
        assert_eq!(inactive, 50);
    }

    #[test]
    fn the_same_seed_writes_the_same_file() {
        let first = generate(&options(100, 42, 0));
        assert_eq!(first, generate(&options(100, 42, 0)));
        assert_ne!(first, generate(&options(100, 43, 0)));
        let text = String::from_utf8(first).unwrap();
        assert!(
            text.lines().nth(1).unwrap().starts_with("User 000001,user000001@example.com,user000001@example.com,dept_")
        );
    }

    #[test]
    fn without_groups_the_group_cells_are_empty() {
        let bytes = generate(&Options { groups: 0, ..options(3, 1, 0) });
        assert!(String::from_utf8(bytes).unwrap().ends_with("user000003@example.com,,ACTIVE\n"));
    }

    #[test]
    fn parses_arguments() {
        let args = |line: &str| parse_args(line.split_whitespace().map(String::from));
        let parsed = args("--rows 10 --out a.csv --groups 5 --seed 9 --inactive-every 3").unwrap().unwrap();
        assert_eq!(parsed, Options { rows: 10, out: "a.csv".into(), groups: 5, seed: 9, inactive_every: 3 });
        assert_eq!(args("--out a.csv --rows 2").unwrap().unwrap().groups, 20);
        assert_eq!(args("--help").unwrap(), None);
        assert!(args("--out a.csv").is_err());
        assert!(args("--rows ten --out a.csv").is_err());
        assert!(args("--rows 1 --out a.csv --colour red").is_err());
        assert!(args("--rows").is_err());
    }
}
