//! The email format CSV accepts in Email and UserId. Strict enough to catch typos and shifted
//! columns; the RFC 5322 corner cases no directory uses (quoted local parts, IP literals) fail.

const MAX_LENGTH: usize = 254;

pub(crate) fn is_email(value: &str) -> bool {
    if value.chars().count() > MAX_LENGTH {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    is_local_part(local) && is_domain(domain)
}

fn is_local_part(local: &str) -> bool {
    !local.is_empty() && !local.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_domain(domain: &str) -> bool {
    domain.contains('.') && domain.split('.').all(is_label)
}

/// A DNS label; non-ASCII letters are allowed for internationalised domains.
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn accepts_ordinary_addresses() {
        for valid in [
            "a@b.c",
            "hong@example.com",
            "first.last+tag@mail.example.co.kr",
            "o'brien@example.com",
            "user_1@sub-domain.example.com",
            "UPPER@EXAMPLE.COM",
            "hong@회사.한국",
            "123@456.789",
        ] {
            assert!(is_email(valid), "{valid} should be valid");
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        for invalid in [
            "",
            "plain",
            "@example.com",
            "hong@",
            "hong@example",
            "hong@@example.com",
            "ho@ng@example.com",
            "hong gil@example.com",
            "hong@exa mple.com",
            "hong@example..com",
            "hong@.example.com",
            "hong@example.com.",
            "hong@-example.com",
            "hong@example-.com",
            "hong@exam_ple.com",
            "hong@example.com ",
            " hong@example.com",
            "hong\t@example.com",
            "hong\u{0}@example.com",
        ] {
            assert!(!is_email(invalid), "{invalid:?} should be invalid");
        }
    }

    #[test]
    fn limits_the_total_length_to_254_characters() {
        let domain = format!("{}.com", "d".repeat(60));
        let fits = format!("{}@{domain}", "l".repeat(254 - 1 - domain.len()));
        assert_eq!(fits.len(), 254);
        assert!(is_email(&fits));
        assert!(!is_email(&format!("l{fits}")));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let local = "가".repeat(200);
        assert!(is_email(&format!("{local}@example.com")));
    }
}
