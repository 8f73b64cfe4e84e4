//! POST /.search (RFC 7644 §3.4.3): per resource type and at the root, where Users then Groups are
//! paged as one list.

use serde_json::{Value, json};

use crate::both_databases;

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SearchRequest body with these fields.
pub fn search(fields: Value) -> Value {
    let mut body = json!({"schemas": [SEARCH_REQUEST]});
    body.as_object_mut().expect("object").extend(fields.as_object().expect("fields").clone());
    body
}

fn field(reply: &Value, name: &str) -> Vec<String> {
    reply["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r[name].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Users u1..u3 and groups g1, g2 (g2 holds u1).
async fn populate(app: &crate::fixture::TestApp) -> (Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    for i in 1..=3 {
        users.push(app.user(json!({"userName": format!("u{i}"), "displayName": format!("x-user-{i}")})).await);
    }
    let g1 = app.group(json!({"displayName": "x-group-1"})).await;
    let g2 = app.group(json!({"displayName": "x-group-2", "members": [{"value": users[0]}]})).await;
    (users, vec![g1, g2])
}

both_databases! {
    async fn search_on_a_resource_type_answers_like_get(app: TestApp) {
        populate(&app).await;
        let reply = app.post("/Users/.search", &search(json!({
            "filter": "displayName sw \"x-user\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 2,
            "count": 1,
            "attributes": ["userName", "displayName"],
        }))).await.expect(200);
        let listed = app.list("/Users", &[
            ("filter", "displayName sw \"x-user\""),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("startIndex", "2"),
            ("count", "1"),
            ("attributes", "userName,displayName"),
        ]).await.expect(200);
        assert_eq!(reply.body, listed.body);
        assert_eq!(reply.body["totalResults"], 3);
        assert_eq!(field(&reply.body, "userName"), ["u2"]);
        assert_eq!(reply.header("content-type"), Some("application/scim+json"));

        let reply = app.post("/Groups/.search", &search(json!({"excludedAttributes": ["members"]}))).await.expect(200);
        assert_eq!(field(&reply.body, "displayName"), ["x-group-1", "x-group-2"]);
        assert!(reply.body["Resources"][1].get("members").is_none(), "{}", reply.body);
    }
}

both_databases! {
    async fn root_search_pages_over_users_then_groups(app: TestApp) {
        populate(&app).await;
        let page = |start: u64, count: u64| search(json!({"startIndex": start, "count": count, "attributes": ["displayName"]}));
        let reply = app.post("/.search", &page(1, 2)).await.expect(200);
        assert_eq!(reply.body["totalResults"], 5);
        assert_eq!(field(&reply.body, "displayName"), ["x-user-1", "x-user-2"]);
        let reply = app.post("/.search", &page(3, 2)).await.expect(200);
        assert_eq!(reply.body["startIndex"], 3);
        assert_eq!(reply.body["itemsPerPage"], 2);
        assert_eq!(field(&reply.body, "displayName"), ["x-user-3", "x-group-1"]);
        assert_eq!(reply.body["Resources"][1]["meta"], Value::Null, "attributes apply to every type");
        let reply = app.post("/.search", &page(5, 10)).await.expect(200);
        assert_eq!(field(&reply.body, "displayName"), ["x-group-2"]);
        let reply = app.post("/.search", &page(9, 10)).await.expect(200);
        assert_eq!(reply.body["totalResults"], 5);
        assert_eq!(reply.body["Resources"], json!([]));
        let reply = app.post("/.search", &page(1, 0)).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body["itemsPerPage"].as_u64()), (Some(5), Some(0)));

        let reply = app.post("/.search", &search(json!({}))).await.expect(200);
        let types: Vec<&str> = reply.body["Resources"].as_array().expect("Resources").iter().map(|r| r["meta"]["resourceType"].as_str().expect("type")).collect();
        assert_eq!(types, ["User", "User", "User", "Group", "Group"]);
    }
}

both_databases! {
    async fn root_search_filters_each_type_by_what_it_has(app: TestApp) {
        let (users, groups) = populate(&app).await;
        let reply = app.post("/.search", &search(json!({"filter": "displayName ew \"-2\""}))).await.expect(200);
        assert_eq!(field(&reply.body, "displayName"), ["x-user-2", "x-group-2"]);
        // Groups have no userName, Users have no members: no results from that type, not an error.
        let reply = app.post("/.search", &search(json!({"filter": "userName eq \"u3\""}))).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), field(&reply.body, "id")), (Some(1), vec![users[2].clone()]));
        let filter = format!("members[value eq \"{}\"]", users[0]);
        let reply = app.post("/.search", &search(json!({"filter": filter}))).await.expect(200);
        assert_eq!(field(&reply.body, "id"), [groups[1].clone()]);
        let reply = app.post("/.search", &search(json!({"filter": "shoeSize eq 9"}))).await.expect_error(400, Some("invalidFilter"));
        assert!(reply.body["detail"].as_str().expect("detail").contains("shoeSize"), "{}", reply.body);
        app.post("/.search", &search(json!({"filter": "displayName eq"}))).await.expect_error(400, Some("invalidFilter"));
    }
}

both_databases! {
    async fn root_search_sorts_each_type_that_has_the_attribute(app: TestApp) {
        populate(&app).await;
        let reply = app.post("/.search", &search(json!({"sortBy": "userName", "sortOrder": "descending"}))).await.expect(200);
        assert_eq!(field(&reply.body, "displayName"), ["x-user-3", "x-user-2", "x-user-1", "x-group-1", "x-group-2"]);
        app.post("/.search", &search(json!({"sortBy": "shoeSize"}))).await.expect_error(400, Some("invalidValue"));
    }
}

both_databases! {
    async fn root_search_stays_in_the_tenant(app: TestApp) {
        populate(&app).await;
        let token = app.tenant_token("globex", scimd::store::Role::Scim, None).await;
        let request = app.client.post(app.url("/.search")).bearer_auth(token).json(&search(json!({})));
        let reply = app.send(request).await.expect(200);
        assert_eq!(reply.body["totalResults"], 0);
        app.send(app.client.post(app.url("/.search")).json(&search(json!({})))).await.expect_error(401, None);
    }
}

both_databases! {
    async fn malformed_search_requests_are_refused(app: TestApp) {
        for path in ["/.search", "/Users/.search", "/Groups/.search"] {
            let reply = app.post(path, &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]})).await;
            let reply = reply.expect_error(400, Some("invalidSyntax"));
            assert!(reply.body["detail"].as_str().expect("detail").contains(SEARCH_REQUEST), "{}", reply.body);
            app.post(path, &json!({"filter": "userName pr"})).await.expect_error(400, Some("invalidSyntax"));
            app.post(path, &json!([])).await.expect_error(400, Some("invalidSyntax"));
            app.post(path, &search(json!({"attributes": [1]}))).await.expect_error(400, Some("invalidSyntax"));
            app.post(path, &search(json!({"count": "ten"}))).await.expect_error(400, Some("invalidSyntax"));
            app.post(path, &search(json!({"sortOrder": "upwards"}))).await.expect_error(400, Some("invalidValue"));
            app.get(path).await.expect_error(405, None);
        }
        // Case-insensitive keys and nulls for absent values, as clients send them.
        let body = json!({"Schemas": [SEARCH_REQUEST.to_uppercase()], "Count": 1, "filter": null, "attributes": "userName"});
        app.user(json!({"userName": "solo"})).await;
        let reply = app.post("/Users/.search", &body).await.expect(200);
        assert_eq!(reply.body["Resources"], json!([{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": reply.body["Resources"][0]["id"], "userName": "solo"}]));
    }
}
