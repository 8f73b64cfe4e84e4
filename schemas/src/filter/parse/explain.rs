//! Plain-words explanations for filters scim_v2 rejects. A walk over our tokens finds the first place
//! the filter stops making sense; what it cannot pin down falls back to scim_v2's own error.

use scim_v2::filter::ParseError;

use super::lex::{Kind, Token, is_literal, is_operator};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// An attribute path, `not (` or `(`.
    Operand,
    /// An operator, `pr` or `[`.
    AfterPath,
    /// A comparison value.
    Value,
    /// `and`, `or`, a closing bracket or the end.
    AfterTerm,
    /// As `AfterTerm`, or `.subAttr` after a value path.
    AfterValuePath,
    SubAttr,
    /// An operator or `pr` after `valuePath.subAttr`.
    AfterSubAttr,
}

const KEYWORDS: [&str; 6] = ["and", "or", "pr", "true", "false", "null"];

/// The first problem in the filter, if the token walk finds one.
pub(super) fn explain(input: &str, tokens: &[Token]) -> Option<String> {
    let mut open: Vec<Kind> = Vec::new();
    let mut state = State::Operand;
    let mut prev: Option<&str> = None;
    for (i, token) in tokens.iter().enumerate() {
        let text = token.text(input);
        let after = prev.map_or_else(|| " at the start".to_owned(), |p| format!(" after {p:?}"));
        state = match state {
            State::Operand => match token.kind {
                Kind::Word if token.is_word(input, "not") => {
                    if tokens.get(i + 1).is_none_or(|t| t.kind != Kind::Open) {
                        return Some(format!("expected \"(\" after {text:?}"));
                    }
                    State::Operand
                }
                Kind::Word if is_operator(input, token) || KEYWORDS.iter().any(|k| token.is_word(input, k)) => {
                    return Some(format!("expected an attribute name{after}, found {text:?}"));
                }
                Kind::Word => State::AfterPath,
                Kind::Open if !token.space_before && prev.is_some_and(|p| ["and", "or"].contains(&p)) => {
                    return Some(format!("expected a space between {:?} and \"(\"", prev.unwrap_or_default()));
                }
                Kind::Open => {
                    open.push(Kind::Open);
                    State::Operand
                }
                _ => return Some(format!("expected an attribute name{after}, found {text:?}")),
            },
            State::AfterPath | State::AfterSubAttr => match token.kind {
                Kind::Word if is_operator(input, token) => State::Value,
                Kind::Word if token.is_word(input, "pr") => State::AfterTerm,
                Kind::OpenBracket if state == State::AfterPath => {
                    if open.contains(&Kind::OpenBracket) {
                        return Some("a value path cannot contain another value path".to_owned());
                    }
                    open.push(Kind::OpenBracket);
                    State::Operand
                }
                _ => {
                    return Some(format!(
                        "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr){after}, found {text:?}"
                    ));
                }
            },
            State::Value if token.kind == Kind::Num && serde_json::from_str::<serde_json::Number>(text).is_err() => {
                return Some(format!("{text:?} is not a number"));
            }
            State::Value if is_literal(input, token) => {
                if !token.space_before {
                    return Some(format!("expected a space{after}"));
                }
                State::AfterTerm
            }
            State::Value if token.kind == Kind::Word => {
                return Some(format!("expected a value{after}, found {text:?} (strings are written in double quotes)"));
            }
            State::Value => return Some(format!("expected a value{after}, found {text:?}")),
            State::AfterTerm | State::AfterValuePath => match token.kind {
                Kind::Word if token.is_word(input, "and") || token.is_word(input, "or") => {
                    if !token.space_before {
                        return Some(format!("expected a space before {text:?}"));
                    }
                    State::Operand
                }
                Kind::Close | Kind::CloseBracket => {
                    let opener = if token.kind == Kind::Close { Kind::Open } else { Kind::OpenBracket };
                    if open.pop() != Some(opener) {
                        return Some(format!("{text:?} has no matching opening bracket"));
                    }
                    if token.kind == Kind::Close { State::AfterTerm } else { State::AfterValuePath }
                }
                Kind::Dot if state == State::AfterValuePath && !token.space_before => State::SubAttr,
                _ => {
                    let closer = match open.last() {
                        Some(Kind::Open) => "\")\"",
                        Some(_) => "\"]\"",
                        None => "the end of the filter",
                    };
                    return Some(format!("expected \"and\", \"or\" or {closer}{after}, found {text:?}"));
                }
            },
            State::SubAttr => match token.kind {
                Kind::Word if !token.space_before && !text.contains(['.', ':']) => State::AfterSubAttr,
                _ => {
                    return Some(format!("expected a sub-attribute name after \".\", found {text:?}"));
                }
            },
        };
        prev = Some(text);
    }
    let after = prev.map(|p| format!(" after {p:?}")).unwrap_or_default();
    match state {
        State::Operand if prev.is_none() => Some("the filter is empty".to_owned()),
        State::Operand => Some(format!("expected an attribute name{after}")),
        State::AfterPath | State::AfterSubAttr => Some(format!("expected an operator{after}")),
        State::Value => Some(format!("expected a value{after}")),
        State::SubAttr => Some("expected a sub-attribute name after \".\"".to_owned()),
        State::AfterTerm | State::AfterValuePath => match open.last() {
            Some(Kind::Open) => Some("missing \")\"".to_owned()),
            Some(_) => Some("missing \"]\"".to_owned()),
            None => None,
        },
    }
}

/// scim_v2's error, in words: its grammar's token names are not for users.
pub(super) fn describe(error: &ParseError) -> String {
    match error {
        ParseError::InvalidToken { location } => {
            format!("unexpected character at position {location}")
        }
        ParseError::UnrecognizedEof { expected, .. } => {
            format!("unexpected end{}", expected_list(expected))
        }
        ParseError::UnrecognizedToken { token: (_, token, _), expected } => {
            format!("unexpected {:?}{}", token.trim(), expected_list(expected))
        }
        ParseError::ExtraToken { token: (_, token, _) } => format!("unexpected {:?} after the end", token.trim()),
        ParseError::User { error } => error.to_string(),
    }
}

fn expected_list(expected: &[String]) -> String {
    let mut names: Vec<String> = Vec::new();
    for name in expected {
        let name = match name.as_str() {
            "StringLit" => "a string".to_owned(),
            "NumberLit" => "a number".to_owned(),
            "AttrNameTok" | "AttrPathTok" => "an attribute name".to_owned(),
            quoted => quoted.to_owned(),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(", expected {one}"),
        [init @ .., last] => format!(", expected {} or {last}", init.join(", ")),
    }
}
