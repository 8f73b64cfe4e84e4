use super::*;
use crate::error::ScimType;

mod roundtrip;

fn parse(input: &str) -> Filter {
    parse_filter(input).unwrap_or_else(|e| panic!("{input:?} should parse: {}", e.detail))
}

fn error(input: &str) -> String {
    let err = parse_filter(input).expect_err(input);
    assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{input:?}");
    assert_eq!(err.status, 400);
    err.detail
}

fn path(name: &str) -> AttrPath {
    AttrPath::new(name)
}

fn cmp(name: &str, op: CompareOp, value: &str) -> Filter {
    Filter::Compare(path(name), op, CompValue::Str(value.to_owned()))
}

fn pr(name: &str) -> Filter {
    Filter::Present(path(name))
}

#[test]
fn every_operator() {
    let ops = [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ];
    for (word, op) in ops {
        assert_eq!(parse(&format!("userName {word} \"x\"")), cmp("userName", op, "x"));
        let upper = word.to_uppercase();
        assert_eq!(parse(&format!("userName {upper} \"x\"")), cmp("userName", op, "x"));
    }
    assert_eq!(parse("title pr"), pr("title"));
    assert_eq!(parse("title PR"), pr("title"));
}

#[test]
fn literals() {
    assert_eq!(parse("active eq true"), Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(true)));
    assert_eq!(parse("active eq false"), Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(false)));
    assert_eq!(parse("title eq null"), Filter::Compare(path("title"), CompareOp::Eq, CompValue::Null));
    assert_eq!(parse("n gt 42"), Filter::Compare(path("n"), CompareOp::Gt, CompValue::Number(42.into())));
    let Filter::Compare(_, _, CompValue::Number(n)) = parse("n le -1.5e3") else { panic!("a number") };
    assert_eq!(n.as_f64(), Some(-1500.0));
}

#[test]
fn escaped_strings() {
    assert_eq!(parse(r#"title eq "a \"quoted\" word""#), cmp("title", CompareOp::Eq, "a \"quoted\" word"));
    assert_eq!(parse(r#"title eq "back\\slash""#), cmp("title", CompareOp::Eq, "back\\slash"));
    assert_eq!(parse(r#"title eq "tab\there\u00e9""#), cmp("title", CompareOp::Eq, "tab\there\u{e9}"));
    assert_eq!(parse(r#"title eq "née ] ( [ )""#), cmp("title", CompareOp::Eq, "née ] ( [ )"));
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(parse("a pr or b pr and c pr"), Filter::Or(vec![pr("a"), Filter::And(vec![pr("b"), pr("c")])]));
    assert_eq!(parse("a pr and b pr or c pr"), Filter::Or(vec![Filter::And(vec![pr("a"), pr("b")]), pr("c")]));
    assert_eq!(parse("a pr and b pr and c pr"), Filter::And(vec![pr("a"), pr("b"), pr("c")]));
    assert_eq!(parse("a pr OR b pr Or c pr"), Filter::Or(vec![pr("a"), pr("b"), pr("c")]));
}

#[test]
fn not_binds_tightest_and_grouping_overrides() {
    assert_eq!(parse("not (a pr) and b pr"), Filter::And(vec![Filter::Not(Box::new(pr("a"))), pr("b")]));
    assert_eq!(parse("(a pr or b pr) and c pr"), Filter::And(vec![Filter::Or(vec![pr("a"), pr("b")]), pr("c")]));
    assert_eq!(parse("((a pr))"), pr("a"));
    assert_eq!(parse("(a pr and b pr) and c pr"), Filter::And(vec![pr("a"), pr("b"), pr("c")]));
}

#[test]
fn not_without_a_space() {
    let expected = Filter::Not(Box::new(cmp("userName", CompareOp::Eq, "a")));
    assert_eq!(parse(r#"not(userName eq "a")"#), expected);
    assert_eq!(parse(r#"NOT(userName eq "a")"#), expected);
    assert_eq!(parse(r#"not (userName eq "a")"#), expected);
    assert_eq!(
        parse(r#"a pr and not(b eq "not(")"#),
        Filter::And(vec![pr("a"), Filter::Not(Box::new(cmp("b", CompareOp::Eq, "not(")))])
    );
    assert_eq!(
        parse(r#"emails[not(type eq "work")]"#),
        Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::Not(Box::new(cmp("type", CompareOp::Eq, "work")))),
            then: None
        }
    );
}

#[test]
fn urn_qualified_names() {
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_eq!(
        parse(&format!("{core}:userName eq \"x\"")),
        Filter::Compare(
            AttrPath { urn: Some(core.to_owned()), name: "userName".to_owned(), sub: None },
            CompareOp::Eq,
            CompValue::Str("x".to_owned())
        )
    );
    assert_eq!(
        parse(&format!("{enterprise}:manager.value eq \"x\"")),
        Filter::Compare(
            AttrPath { urn: Some(enterprise.to_owned()), name: "manager".to_owned(), sub: Some("value".to_owned()) },
            CompareOp::Eq,
            CompValue::Str("x".to_owned())
        )
    );
    assert_eq!(
        parse("name.familyName co \"O'Malley\""),
        Filter::Compare(AttrPath::with_sub("name", "familyName"), CompareOp::Co, CompValue::Str("O'Malley".to_owned()))
    );
}

#[test]
fn value_paths() {
    assert_eq!(
        parse(r#"emails[type eq "work" and value co "@example.com"]"#),
        Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::And(vec![
                cmp("type", CompareOp::Eq, "work"),
                cmp("value", CompareOp::Co, "@example.com")
            ])),
            then: None
        }
    );
    assert_eq!(
        parse(r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#),
        Filter::And(vec![
            cmp("userType", CompareOp::Eq, "Employee"),
            Filter::ValuePath {
                attr: path("emails"),
                filter: Box::new(Filter::And(vec![
                    cmp("type", CompareOp::Eq, "work"),
                    cmp("value", CompareOp::Co, "@example.com")
                ])),
                then: None
            }
        ])
    );
}

fn work_email(then: Filter) -> Filter {
    Filter::ValuePath {
        attr: path("emails"),
        filter: Box::new(cmp("type", CompareOp::Eq, "work")),
        then: Some(Box::new(then)),
    }
}

#[test]
fn microsoft_value_path_with_trailing_test() {
    let eq = work_email(cmp("value", CompareOp::Eq, "x"));
    assert_eq!(parse(r#"emails[type eq "work"].value eq "x""#), eq);
    assert_eq!(parse(r#"emails[type eq "work"].value pr"#), work_email(pr("value")));
    assert_eq!(
        parse(r#"emails[type eq "work"].primary eq true"#),
        work_email(Filter::Compare(path("primary"), CompareOp::Eq, CompValue::Bool(true)))
    );
    assert_eq!(
        parse(r#"userName eq "a" and (emails[type eq "work"].value eq "x" or emails[type eq "work"].value pr)"#),
        Filter::And(vec![cmp("userName", CompareOp::Eq, "a"), Filter::Or(vec![eq.clone(), work_email(pr("value"))])])
    );
    assert_eq!(parse(r#"not(emails[type eq "work"].value eq "x")"#), Filter::Not(Box::new(eq.clone())));
    // Brackets, quotes and dots inside strings do not confuse the rewrite.
    assert_eq!(
        parse(r#"emails[type eq "w]o\"r(k"].value eq "].x pr""#),
        work_email_with("w]o\"r(k", cmp("value", CompareOp::Eq, "].x pr"))
    );
    assert_eq!(eq.to_string(), r#"emails[type eq "work"].value eq "x""#);
}

fn work_email_with(kind: &str, then: Filter) -> Filter {
    Filter::ValuePath {
        attr: path("emails"),
        filter: Box::new(cmp("type", CompareOp::Eq, kind)),
        then: Some(Box::new(then)),
    }
}

#[test]
fn a_placeholder_lookalike_in_the_filter_is_left_alone() {
    assert_eq!(
        parse(r#"scimdSegment0 pr and emails[type eq "work"].value pr"#),
        Filter::And(vec![pr("scimdSegment0"), work_email(pr("value"))])
    );
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(error("userName eq"), r#"invalid filter "userName eq": expected a value after "eq""#);
    assert_eq!(error("   "), "the filter is empty");
    assert_eq!(error(""), "the filter is empty");
    assert!(error("userName").contains(r#"expected an operator after "userName""#));
    assert!(error(r#"userName eq bjensen"#).contains("double quotes"));
    assert!(error(r#"userName eq "bjensen"#).contains("not closed"));
    assert!(error(r#"(userName eq "a""#).contains(r#"missing ")""#));
    assert!(error(r#"userName eq "a")"#).contains("no matching opening"));
    assert!(error(r#"emails[type eq "a""#).contains(r#"missing "]""#));
    assert!(error(r#"userName xx "a""#).contains(r#"expected an operator"#));
    assert!(error(r#"userName eq "a" userName eq "b""#).contains(r#"expected "and", "or" or the end"#));
    assert!(error(r#""a" eq "a""#).contains("expected an attribute name at the start"));
    assert!(error(r#"userName eq "a" and"#).contains(r#"expected an attribute name after "and""#));
    assert!(error(r#"userName eq "a" & x"#).contains("unexpected character '&'"));
    assert!(error(r#"emails[value[x pr]]"#).contains("cannot contain another value path"));
    assert!(error(r#"emails[type eq "w"].value"#).contains("expected an operator after \"value\""));
    assert!(error(r#"name.a.b pr"#).contains("more than one sub-attribute"));
    assert!(error(r#"not userName pr"#).contains(r#"expected "(" after "not""#));
    for input in [
        "userName eq",
        "a pr and",
        "x[",
        "((a pr)",
        "a eq 01",
        "a eq 1.",
        "a eq 1 and",
        ")",
        "emails[type eq \"w\"].value eq x",
    ] {
        eprintln!("{input:?} -> {}", error(input));
        let detail = error(input);
        assert!(!detail.contains("Token") && !detail.contains("UnrecognizedToken"), "{detail}");
    }
}

#[test]
fn limits_are_kept() {
    let deep = format!("{}a pr{}", "not (".repeat(100), ")".repeat(100));
    assert!(error(&deep).contains("depth"));
    let many = vec!["a pr"; 2000].join(" or ");
    assert!(error(&many).contains("terms"));
    let segment = r#"emails[type eq "work"].value pr"#;
    let many_segments = vec![segment; 600].join(" or ");
    assert!(error(&many_segments).contains("1024 terms"), "{}", error(&many_segments));
}

#[test]
fn patch_paths() {
    let p = parse_path("userName").expect("plain");
    assert_eq!(p, PatchPath { attr: path("userName"), filter: None, sub: None });
    let p = parse_path("name.familyName").expect("sub-attribute");
    assert_eq!(p, PatchPath { attr: AttrPath::with_sub("name", "familyName"), filter: None, sub: None });
    let p = parse_path(r#"emails[type eq "work"]"#).expect("value path");
    assert_eq!(p, PatchPath { attr: path("emails"), filter: Some(cmp("type", CompareOp::Eq, "work")), sub: None });
    let p = parse_path(r#"addresses[type eq "work"].streetAddress"#).expect("value path with sub");
    assert_eq!(p.sub.as_deref(), Some("streetAddress"));
    assert_eq!(p.to_string(), r#"addresses[type eq "work"].streetAddress"#);
    let p = parse_path(r#"members[not(value eq "2819c223")]"#).expect("not(");
    assert!(matches!(p.filter, Some(Filter::Not(_))));
    let p = parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").expect("urn");
    assert_eq!(p.attr.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert_eq!(p.attr.sub.as_deref(), Some("value"));

    for bad in ["", "emails[type eq]", "userName eq \"x\"", "emails[type eq \"work\"", "a.b.c"] {
        let err = parse_path(bad).expect_err(bad);
        assert_eq!(err.scim_type, Some(ScimType::InvalidPath), "{bad}");
        assert!(!err.detail.contains("Token"), "{}", err.detail);
    }
}
