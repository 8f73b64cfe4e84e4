//! Filters parsed by their shape. Identity providers send the same few filters with other values
//! (`userName eq "…"` on every provisioning cycle), and most of a parse is scim_v2's generated lexer,
//! which builds its regex cache anew on every call (a tenth of a `userName eq` request's CPU,
//! measured with perf). So each thread keeps the parse of a filter's shape, its text with every
//! string literal replaced by a numbered placeholder, and a filter of a known shape is that tree
//! with its literals put back. A string literal never changes how the rest of a filter parses
//! (scim_v2 lexes it as one token and decodes it with `serde_json`, as here).

use std::cell::RefCell;
use std::collections::HashMap;

use super::lex::{self, Kind};
use crate::filter::{CompValue, Filter};

/// Shapes kept per thread; the map starts over when full.
const SHAPES_KEPT: usize = 256;

/// Starts every placeholder: a private-use character, so that a placeholder is never a value.
const MARK: char = '\u{F8FF}';

thread_local! {
    static SHAPES: RefCell<HashMap<String, Filter>> = RefCell::new(HashMap::new());
}

/// The filter, if `input` is a filter whose shape parses; `None` leaves the whole work, and any
/// error message, to the full parse.
pub(super) fn parse_by_shape(input: &str, parse: impl Fn(&str) -> Option<Filter>) -> Option<Filter> {
    let tokens = lex::tokenize(input).ok()?;
    let mut shape = String::with_capacity(input.len());
    let mut values = Vec::new();
    let mut copied = 0;
    for token in tokens.iter().filter(|t| t.kind == Kind::Str) {
        values.push(serde_json::from_str::<String>(token.text(input)).ok()?);
        shape.push_str(&input[copied..token.start]);
        shape.push_str(&format!("\"{MARK}{}\"", values.len() - 1));
        copied = token.end;
    }
    shape.push_str(&input[copied..]);
    let known = SHAPES.with(|shapes| shapes.borrow().get(&shape).cloned());
    let mut filter = match known {
        Some(filter) => filter,
        None => {
            let filter = parse(&shape)?;
            SHAPES.with(|shapes| {
                let mut shapes = shapes.borrow_mut();
                if shapes.len() >= SHAPES_KEPT {
                    shapes.clear();
                }
                shapes.insert(shape, filter.clone());
            });
            filter
        }
    };
    let mut filled = 0;
    fill(&mut filter, &mut values, &mut filled);
    (filled == values.len()).then_some(filter)
}

/// Puts each placeholder's value back; counts the placeholders it filled.
fn fill(filter: &mut Filter, values: &mut [String], filled: &mut usize) {
    match filter {
        Filter::Compare(_, _, CompValue::Str(text)) => {
            let slot = text.strip_prefix(MARK).and_then(|n| n.parse::<usize>().ok());
            if let Some(value) = slot.and_then(|n| values.get_mut(n)) {
                *text = std::mem::take(value);
                *filled += 1;
            }
        }
        Filter::Compare(..) | Filter::Present(_) => {}
        Filter::ValuePath { filter, then, .. } => {
            fill(filter, values, filled);
            if let Some(then) = then {
                fill(then, values, filled);
            }
        }
        Filter::Not(inner) => fill(inner, values, filled),
        Filter::And(items) | Filter::Or(items) => items.iter_mut().for_each(|f| fill(f, values, filled)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::parse_whole;
    use super::parse_by_shape;

    fn by_shape(input: &str) -> Option<crate::filter::Filter> {
        parse_by_shape(input, |shape| parse_whole(shape).ok())
    }

    #[test]
    fn a_known_shape_takes_the_new_values() {
        let first = by_shape(r#"userName eq "alice""#).expect("parses");
        let second = by_shape(r#"userName eq "bob""#).expect("parses");
        assert_eq!(first, parse_whole(r#"userName eq "alice""#).unwrap());
        assert_eq!(second, parse_whole(r#"userName eq "bob""#).unwrap());
    }

    #[test]
    fn what_the_shape_cannot_tell_is_left_to_the_full_parse() {
        assert_eq!(by_shape(r#"userName eq "bad \q escape""#), None);
        assert_eq!(by_shape(r#"userName eq "#), None);
        assert_eq!(by_shape(r#"userName zz "x""#), None);
    }

    fn literal() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 @._-]{0,12}".prop_map(|s| format!("{s:?}")),
            Just(r#""a\"b\\c""#.to_owned()),
            Just(r#""\u00e9t\u00E9""#.to_owned()),
            Just("\"\u{F8FF}0\"".to_owned()),
            Just(r#""scimdSegment0""#.to_owned()),
            Just(r#"") or (x eq ""#.to_owned()),
            Just(r#""bad \q""#.to_owned()),
            Just("42".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
        ]
    }

    fn term() -> impl Strategy<Value = String> {
        let path = prop_oneof![
            Just("userName"),
            Just("name.familyName"),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            Just("emails[type eq \"work\"].value"),
            Just("emails[type eq \"work\" and primary eq true]"),
        ];
        let op = prop_oneof![Just("eq"), Just("ne"), Just("co"), Just("sw"), Just("gt"), Just("pr"), Just("zz")];
        (path, op, literal()).prop_map(|(path, op, value)| match (path.ends_with(']'), op) {
            (true, _) => path.to_owned(),
            (false, "pr") => format!("{path} pr"),
            (false, op) => format!("{path} {op} {value}"),
        })
    }

    fn filter() -> impl Strategy<Value = String> {
        term().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or {b}")),
                inner.clone().prop_map(|a| format!("not({a})")),
                inner.prop_map(|a| format!("emails[value sw \"x\" and ({a})]")),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_shape_parses_as_the_whole_filter_does(input in filter()) {
            let whole = parse_whole(&input).ok();
            // Twice: the first parses the shape, the second finds it kept.
            for _ in 0..2 {
                match by_shape(&input) {
                    Some(filter) => prop_assert_eq!(Some(filter), whole.clone()),
                    None => prop_assert!(whole.is_none(), "{} parses whole only", input),
                }
            }
        }
    }
}
