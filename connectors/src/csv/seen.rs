//! Duplicate detection that keeps memory flat on a file of a million rows: a 128-bit fingerprint
//! of each lower-cased value is kept instead of the value.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hasher};

#[derive(Default)]
pub(crate) struct SeenValues {
    fingerprints: HashSet<u128>,
}

impl SeenValues {
    /// Remembers `value`; false when a value equal to it ignoring case was remembered before.
    pub(crate) fn insert_ignoring_case(&mut self, value: &str) -> bool {
        self.fingerprints.insert(fingerprint(&value.to_lowercase()))
    }
}

/// Two SipHash values under different prefixes: at a million values, a false duplicate has odds
/// of about 2^-89.
fn fingerprint(value: &str) -> u128 {
    (u128::from(prefixed_hash(0, value)) << 64) | u128::from(prefixed_hash(1, value))
}

fn prefixed_hash(prefix: u8, value: &str) -> u64 {
    // DefaultHasher::new() uses fixed keys, so equal values hash alike for the whole run.
    let mut hasher = DefaultHasher::new();
    hasher.write_u8(prefix);
    hasher.write(value.as_bytes());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::SeenValues;

    #[test]
    fn a_value_is_new_only_once_whatever_its_case() {
        let mut seen = SeenValues::default();
        assert!(seen.insert_ignoring_case("Hong@Example.com"));
        assert!(!seen.insert_ignoring_case("hong@example.com"));
        assert!(!seen.insert_ignoring_case("HONG@EXAMPLE.COM"));
        assert!(seen.insert_ignoring_case("kim@example.com"));
    }

    #[test]
    fn folds_non_ascii_letters() {
        let mut seen = SeenValues::default();
        assert!(seen.insert_ignoring_case("ÉLODIE@example.com"));
        assert!(!seen.insert_ignoring_case("élodie@example.com"));
    }
}
