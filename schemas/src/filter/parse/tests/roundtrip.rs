//! Property tests: Display output parses back to the same tree, and no input makes the parser panic.

use proptest::prelude::*;

use super::super::*;

const URNS: [&str; 2] =
    ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];

const RESERVED: [&str; 16] =
    ["and", "or", "not", "pr", "true", "false", "null", "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

fn name() -> BoxedStrategy<String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
        .prop_filter("not a keyword", |n| !RESERVED.iter().any(|k| n.eq_ignore_ascii_case(k)))
        .boxed()
}

fn attr_path() -> BoxedStrategy<AttrPath> {
    (proptest::option::of(proptest::sample::select(&URNS[..])), name(), proptest::option::of(name()))
        .prop_map(|(urn, name, sub)| AttrPath { urn: urn.map(str::to_owned), name, sub })
        .boxed()
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        // serde_json (without `float_roundtrip`) may misread the last digit of a 17-digit float, so
        // decimals stay short.
        (any::<i32>(), 0..4_i32).prop_filter_map("finite", |(m, e)| {
            serde_json::Number::from_f64(f64::from(m) / 10_f64.powi(e)).map(CompValue::Number)
        }),
        any::<String>().prop_map(CompValue::Str),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn test_on(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        path.clone().prop_map(Filter::Present),
        (path, compare_op(), comp_value()).prop_map(|(p, op, v)| Filter::Compare(p, op, v)),
    ]
}

/// `and`/`or`/`not` over `leaf`, a few levels deep.
fn tree(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let inner = tree(test_on(attr_path()).boxed());
    let value_path = (
        (proptest::option::of(proptest::sample::select(&URNS[..])), name()),
        inner,
        proptest::option::of(test_on(name().prop_map(|n| AttrPath::new(&n)).boxed())),
    )
        .prop_map(|((urn, name), filter, then)| Filter::ValuePath {
            attr: AttrPath { urn: urn.map(str::to_owned), name, sub: None },
            filter: Box::new(filter),
            then: then.map(Box::new),
        });
    tree(prop_oneof![3 => test_on(attr_path()), 1 => value_path].boxed())
}

/// The parser flattens `(a and b) and c` into one `and`, as scim_v2 does.
fn normalise(filter: Filter) -> Filter {
    fn flatten(items: Vec<Filter>, same: fn(&Filter) -> Option<&Vec<Filter>>) -> Vec<Filter> {
        let mut out = Vec::new();
        for item in items.into_iter().map(normalise) {
            match same(&item) {
                Some(children) => out.extend(children.iter().cloned()),
                None => out.push(item),
            }
        }
        out
    }
    match filter {
        Filter::And(items) => Filter::And(flatten(items, |f| if let Filter::And(c) = f { Some(c) } else { None })),
        Filter::Or(items) => Filter::Or(flatten(items, |f| if let Filter::Or(c) = f { Some(c) } else { None })),
        Filter::Not(inner) => Filter::Not(Box::new(normalise(*inner))),
        Filter::ValuePath { attr, filter, then } => {
            Filter::ValuePath { attr, filter: Box::new(normalise(*filter)), then }
        }
        leaf => leaf,
    }
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_tree(filter in filter()) {
        let text = filter.to_string();
        let parsed = parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {}", e.detail)))?;
        prop_assert_eq!(parsed, normalise(filter), "{}", text);
    }

    #[test]
    fn patch_paths_round_trip(attr in attr_path(), filter in proptest::option::of(tree(test_on(attr_path()).boxed())), sub in proptest::option::of(name())) {
        let path = match filter {
            Some(filter) => PatchPath { attr: AttrPath { sub: None, ..attr }, filter: Some(filter), sub },
            None => PatchPath { attr, filter: None, sub: None },
        };
        let text = path.to_string();
        let parsed = parse_path(&text).map_err(|e| TestCaseError::fail(format!("{text}: {}", e.detail)))?;
        prop_assert_eq!(parsed, PatchPath { filter: path.filter.map(normalise), ..path }, "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        let _ = parse_filter(&input);
        let _ = parse_path(&input);
    }

    #[test]
    fn filter_like_text_never_panics(input in r#"([a-z]{1,3}|not|and|or|pr|eq|co|"[^"]{0,3}"?|-?[0-9.e]{1,3}|[ ()\[\].:\\]){0,25}"#) {
        let _ = parse_filter(&input);
        let _ = parse_path(&input);
    }
}
