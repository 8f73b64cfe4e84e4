//! A small tokenizer over the raw filter text. scim_v2 does the real parsing; these tokens let us
//! rewrite the two extensions it does not accept (`not(` and `valuePath.subAttr op value`) without
//! touching string literals, and explain a rejected filter in plain words.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An attribute path, keyword, operator or `true`/`false`/`null`.
    Word,
    Str,
    Num,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Dot,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub space_before: bool,
}

impl Token {
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        &input[self.start..self.end]
    }

    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    pub fn is_word(&self, input: &str, word: &str) -> bool {
        self.kind == Kind::Word && self.text(input).eq_ignore_ascii_case(word)
    }
}

pub(super) const OPERATORS: [&str; 9] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

pub(super) fn is_operator(input: &str, token: &Token) -> bool {
    OPERATORS.iter().any(|op| token.is_word(input, op))
}

pub(super) fn is_literal(input: &str, token: &Token) -> bool {
    matches!(token.kind, Kind::Str | Kind::Num) || ["true", "false", "null"].iter().any(|w| token.is_word(input, w))
}

/// Splits `input` into tokens, or says which character cannot start one.
pub(super) fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut space_before = false;
    while i < bytes.len() {
        let start = i;
        let c = input[i..].chars().next().unwrap_or_default();
        if c.is_whitespace() {
            space_before = true;
            i += c.len_utf8();
            continue;
        }
        let kind = match c {
            '(' => Kind::Open,
            ')' => Kind::Close,
            '[' => Kind::OpenBracket,
            ']' => Kind::CloseBracket,
            '.' => Kind::Dot,
            '"' => {
                i = string_end(bytes, i + 1)
                    .ok_or_else(|| format!("the string {} is not closed with a double quote", &input[start..]))?;
                Kind::Str
            }
            '-' | '0'..='9' => {
                i = scan(bytes, i + 1, |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
                Kind::Num
            }
            c if c.is_ascii_alphabetic() => {
                i = scan(bytes, i + 1, |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'.'));
                Kind::Word
            }
            other => return Err(format!("unexpected character {other:?}")),
        };
        if matches!(kind, Kind::Open | Kind::Close | Kind::OpenBracket | Kind::CloseBracket | Kind::Dot) {
            i += 1;
        }
        tokens.push(Token { kind, start, end: i, space_before });
        space_before = false;
    }
    Ok(tokens)
}

fn scan(bytes: &[u8], mut i: usize, accept: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && accept(bytes[i]) {
        i += 1;
    }
    i
}

/// The index just past the closing quote of a string whose contents start at `i`. Scanning bytes is
/// safe: no byte of a multi-byte UTF-8 character is ASCII.
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Inserts the space scim_v2 requires between `not` and its parenthesis (`not(x)` → `not (x)`).
pub(super) fn space_after_not(input: &str) -> Result<String, String> {
    let tokens = tokenize(input)?;
    let mut out = String::with_capacity(input.len() + 4);
    let mut copied = 0;
    for pair in tokens.windows(2) {
        if pair[0].is_word(input, "not") && pair[1].kind == Kind::Open && !pair[1].space_before {
            out.push_str(&input[copied..pair[0].end]);
            out.push(' ');
            copied = pair[0].end;
        }
    }
    out.push_str(&input[copied..]);
    Ok(out)
}
