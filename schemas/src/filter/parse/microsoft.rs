//! The Microsoft form `emails[type eq "work"].value eq "x"`: a value path followed by a test on a
//! sub-attribute of the same element. Entra ID sends it; RFC 7644's grammar has no place for it, so we
//! cut such segments out before scim_v2 sees the filter and parse their pieces separately.

use std::ops::Range;

use super::lex::{Kind, Token, is_literal, is_operator};

/// Byte ranges of one `attr[filter].sub test` segment.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    /// `attr[filter]`
    pub value_path: Range<usize>,
    /// `sub`
    pub sub: Range<usize>,
    /// `op value` or `pr`
    pub test: Range<usize>,
}

impl Segment {
    pub fn whole(&self) -> Range<usize> {
        self.value_path.start..self.test.end
    }
}

pub(super) fn find_segments(input: &str, tokens: &[Token]) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut open: Vec<(Kind, usize)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        match token.kind {
            Kind::Open | Kind::OpenBracket => open.push((token.kind, i)),
            Kind::Close => {
                open.pop();
            }
            Kind::CloseBracket => {
                let Some((Kind::OpenBracket, bracket)) = open.pop() else {
                    continue;
                };
                // Value paths do not nest; a bracket inside one is scim_v2's error to report.
                if open.iter().any(|(kind, _)| *kind == Kind::OpenBracket) {
                    continue;
                }
                let Some(path) = bracket.checked_sub(1).map(|p| &tokens[p]).filter(|t| t.kind == Kind::Word) else {
                    continue;
                };
                if let Some((sub, test)) = trailing_test(input, &tokens[i + 1..]) {
                    segments.push(Segment { value_path: path.start..token.end, sub, test });
                }
            }
            _ => {}
        }
    }
    segments
}

/// `.sub op value` or `.sub pr` right after a value path's `]`.
fn trailing_test(input: &str, rest: &[Token]) -> Option<(Range<usize>, Range<usize>)> {
    let [dot, sub, next, ..] = rest else {
        return None;
    };
    let attached = |t: &Token| !t.space_before;
    let plain_name = |t: &Token| t.kind == Kind::Word && !t.text(input).contains(['.', ':']);
    if dot.kind != Kind::Dot || !attached(dot) || !plain_name(sub) || !attached(sub) || !next.space_before {
        return None;
    }
    if next.is_word(input, "pr") {
        return Some((sub.span(), next.span()));
    }
    let value = rest.get(3)?;
    (is_operator(input, next) && is_literal(input, value) && value.space_before)
        .then(|| (sub.span(), next.start..value.end))
}
