//! Cursor paging (RFC 9865): `cursor` and `nextCursor` on lists and searches.

use scimd::store::Role;
use serde_json::{Value, json};

use crate::filters::{HR, app_with_hr};
use crate::fixture::{Db, TestApp};
use crate::search::search;
use crate::{both_databases, both_databases_with};

/// Every page of a walk that starts with an empty cursor and follows `nextCursor` to the end.
async fn walk(app: &TestApp, path: &str, query: &[(&str, &str)], count: u64) -> Vec<Value> {
    let count_text = count.to_string();
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut pairs = query.to_vec();
        pairs.extend([("cursor", cursor.as_str()), ("count", count_text.as_str())]);
        let page = app.list(path, &pairs).await.expect(200).body;
        let items = page["Resources"].as_array().expect("Resources").len() as u64;
        assert_eq!(page["itemsPerPage"].as_u64(), Some(items), "{page:#}");
        assert!(items <= count, "{items} rows on a page of {count}");
        assert!(page.get("startIndex").is_none(), "a cursor page has no startIndex: {page:#}");
        let next = page.get("nextCursor").map(|c| c.as_str().expect("nextCursor is a string").to_owned());
        if next.is_some() {
            assert_eq!(items, count, "only the last page may be short");
        }
        pages.push(page);
        assert!(pages.len() <= 100, "the walk ends");
        match next {
            Some(next) => cursor = next,
            None => return pages,
        }
    }
}

fn resources(pages: &[Value]) -> Vec<Value> {
    pages.iter().flat_map(|p| p["Resources"].as_array().expect("Resources").clone()).collect()
}

fn user_names(pages: &[Value]) -> Vec<String> {
    resources(pages).iter().map(|r| r["userName"].as_str().expect("userName").to_owned()).collect()
}

fn first_cursor(page: &Value) -> String {
    page["nextCursor"].as_str().expect("nextCursor").to_owned()
}

both_databases! {
    async fn walks_every_user_once_in_insertion_order(app: TestApp) {
        let expected: Vec<String> = (0..23).map(|i| format!("u{i:02}")).collect();
        for name in &expected {
            app.user(json!({"userName": name})).await;
        }
        for count in [1, 5, 23, 100] {
            let pages = walk(&app, "/Users", &[], count).await;
            assert_eq!(user_names(&pages), expected, "count {count}");
            assert!(pages.iter().all(|p| p["totalResults"] == 23), "count {count}");
            assert_eq!(pages.len() as u64, 23u64.div_ceil(count).max(1), "count {count}");
        }
        let reply = app.list("/Groups", &[("cursor", "")]).await.expect(200);
        assert_eq!(reply.body, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0, "itemsPerPage": 0, "Resources": []
        }));
    }
}

/// Sort keys with ties, case differences and missing values: for each attribute, its value per
/// user (in insertion order) and the expected ascending order. Descending is the ascending order
/// of the users that have a value, reversed, then those without, reversed: ties and missing values
/// follow insertion order in the sort's direction, and missing values always come last.
fn sort_cases() -> Vec<(String, [Value; 8], [usize; 8])> {
    let n = Value::Null;
    vec![
        (
            "userName".into(),
            ["bob", "Amy", "carl", "amber", "Bea", "zed", "Dan", "al"].map(Value::from),
            [7, 3, 1, 4, 0, 2, 6, 5],
        ),
        (
            "displayName".into(),
            [json!("b"), json!("A"), n.clone(), json!("a"), json!("B"), n.clone(), json!("c"), json!("b")],
            [1, 3, 0, 4, 7, 6, 2, 5],
        ),
        (
            "externalId".into(),
            [json!("x2"), n.clone(), json!("x1"), json!("x2"), json!("X9"), n.clone(), json!("x1"), json!("x0")],
            [4, 7, 2, 6, 0, 3, 1, 5],
        ),
        (
            "name.familyName".into(),
            [
                json!("Smith"),
                n.clone(),
                json!("jones"),
                json!("smith"),
                json!("Adams"),
                json!("JONES"),
                n.clone(),
                json!("b"),
            ],
            [4, 7, 2, 5, 0, 3, 1, 6],
        ),
        (
            "active".into(),
            [json!(true), json!(false), n.clone(), json!(true), json!(false), n.clone(), json!(false), json!(true)],
            [1, 4, 6, 0, 3, 7, 2, 5],
        ),
        (
            format!("{HR}:level"),
            [json!(3), n.clone(), json!(1), json!(3), json!(2), n.clone(), json!(1), json!(10)],
            [2, 6, 4, 0, 3, 7, 1, 5],
        ),
        // Doubles that differ in the 17th digit only: a cursor must keep them apart.
        (
            format!("{HR}:score"),
            [
                json!(0.3),
                json!(0.30000000000000004),
                json!(0.3),
                n.clone(),
                json!(1e-7),
                json!(2.5),
                json!(0.30000000000000004),
                json!(-1.0),
            ],
            [7, 4, 0, 2, 1, 6, 5, 3],
        ),
        // Instants compare across time zones: users 0, 1 and 7 were hired at the same moment.
        (
            format!("{HR}:hired"),
            [
                json!("2024-03-01T10:00:00Z"),
                json!("2024-03-01T11:00:00+01:00"),
                n.clone(),
                json!("2024-03-01T09:59:59.999Z"),
                json!("2025-01-01T00:00:00Z"),
                json!("2024-03-01T10:00:00.001Z"),
                n.clone(),
                json!("2024-03-01T10:00:00Z"),
            ],
            [3, 0, 1, 7, 5, 4, 2, 6],
        ),
        (
            format!("{HR}:contractor"),
            [json!(true), json!(false), n.clone(), json!(true), json!(false), n, json!(false), json!(true)],
            [1, 4, 6, 0, 3, 7, 2, 5],
        ),
    ]
}

/// Sets `value` at an attribute path of `sort_cases` in a user document.
fn set_path(user: &mut Value, path: &str, value: &Value) {
    let (container, name) = match path.strip_prefix(&format!("{HR}:")) {
        Some(name) => (&mut user[HR], name),
        None => (&mut *user, path),
    };
    match name.split_once('.') {
        Some((parent, sub)) => container[parent][sub] = value.clone(),
        None => container[name] = value.clone(),
    }
}

async fn sorted_walks_return_every_row_once_in_order(db: Db) {
    let Some((app, _registry, _dir)) = app_with_hr(db).await else { return };
    let cases = sort_cases();
    for i in 0..8 {
        let mut user = json!({"userName": cases[0].1[i], HR: {}});
        for (path, values, _) in &cases[1..] {
            if !values[i].is_null() {
                set_path(&mut user, path, &values[i]);
            }
        }
        app.user(user).await;
    }
    let name = |i: usize| cases[0].1[i].as_str().expect("userName").to_owned();
    // meta.created orders by insertion, like no sortBy at all.
    let created = ("meta.created".to_owned(), [(); 8].map(|_| json!("set by the server")), [0, 1, 2, 3, 4, 5, 6, 7]);
    for (path, values, ascending) in cases.iter().chain([&created]) {
        let missing = values.iter().filter(|v| v.is_null()).count();
        let (present, absent) = ascending.split_at(8 - missing);
        let descending: Vec<usize> = present.iter().rev().chain(absent.iter().rev()).copied().collect();
        for (order, expected) in [("ascending", ascending.to_vec()), ("descending", descending)] {
            let expected: Vec<String> = expected.into_iter().map(name).collect();
            for count in [1, 3, 5] {
                let pages = walk(&app, "/Users", &[("sortBy", path), ("sortOrder", order)], count).await;
                assert_eq!(user_names(&pages), expected, "sortBy {path} {order}, count {count}");
            }
            let index = app.list("/Users", &[("sortBy", path), ("sortOrder", order)]).await.expect(200);
            assert_eq!(user_names(&[index.body]), expected, "index paging orders as cursors do: {path} {order}");
        }
    }
}

#[tokio::test]
async fn sorted_walks_on_sqlite() {
    sorted_walks_return_every_row_once_in_order(Db::Sqlite).await;
}

#[tokio::test]
async fn sorted_walks_on_postgres() {
    sorted_walks_return_every_row_once_in_order(Db::Postgres).await;
}

both_databases! {
    async fn a_filtered_walk_returns_the_matches_with_their_total(app: TestApp) {
        for i in 0..12 {
            app.user(json!({"userName": format!("u{i:02}"), "title": if i % 3 == 0 { "boss" } else { "staff" }})).await;
        }
        let pages = walk(&app, "/Users", &[("filter", "title eq \"BOSS\""), ("sortBy", "userName"), ("sortOrder", "descending")], 1).await;
        assert_eq!(user_names(&pages), ["u09", "u06", "u03", "u00"]);
        assert!(pages.iter().all(|p| p["totalResults"] == 4), "{pages:#?}");
        let pages = walk(&app, "/Users", &[("filter", "title eq \"nobody\"")], 5).await;
        assert_eq!((pages.len(), &pages[0]["totalResults"]), (1, &json!(0)));
        app.list("/Users", &[("filter", "title eq"), ("cursor", "")]).await.expect_error(400, Some("invalidFilter"));
    }
}

both_databases! {
    async fn rows_changed_between_pages_are_neither_repeated_nor_skipped(app: TestApp) {
        for name in ["b", "d", "f", "h"] {
            app.user(json!({"userName": name})).await;
        }
        let sort = [("sortBy", "userName")];
        let first = app.list("/Users", &[sort[0], ("cursor", ""), ("count", "2")]).await.expect(200).body;
        assert_eq!(user_names(std::slice::from_ref(&first)), ["b", "d"]);
        // The last row of the page goes away, and rows appear before and after the position.
        let d = first["Resources"][1]["id"].as_str().expect("id").to_owned();
        app.delete(&format!("/Users/{d}")).await.expect(204);
        app.user(json!({"userName": "a"})).await;
        app.user(json!({"userName": "e"})).await;
        let rest = app.list("/Users", &[sort[0], ("cursor", &first_cursor(&first)), ("count", "10")]).await.expect(200);
        assert_eq!(user_names(&[rest.body]), ["e", "f", "h"]);
    }
}

both_databases! {
    async fn count_is_honoured_and_capped(app: TestApp) {
        for i in 0..7 {
            app.user(json!({"userName": format!("u{i}")})).await;
        }
        let page = async |count: &str| app.list("/Users", &[("cursor", ""), ("count", count)]).await;
        let reply = page("0").await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body["itemsPerPage"].as_u64()), (Some(7), Some(0)));
        assert!(reply.body.get("nextCursor").is_none(), "no rows asked, none to follow: {}", reply.body);
        let reply = page("-1").await.expect(200);
        assert_eq!(reply.body["itemsPerPage"], 0);
        let reply = page("2").await.expect(200);
        assert_eq!(reply.body["itemsPerPage"], 2);
        // A later page with count=0 still says how many there are, and nothing to follow.
        let reply = app.list("/Users", &[("cursor", &first_cursor(&reply.body)), ("count", "0")]).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body.get("nextCursor")), (Some(7), None));
    }
}

both_databases_with! {
    |c| {
        c.scim.default_page_size = 2;
        c.scim.max_page_size = 3;
    },
    async fn page_size_defaults_and_limits_apply_to_cursor_pages(app: TestApp) {
        for i in 0..7 {
            app.user(json!({"userName": format!("u{i}")})).await;
        }
        let reply = app.list("/Users", &[("cursor", "")]).await.expect(200);
        assert_eq!(reply.body["itemsPerPage"], 2, "the default page size");
        let pages = walk(&app, "/Users", &[], 3).await;
        assert_eq!(pages.len(), 3);
        let reply = app.list("/Users", &[("cursor", ""), ("count", "1000")]).await.expect(200);
        assert_eq!(reply.body["itemsPerPage"], 3, "capped at maxPageSize");
    }
}

both_databases! {
    async fn cursors_of_other_queries_and_forgeries_are_refused(app: TestApp) {
        for i in 0..4 {
            app.user(json!({"userName": format!("u{i}"), "title": "t"})).await;
        }
        app.group(json!({"displayName": "g"})).await;
        let query = [("filter", "title eq \"t\""), ("sortBy", "userName")];
        let first = app.list("/Users", &[query[0], query[1], ("cursor", ""), ("count", "1")]).await.expect(200).body;
        let cursor = first_cursor(&first);
        let with = |cursor: &str, filter: &str, sort_order: &str| {
            let pairs = [("filter", filter.to_owned()), ("sortBy", "userName".to_owned()), ("sortOrder", sort_order.to_owned()),
                ("cursor", cursor.to_owned()), ("count", "1".to_owned())];
            app.send(app.client.get(app.url("/Users")).bearer_auth(&app.token).query(&pairs))
        };
        with(&cursor, "title eq \"t\"", "ascending").await.expect(200);
        let mut tampered = cursor.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        for (cursor, filter, order) in [
            ("garbage", "title eq \"t\"", "ascending"),
            ("a b", "title eq \"t\"", "ascending"),
            (tampered.as_str(), "title eq \"t\"", "ascending"),
            (&cursor, "title eq \"T\" or title eq \"x\"", "ascending"),
            (&cursor, "title eq \"t\"", "descending"),
        ] {
            let reply = with(cursor, filter, order).await.expect_error(400, Some("invalidCursor"));
            assert!(reply.body["detail"].as_str().expect("detail").contains("empty cursor"), "{}", reply.body);
        }
        app.list("/Groups", &[("cursor", &cursor), ("count", "1")]).await.expect_error(400, Some("invalidCursor"));
        let globex = app.tenant_token("globex", Role::Scim, None).await;
        app.user(json!({"userName": "other"})).await;
        let pairs = [query[0], query[1], ("cursor", cursor.as_str()), ("count", "1")];
        let reply = app.send(app.client.get(app.url("/Users")).bearer_auth(&globex).query(&pairs)).await;
        reply.expect_error(400, Some("invalidCursor"));
    }
}

both_databases_with! {
    |c| c.scim.cursor_timeout_seconds = 1,
    async fn an_expired_cursor_is_refused(app: TestApp) {
        for i in 0..3 {
            app.user(json!({"userName": format!("u{i}")})).await;
        }
        let first = app.list("/Users", &[("cursor", ""), ("count", "1")]).await.expect(200).body;
        let cursor = first_cursor(&first);
        app.list("/Users", &[("cursor", &cursor), ("count", "1")]).await.expect(200);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let reply =
            app.list("/Users", &[("cursor", &cursor), ("count", "1")]).await.expect_error(400, Some("expiredCursor"));
        assert!(reply.body["detail"].as_str().expect("detail").contains("1 seconds"), "{}", reply.body);
    }
}

/// The pages of a walk through `POST path` with `fields`.
async fn search_walk(app: &TestApp, path: &str, fields: Value) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = Value::from("");
    loop {
        let mut body = search(fields.clone());
        body["cursor"] = cursor;
        let page = app.post(path, &body).await.expect(200).body;
        let next = page.get("nextCursor").cloned();
        pages.push(page);
        assert!(pages.len() <= 100, "the walk ends");
        match next {
            Some(next) => cursor = next,
            None => return pages,
        }
    }
}

both_databases! {
    async fn searches_page_by_cursor(app: TestApp) {
        for i in 0..5 {
            app.user(json!({"userName": format!("u{i}"), "displayName": format!("x{i}")})).await;
        }
        let fields = json!({"filter": "displayName sw \"x\"", "sortBy": "userName", "sortOrder": "descending", "count": 2});
        let pages = search_walk(&app, "/Users/.search", fields.clone()).await;
        assert_eq!(user_names(&pages), ["u4", "u3", "u2", "u1", "u0"]);
        assert!(pages.iter().all(|p| p["totalResults"] == 5));
        // The query is the same whether sent as a GET or as a search.
        let next = first_cursor(&pages[0]);
        let listed = app.list("/Users", &[("filter", "displayName sw \"x\""), ("sortBy", "userName"),
            ("sortOrder", "descending"), ("cursor", &next), ("count", "2")]).await.expect(200);
        assert_eq!(listed.body["Resources"], pages[1]["Resources"]);
        let mut body = search(fields);
        body["cursor"] = json!(7);
        app.post("/Users/.search", &body).await.expect_error(400, Some("invalidSyntax"));
    }
}

both_databases! {
    async fn the_root_search_pages_users_then_groups_by_cursor(app: TestApp) {
        let mut users = Vec::new();
        for name in ["c", "a", "b"] {
            users.push(app.user(json!({"userName": name})).await);
        }
        let mut groups = Vec::new();
        for name in ["g1", "g2", "g3", "g4"] {
            groups.push(app.group(json!({"displayName": name})).await);
        }
        for count in 1..=8 {
            let pages = search_walk(&app, "/.search", json!({"count": count})).await;
            let ids: Vec<Value> = resources(&pages).iter().map(|r| r["id"].clone()).collect();
            let expected: Vec<Value> = users.iter().chain(&groups).map(|id| json!(id)).collect();
            assert_eq!(ids, expected, "count {count}");
            assert_eq!(pages.len(), 7usize.div_ceil(count), "no empty last page, count {count}");
            assert!(pages.iter().all(|p| p["totalResults"] == 7), "count {count}");
        }
        // Users sort by userName; groups, which have none, in insertion order.
        let pages = search_walk(&app, "/.search", json!({"sortBy": "userName", "count": 2})).await;
        let names: Vec<Value> = resources(&pages).iter().map(|r| r.get("userName").unwrap_or(&r["displayName"]).clone()).collect();
        assert_eq!(names, ["a", "b", "c", "g1", "g2", "g3", "g4"].map(Value::from));
        // A filter only groups understand selects no users.
        let pages = search_walk(&app, "/.search", json!({"filter": "members pr or displayName eq \"g2\"", "count": 1})).await;
        assert_eq!(resources(&pages).iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), [json!(groups[1])]);
        let other = search_walk(&app, "/Users/.search", json!({"count": 1})).await;
        let mut body = search(json!({"count": 1}));
        body["cursor"] = json!(first_cursor(&other[0]));
        app.post("/.search", &body).await.expect_error(400, Some("invalidCursor"));
    }
}

both_databases! {
    async fn start_index_and_cursor_cannot_be_mixed(app: TestApp) {
        app.list("/Users", &[("cursor", ""), ("startIndex", "1")]).await.expect_error(400, Some("invalidValue"));
        let body = search(json!({"cursor": "", "startIndex": 1}));
        app.post("/Users/.search", &body).await.expect_error(400, Some("invalidValue"));
        app.post("/.search", &body).await.expect_error(400, Some("invalidValue"));
    }
}
