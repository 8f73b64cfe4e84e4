//! DN normalization, so that a group's `member` value and the member's own DN compare equal: the
//! directory may spell one DN `CN=Kim\, Ana, OU=People,DC=example,DC=com` and the other
//! `cn=kim\2c ana,ou=people,dc=example,dc=com`.

/// The DN lower-cased, without spaces around `,`, `+` and `=`, and with every escape in one form: a
/// character that must be escaped as `\c`, any other escaped character as itself.
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut part = Part::default();
    let mut chars = dn.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(first) if first.is_ascii_hexdigit() && chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                    let second = chars.next().unwrap_or('0');
                    let byte = (hex_value(first) << 4) | hex_value(second);
                    part.push_escaped_byte(byte);
                }
                Some(escaped) => part.push_escaped(escaped),
                None => {}
            },
            '=' if !part.in_value => {
                out.push_str(&part.take_type());
                out.push('=');
                part.in_value = true;
            }
            ',' | ';' | '+' if part.in_value => {
                out.push_str(&part.take_value());
                out.push(if c == '+' { '+' } else { ',' });
                part.in_value = false;
            }
            _ => part.push(c),
        }
    }
    if part.in_value {
        out.push_str(&part.take_value());
    } else {
        out.push_str(&part.take_type());
    }
    out
}

/// The text of one attribute type or value being read: its characters, whether each was escaped
/// (escaped spaces are kept when the rest is trimmed), and escaped UTF-8 bytes still being gathered.
#[derive(Default)]
struct Part {
    chars: Vec<(char, bool)>,
    pending_bytes: Vec<u8>,
    in_value: bool,
}

impl Part {
    fn push(&mut self, c: char) {
        self.flush_bytes();
        self.chars.push((c, false));
    }

    fn push_escaped(&mut self, c: char) {
        self.flush_bytes();
        self.chars.push((c, true));
    }

    fn push_escaped_byte(&mut self, byte: u8) {
        self.pending_bytes.push(byte);
    }

    fn flush_bytes(&mut self) {
        if !self.pending_bytes.is_empty() {
            let text = String::from_utf8_lossy(&self.pending_bytes).into_owned();
            self.chars.extend(text.chars().map(|c| (c, true)));
            self.pending_bytes.clear();
        }
    }

    fn trimmed(&mut self) -> Vec<(char, bool)> {
        self.flush_bytes();
        let mut chars = std::mem::take(&mut self.chars);
        let is_plain_space = |&(c, escaped): &(char, bool)| c == ' ' && !escaped;
        while chars.last().is_some_and(is_plain_space) {
            chars.pop();
        }
        let leading = chars.iter().take_while(|c| is_plain_space(c)).count();
        chars.drain(..leading);
        chars
    }

    fn take_type(&mut self) -> String {
        self.trimmed().into_iter().flat_map(|(c, _)| c.to_lowercase()).collect()
    }

    fn take_value(&mut self) -> String {
        let chars = self.trimmed();
        let last = chars.len().saturating_sub(1);
        let mut value = String::with_capacity(chars.len());
        for (i, (c, _)) in chars.into_iter().enumerate() {
            let needs_escape = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                || (i == 0 && (c == '#' || c == ' '))
                || (i == last && c == ' ');
            if needs_escape {
                value.push('\\');
            }
            value.extend(c.to_lowercase());
        }
        value
    }
}

fn hex_value(digit: char) -> u8 {
    digit.to_digit(16).map_or(0, |value| value as u8)
}

#[cfg(test)]
mod tests {
    use super::normalize_dn;

    #[test]
    fn lower_cases_and_drops_spaces_around_separators() {
        assert_eq!(
            normalize_dn("CN=Ana Kim, OU=People ,DC = Example,DC=com"),
            "cn=ana kim,ou=people,dc=example,dc=com"
        );
        assert_eq!(normalize_dn("uid=ana,ou=people,dc=example,dc=com"), "uid=ana,ou=people,dc=example,dc=com");
    }

    #[test]
    fn keeps_escaped_commas_inside_values() {
        assert_eq!(
            normalize_dn(r"CN=Kim\, Ana,OU=People,DC=example,DC=com"),
            r"cn=kim\, ana,ou=people,dc=example,dc=com"
        );
        assert_eq!(normalize_dn(r"cn=Kim\2C Ana,ou=people"), r"cn=kim\, ana,ou=people");
        assert_eq!(normalize_dn(r"cn=Kim\2c Ana,ou=people"), normalize_dn(r"CN=Kim\, Ana , OU=People"));
    }

    #[test]
    fn decodes_escaped_utf8_and_other_escapes() {
        assert_eq!(normalize_dn(r"cn=Ren\C3\A9,ou=People"), "cn=rené,ou=people");
        assert_eq!(normalize_dn(r"cn=a\+b+uid=X,ou=p"), r"cn=a\+b+uid=x,ou=p");
        assert_eq!(normalize_dn(r"cn=\#hash,ou=p"), r"cn=\#hash,ou=p");
        assert_eq!(normalize_dn(r"cn=back\\slash"), r"cn=back\\slash");
    }

    #[test]
    fn keeps_escaped_spaces_at_the_ends_of_values() {
        assert_eq!(normalize_dn(r"cn=\ padded\ ,ou=p"), r"cn=\ padded\ ,ou=p");
        assert_eq!(normalize_dn(r"cn=\20padded\20 , ou=p"), r"cn=\ padded\ ,ou=p");
    }

    #[test]
    fn handles_empty_and_semicolon_separated_dns() {
        assert_eq!(normalize_dn(""), "");
        assert_eq!(normalize_dn("CN=a;OU=b"), "cn=a,ou=b");
    }
}
