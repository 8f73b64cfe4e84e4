//! Filters run in the database (DESIGN.md §2). The property test generates random filters over
//! random users and checks that what SQLite and PostgreSQL select equals what the in-memory
//! evaluator (the oracle in scimd-schemas) selects from the same rendered resources.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scimd_schemas::filter::{AttrPath, CompValue, CompareOp, Filter, matches};
use scimd_schemas::schema::{Registry, ResourceKind};
use serde_json::{Value, json};

use crate::both_databases;
use crate::fixture::{Db, TestApp};

pub const HR: &str = "urn:example:params:scim:schemas:extension:hr:1.0:User";

pub fn hr_schema() -> String {
    json!({
        "id": HR,
        "name": "HR",
        "description": "A custom extension declared at start-up",
        "attributes": [
            {"name": "level", "type": "integer", "multiValued": false, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "score", "type": "decimal", "multiValued": false, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "hired", "type": "dateTime", "multiValued": false, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "contractor", "type": "boolean", "multiValued": false, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "tags", "type": "string", "multiValued": true, "required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "badge", "type": "string", "multiValued": false, "required": false, "caseExact": true, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
            {"name": "badgeSerial", "type": "string", "multiValued": false, "required": false, "caseExact": true, "mutability": "immutable", "returned": "default", "uniqueness": "none"}
        ]
    })
    .to_string()
}

/// A server whose configuration declares the HR extension, and the registry the oracle uses.
pub async fn app_with_hr(db: Db) -> Option<(TestApp, Registry, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hr.json");
    std::fs::write(&file, hr_schema()).expect("schema file");
    let app = TestApp::builder(db)
        .config(move |config| {
            config.scim.extensions.push(scimd::config::ExtensionConfig { resource: "User".into(), file });
        })
        .start()
        .await?;
    let mut registry = Registry::builtin();
    registry.add_extension(ResourceKind::User, &hr_schema()).expect("HR schema");
    Some((app, registry, dir))
}

const WORDS: &[&str] = &[
    "alpha",
    "Alpha",
    "ALPHA",
    "alphabet",
    "beta",
    "Beta",
    "al",
    "ph",
    "a",
    "zeta",
    "é",
    "o'brien",
    "50%",
    "under_score",
    "x\"y",
];
const HIRED: &[&str] = &[
    "2020-01-01T10:00:00Z",
    "2020-01-01T12:00:00+02:00",
    "2020-01-01T10:00:00.500Z",
    "2021-06-30T23:59:59Z",
    "2019-12-31T23:00:00-01:00",
];

const EMAIL_TYPES: [&str; 3] = ["work", "home", "Work"];

fn word(rng: &mut StdRng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

fn random_user(rng: &mut StdRng, i: usize) -> Value {
    let mut user = json!({"userName": format!("{}-{i}", word(rng))});
    let emails: Vec<Value> = (0..rng.random_range(0..3))
        .map(|k| json!({"value": format!("{}@{}.com", word(rng), word(rng)), "type": EMAIL_TYPES[rng.random_range(0..3)], "primary": k == 0}))
        .collect();
    let candidates = [
        ("displayName", json!(word(rng))),
        ("externalId", json!(word(rng))),
        ("nickName", json!(word(rng))),
        ("active", json!(rng.random_bool(0.5))),
        ("name", json!({"familyName": word(rng), "givenName": word(rng)})),
        ("emails", json!(emails)),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            json!({"employeeNumber": word(rng), "manager": {"value": word(rng)}}),
        ),
    ];
    for (key, value) in candidates {
        if rng.random_bool(0.7) {
            user[key] = value;
        }
    }
    let mut hr = serde_json::Map::new();
    if rng.random_bool(0.7) {
        hr.insert("level".into(), json!(rng.random_range(0..5)));
    }
    if rng.random_bool(0.7) {
        hr.insert("score".into(), json!([1.5, 2.25, -0.5, 3.0][rng.random_range(0..4)]));
    }
    if rng.random_bool(0.7) {
        hr.insert("hired".into(), json!(HIRED[rng.random_range(0..HIRED.len())]));
    }
    if rng.random_bool(0.7) {
        hr.insert("contractor".into(), json!(rng.random_bool(0.5)));
    }
    if rng.random_bool(0.7) {
        hr.insert("tags".into(), json!((0..rng.random_range(1..3)).map(|_| word(rng)).collect::<Vec<_>>()));
    }
    if rng.random_bool(0.7) {
        hr.insert("badge".into(), json!(word(rng)));
    }
    if !hr.is_empty() {
        user[HR] = Value::Object(hr);
    }
    user
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    Bool,
    Number,
    Date,
}

/// Filterable paths with their types.
const PATHS: &[(&str, Kind)] = &[
    ("userName", Kind::Str),
    ("displayName", Kind::Str),
    ("externalId", Kind::Str),
    ("nickName", Kind::Str),
    ("name.familyName", Kind::Str),
    ("NAME.givenname", Kind::Str),
    ("active", Kind::Bool),
    ("emails", Kind::Str),
    ("emails.value", Kind::Str),
    ("emails.type", Kind::Str),
    ("emails.primary", Kind::Bool),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", Kind::Str),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", Kind::Str),
    ("urn:ietf:params:scim:schemas:extension:scimd:2.0:User:status", Kind::Str),
    ("urn:ietf:params:scim:schemas:core:2.0:User:userName", Kind::Str),
    ("level", Kind::Number),
    ("score", Kind::Number),
    ("hired", Kind::Date),
    ("contractor", Kind::Bool),
    ("tags", Kind::Str),
    ("badge", Kind::Str),
    ("groups.display", Kind::Str),
    ("groups.type", Kind::Str),
    ("meta.created", Kind::Date),
];

fn attr_path(path: &str) -> AttrPath {
    let (urn, rest) = match path.rsplit_once(':') {
        Some((urn, rest)) => (Some(urn.to_owned()), rest),
        None => (None, path),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name.to_owned(), Some(sub.to_owned())),
        None => (rest.to_owned(), None),
    };
    AttrPath { urn, name, sub }
}

fn string_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        proptest::sample::select(WORDS).prop_map(|w| CompValue::Str(w.to_owned())),
        proptest::sample::select(
            &[
                "", "A", "alp", "ALP", "ha", "work", "home", "active", "inactive", "direct", "indirect", "Group-0",
                "team", "-1", ".com"
            ][..]
        )
        .prop_map(|w| CompValue::Str(w.to_owned())),
    ]
}

fn leaf(created: Vec<String>) -> impl Strategy<Value = Filter> {
    let ops = proptest::sample::select(
        &[
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ][..],
    );
    let ordering = proptest::sample::select(
        &[CompareOp::Eq, CompareOp::Ne, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le][..],
    );
    (
        proptest::sample::select(PATHS),
        ops,
        ordering,
        string_value(),
        any::<bool>(),
        -1i64..6,
        proptest::sample::select(HIRED),
        proptest::sample::select(created),
        0..4u8,
    )
        .prop_map(|((path, kind), op, ordering, text, flag, number, hired, created, shape)| {
            let path_ = attr_path(path);
            if shape == 0 {
                return Filter::Present(path_);
            }
            if shape == 1 {
                let op = if flag { CompareOp::Eq } else { CompareOp::Ne };
                return Filter::Compare(path_, op, CompValue::Null);
            }
            match kind {
                Kind::Str => Filter::Compare(path_, op, text),
                Kind::Bool => Filter::Compare(
                    path_,
                    if flag { CompareOp::Eq } else { CompareOp::Ne },
                    CompValue::Bool(number % 2 == 0),
                ),
                Kind::Number => {
                    let value = if flag {
                        serde_json::Number::from(number)
                    } else {
                        serde_json::Number::from_f64(number as f64 * 0.75).expect("finite")
                    };
                    Filter::Compare(path_, ordering, CompValue::Number(value))
                }
                Kind::Date if path == "meta.created" => Filter::Compare(path_, ordering, CompValue::Str(created)),
                Kind::Date => Filter::Compare(path_, ordering, CompValue::Str(hired.to_owned())),
            }
        })
}

fn email_value_filter() -> impl Strategy<Value = Filter> {
    let inner = prop_oneof![
        string_value().prop_map(|v| Filter::Compare(AttrPath::new("type"), CompareOp::Eq, v)),
        string_value().prop_map(|v| Filter::Compare(AttrPath::new("value"), CompareOp::Co, v)),
        any::<bool>().prop_map(|b| Filter::Compare(AttrPath::new("primary"), CompareOp::Eq, CompValue::Bool(b))),
        Just(Filter::Present(AttrPath::new("type"))),
    ];
    let inner = inner.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(vec![a, b])),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(vec![a, b])),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    });
    (inner, proptest::option::of(string_value())).prop_map(|(filter, then)| Filter::ValuePath {
        attr: AttrPath::new("emails"),
        filter: Box::new(filter),
        then: then.map(|v| Box::new(Filter::Compare(AttrPath::new("value"), CompareOp::Sw, v))),
    })
}

fn filter_strategy(created: Vec<String>) -> impl Strategy<Value = Filter> {
    let leaf = prop_oneof![4 => leaf(created), 1 => email_value_filter()];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn ids(resources: &Value) -> BTreeSet<String> {
    resources["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

fn database_matches_the_evaluator(db: Db, cases: u32) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some((app, registry, _dir)) = runtime.block_on(app_with_hr(db)) else { return };
    let mut rng = StdRng::seed_from_u64(7);
    let docs: Vec<Value> = runtime.block_on(async {
        let mut user_ids = Vec::new();
        for i in 0..60 {
            user_ids.push(app.user(random_user(&mut rng, i)).await);
        }
        // Nested groups, so `groups` holds direct and indirect entries.
        let inner = app.group(json!({"displayName": "Group-0 team", "members": [{"value": user_ids[0]}, {"value": user_ids[1]}, {"value": user_ids[2]}]})).await;
        app.group(json!({"displayName": "outer", "members": [{"value": inner}, {"value": user_ids[2]}, {"value": user_ids[3]}]})).await;
        let all = app.list("/Users", &[("count", "1000")]).await.expect(200).body;
        // `status` is returned on request only; the evaluator needs it in the documents.
        let status = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:status";
        let owned = app.list("/Users", &[("count", "1000"), ("attributes", status)]).await.expect(200).body;
        let mut docs = all["Resources"].as_array().expect("Resources").clone();
        for (doc, owned) in docs.iter_mut().zip(owned["Resources"].as_array().expect("Resources")) {
            assert_eq!(doc["id"], owned["id"], "both lists are in creation order");
            let scimd = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
            let ext = doc.as_object_mut().expect("object").entry(scimd).or_insert_with(|| json!({}));
            ext.as_object_mut().expect("object").extend(owned[scimd].as_object().expect("status").clone());
        }
        docs
    });
    let created: Vec<String> =
        docs.iter().map(|d| d["meta"]["created"].as_str().expect("created").to_owned()).collect();
    let schema = registry.of(ResourceKind::User);
    let mut runner = TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() });
    runner
        .run(&filter_strategy(created), |filter| {
            let text = filter.to_string();
            let expected: Result<BTreeSet<String>, _> = docs
                .iter()
                .filter_map(|doc| match matches(&filter, schema, doc) {
                    Ok(true) => Some(Ok(doc["id"].as_str().expect("id").to_owned())),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect();
            let reply = runtime
                .block_on(app.list("/Users", &[("filter", text.as_str()), ("count", "1000"), ("attributes", "id")]));
            match expected {
                Ok(expected) => {
                    prop_assert_eq!(reply.status.as_u16(), 200, "{} → {}", text, reply.body);
                    prop_assert_eq!(ids(&reply.body), expected, "{:?}: {}", db, text);
                    prop_assert_eq!(reply.body["totalResults"].as_u64(), Some(ids(&reply.body).len() as u64));
                }
                Err(e) => {
                    prop_assert_eq!(
                        reply.status.as_u16(),
                        400,
                        "evaluator refused {} ({}), server answered {}",
                        text,
                        e.detail,
                        reply.body
                    );
                }
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// Cases per database; `SCIMD_FILTER_CASES=5000` searches harder.
fn cases() -> u32 {
    std::env::var("SCIMD_FILTER_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(400)
}

#[test]
fn sqlite_selects_what_the_evaluator_selects() {
    database_matches_the_evaluator(Db::Sqlite, cases());
}

#[test]
fn postgres_selects_what_the_evaluator_selects() {
    database_matches_the_evaluator(Db::Postgres, cases());
}

both_databases! {
    async fn rfc_7644_example_filters_run(app: TestApp) {
        let id = app.user(crate::users::bjensen()).await;
        app.user(json!({"userName": "jsmith", "name": {"familyName": "Smith"}, "title": "Tour Guide"})).await;
        let cases: &[(&str, usize)] = &[
            (r#"userName Eq "bjensen@example.com""#, 1),
            (r#"name.familyName co "O'Malley""#, 0),
            (r#"userName sw "J""#, 1),
            (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, 1),
            (r#"title pr"#, 1),
            (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, 2),
            (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, 0),
            (r#"title pr and userType eq "Employee""#, 0),
            (r#"title pr or userType eq "Intern""#, 1),
            (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, 0),
            (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, 1),
            (r#"emails[type eq "work" and value co "@example.com"]"#, 1),
            (r#"emails[type eq "work"].value eq "bjensen@example.com""#, 1),
            (r#"not(userName eq "jsmith")"#, 1),
            (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#, 1),
        ];
        for (filter, expected) in cases {
            let reply = app.list("/Users", &[("filter", filter)]).await.expect(200);
            assert_eq!(reply.body["totalResults"], *expected, "{filter}: {}", reply.body);
        }
        let reply = app.list("/Users", &[("filter", &format!("id eq \"{id}\""))]).await.expect(200);
        assert_eq!(reply.body["Resources"][0]["id"], id.as_str());
    }
}

both_databases! {
    async fn plus_signs_in_the_query_are_spaces(app: TestApp) {
        app.user(json!({"userName": "plus@example.com"})).await;
        let url = format!("{}?filter=userName+eq+%22plus@example.com%22", app.url("/Users"));
        let reply = app.send(app.client.get(url).bearer_auth(&app.token)).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1);
    }
}

both_databases! {
    async fn bad_filters_are_400_invalid_filter_naming_the_problem(app: TestApp) {
        for (filter, needle) in [
            ("userName eq", "value"),
            ("userName zz \"a\"", "zz"),
            ("nosuch eq \"a\"", "nosuch"),
            ("active gt true", "active"),
            ("userName gt 5", "userName"),
            ("(userName eq \"a\"", ")"),
            ("meta.created gt \"yesterday\"", "yesterday"),
        ] {
            let reply = app.list("/Users", &[("filter", filter)]).await.expect_error(400, Some("invalidFilter"));
            let detail = reply.body["detail"].as_str().expect("detail");
            assert!(detail.contains(needle), "{filter}: {detail}");
        }
    }
}

async fn custom_extension_attributes_filter_and_sort_like_core_ones(db: Db) {
    let Some((app, _registry, _dir)) = app_with_hr(db).await else { return };
    for (name, level) in [("low", 1), ("high", 4), ("mid", 2)] {
        app.user(json!({"userName": name, HR: {"level": level, "badge": name.to_uppercase()}})).await;
    }
    let reply = app
        .list(
            "/Users",
            &[("filter", &format!("{HR}:level ge 2")), ("sortBy", &format!("{HR}:level")), ("sortOrder", "descending")],
        )
        .await
        .expect(200);
    let names: Vec<&str> = reply.body["Resources"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["userName"].as_str().expect("userName"))
        .collect();
    assert_eq!(names, ["high", "mid"]);
    assert_eq!(reply.body["Resources"][0][HR]["badge"], "HIGH");
    let schemas = app.get("/Schemas").await.expect(200).body;
    assert!(schemas["Resources"].as_array().expect("list").iter().any(|s| s["id"] == HR));
    let types = app.get("/ResourceTypes/User").await.expect(200).body;
    assert!(types["schemaExtensions"].as_array().expect("list").iter().any(|s| s["schema"] == HR));
}

async fn immutable_attributes_cannot_change_through_put(db: Db) {
    let Some((app, _registry, _dir)) = app_with_hr(db).await else { return };
    let id = app.user(json!({"userName": "imm", HR: {"badgeSerial": "B-1"}})).await;
    let path = format!("/Users/{id}");
    let reply = app
        .put(&path, &json!({"userName": "imm", HR: {"badgeSerial": "B-2"}}))
        .await
        .expect_error(400, Some("mutability"));
    assert!(reply.body["detail"].as_str().expect("detail").contains("badgeSerial"), "{}", reply.body);
    let reply = app
        .put(&path, &json!({"userName": "imm", "nickName": "same serial", HR: {"badgeSerial": "B-1"}}))
        .await
        .expect(200);
    assert_eq!(reply.body[HR]["badgeSerial"], "B-1");
    assert_eq!(app.get(&path).await.body["nickName"], "same serial");
}

#[tokio::test]
async fn immutable_on_sqlite() {
    immutable_attributes_cannot_change_through_put(Db::Sqlite).await;
}

#[tokio::test]
async fn immutable_on_postgres() {
    immutable_attributes_cannot_change_through_put(Db::Postgres).await;
}

#[tokio::test]
async fn custom_extension_on_sqlite() {
    custom_extension_attributes_filter_and_sort_like_core_ones(Db::Sqlite).await;
}

#[tokio::test]
async fn custom_extension_on_postgres() {
    custom_extension_attributes_filter_and_sort_like_core_ones(Db::Postgres).await;
}
