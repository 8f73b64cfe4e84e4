//! startIndex/count paging, sorting and projection.

use serde_json::{Value, json};

use crate::both_databases;

fn user_names(reply: &Value) -> Vec<String> {
    reply["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or("").to_owned())
        .collect()
}

both_databases! {
    async fn pages_are_stable_and_complete(app: TestApp) {
        for i in 0..25 {
            app.user(json!({"userName": format!("u{i:02}")})).await;
        }
        let mut seen = Vec::new();
        for start in [1, 11, 21] {
            let reply = app.list("/Users", &[("startIndex", &start.to_string()), ("count", "10")]).await.expect(200);
            assert_eq!(reply.body["totalResults"], 25);
            assert_eq!(reply.body["startIndex"], start);
            assert!(reply.body["itemsPerPage"].is_u64(), "paging fields are integers");
            seen.extend(user_names(&reply.body));
        }
        let expected: Vec<String> = (0..25).map(|i| format!("u{i:02}")).collect();
        assert_eq!(seen, expected);
        let reply = app.list("/Users", &[("count", "0")]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 25);
        assert_eq!(reply.body["Resources"], json!([]));
        let reply = app.list("/Users", &[("startIndex", "0"), ("count", "-3")]).await.expect(200);
        assert_eq!(reply.body["startIndex"], 1);
        assert_eq!(reply.body["itemsPerPage"], 0);
        app.list("/Users", &[("count", "ten")]).await.expect_error(400, Some("invalidValue"));
    }
}

both_databases! {
    async fn a_unique_match_pages_like_any_other_list(app: TestApp) {
        app.user(json!({"userName": "only@example.com"})).await;
        let filter = ("filter", "userName eq \"ONLY@example.com\"");
        let reply = app.list("/Users", &[filter]).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body["itemsPerPage"].as_u64()), (Some(1), Some(1)));
        let reply = app.list("/Users", &[filter, ("startIndex", "2")]).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body["itemsPerPage"].as_u64()), (Some(1), Some(0)));
        let reply = app.list("/Users", &[filter, ("count", "0")]).await.expect(200);
        assert_eq!((reply.body["totalResults"].as_u64(), reply.body["itemsPerPage"].as_u64()), (Some(1), Some(0)));
        let reply = app.list("/Users", &[("filter", "userName eq \"only@example.com\" and active eq true")]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 0);
    }
}

both_databases! {
    async fn no_match_is_an_empty_list_response(app: TestApp) {
        let reply = app.list("/Users", &[("filter", "userName eq \"nobody\"")]).await.expect(200);
        assert_eq!(reply.body, json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}));
    }
}

both_databases! {
    async fn sorts_by_any_singular_attribute_with_missing_values_last(app: TestApp) {
        app.user(json!({"userName": "c", "name": {"familyName": "beta"}})).await;
        app.user(json!({"userName": "a", "name": {"familyName": "Alpha"}})).await;
        app.user(json!({"userName": "B"})).await;
        let reply = app.list("/Users", &[("sortBy", "name.familyName")]).await.expect(200);
        assert_eq!(user_names(&reply.body), ["a", "c", "B"]);
        let reply = app.list("/Users", &[("sortBy", "name.familyName"), ("sortOrder", "descending")]).await.expect(200);
        assert_eq!(user_names(&reply.body), ["c", "a", "B"]);
        let reply = app.list("/Users", &[("sortBy", "userName"), ("sortOrder", "descending")]).await.expect(200);
        assert_eq!(user_names(&reply.body), ["c", "B", "a"], "userName sorts ignoring case");
        app.list("/Users", &[("sortBy", "nosuch")]).await.expect_error(400, Some("invalidValue"));
    }
}

both_databases! {
    async fn attributes_and_excluded_attributes_follow_returned(app: TestApp) {
        let id = app.user(crate::users::bjensen()).await;
        let reply = app.get(&format!("/Users/{id}?attributes=userName,name.givenName")).await.expect(200);
        let body = reply.body.as_object().expect("object");
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "name", "schemas", "userName"]);
        assert_eq!(reply.body["name"], json!({"givenName": "Barbara"}));
        let reply = app.get(&format!("/Users/{id}?excludedAttributes=emails,name,meta")).await.expect(200);
        assert!(reply.body.get("emails").is_none() && reply.body.get("name").is_none() && reply.body.get("meta").is_none());
        assert_eq!(reply.body["id"], id.as_str(), "id is always returned");
        assert_eq!(reply.body["userName"], "bjensen@example.com");
        let reply = app.list("/Users", &[("attributes", "emails.value")]).await.expect(200);
        assert_eq!(reply.body["Resources"][0]["emails"][0], json!({"value": "Bjensen@Example.com"}));
    }
}
