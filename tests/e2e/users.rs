//! /Users: create, read, replace, patch, delete; round-trips; schemas and extensions.

use serde_json::json;

use crate::both_databases;

pub fn bjensen() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "bjensen@example.com",
        "externalId": "BJ-001",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "Bjensen@Example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 (555) 555-5555", "type": "work"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

both_databases! {
    async fn create_returns_201_location_and_meta(app: TestApp) {
        let reply = app.post("/Users", &bjensen()).await.expect(201);
        let id = reply.body["id"].as_str().expect("id");
        let location = format!("{}/scim/v2/Users/{id}", crate::fixture::PUBLIC_URL);
        assert_eq!(reply.header("location"), Some(location.as_str()));
        assert_eq!(reply.header("content-type"), Some("application/scim+json"));
        assert_eq!(reply.body["meta"]["resourceType"], "User");
        assert_eq!(reply.body["meta"]["location"], location);
        assert_eq!(reply.body["meta"]["version"], "W/\"1\"");
        assert_eq!(reply.header("etag"), Some("W/\"1\""));
        assert_eq!(reply.body["meta"]["created"], reply.body["meta"]["lastModified"]);
        // Server-owned values are returned when asked for: what a client wrote reads back unchanged.
        let scimd = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
        assert!(reply.body.get(scimd).is_none(), "{}", reply.body);
        assert!(!reply.body["schemas"].as_array().expect("schemas").contains(&json!(scimd)));
        let owned = app.get(&format!("/Users/{id}?attributes={scimd}:managingEntity,{scimd}:status")).await.expect(200);
        assert_eq!(owned.body[scimd], json!({"status": "active", "managingEntity": "scim:okta"}));
        assert!(owned.body["schemas"].as_array().expect("schemas").contains(&json!(scimd)));
    }
}

both_databases! {
    async fn what_was_sent_is_what_is_read_back(app: TestApp) {
        let sent = bjensen();
        let id = app.user(sent.clone()).await;
        let read = app.get(&format!("/Users/{id}")).await.expect(200).body;
        for key in ["userName", "externalId", "name", "displayName", "active", "emails", "phoneNumbers"] {
            assert_eq!(read[key], sent[key], "{key} changed on the way through");
        }
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        assert_eq!(read[enterprise], sent[enterprise]);
        assert!(read["schemas"].as_array().expect("schemas").contains(&json!(enterprise)));
    }
}

both_databases! {
    async fn attribute_names_are_case_insensitive_and_returned_canonical(app: TestApp) {
        let reply = app.post("/Users", &json!({"UserName": "mixed@example.com", "NAME": {"GivenName": "Mia"}, "Active": true})).await.expect(201);
        assert_eq!(reply.body["userName"], "mixed@example.com");
        assert_eq!(reply.body["name"]["givenName"], "Mia");
        assert_eq!(reply.body["active"], true);
    }
}

both_databases! {
    async fn passwords_are_hashed_and_never_returned(app: TestApp) {
        let reply = app.post("/Users", &json!({"userName": "pw@example.com", "password": "t0p-Secret!"})).await.expect(201);
        assert!(reply.body.get("password").is_none());
        let id = reply.body["id"].as_str().expect("id").to_owned();
        let read = app.get(&format!("/Users/{id}?attributes=password,userName")).await.expect(200);
        assert!(read.body.get("password").is_none());
        let listed = app.list("/Users", &[("filter", "userName eq \"pw@example.com\"")]).await.expect(200);
        assert!(listed.body["Resources"][0].get("password").is_none());
    }
}

both_databases! {
    async fn put_replaces_the_resource_and_ignores_read_only_attributes(app: TestApp) {
        let id = app.user(bjensen()).await;
        let mut replacement = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "not-the-id",
            "meta": {"created": "2000-01-01T00:00:00Z"},
            "userName": "bjensen@example.com",
            "displayName": "Barbara",
            "active": false
        });
        let reply = app.put(&format!("/Users/{id}"), &replacement).await.expect(200);
        assert_eq!(reply.body["id"], id.as_str(), "id is readOnly and ignored");
        assert_ne!(reply.body["meta"]["created"], "2000-01-01T00:00:00Z");
        assert_eq!(reply.body["displayName"], "Barbara");
        assert!(reply.body.get("emails").is_none(), "PUT replaces: attributes not sent are gone");
        assert_eq!(reply.body["meta"]["version"], "W/\"2\"");
        let status = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:status";
        let read = app.get(&format!("/Users/{id}?attributes={status}")).await.expect(200);
        assert_eq!(read.body["urn:ietf:params:scim:schemas:extension:scimd:2.0:User"]["status"], "inactive");

        // A member's type is what the member is, whatever a client claims.
        let group = app.group(json!({"displayName": "typed", "members": [{"value": id, "type": "User"}]})).await;
        replacement = json!({"displayName": "typed", "members": [{"value": id, "type": "Group"}]});
        let reply = app.put(&format!("/Groups/{group}"), &replacement).await.expect(200);
        assert_eq!(reply.body["members"][0]["type"], "User", "{}", reply.body);
        let reply = app.post("/Groups", &json!({"displayName": "claims", "members": [{"value": id, "type": "Group"}]})).await.expect(201);
        assert!(reply.body.get("members").is_none(), "a member of the wrong type is skipped: {}", reply.body);
    }
}

both_databases! {
    async fn delete_answers_204_then_404(app: TestApp) {
        let id = app.user(bjensen()).await;
        let reply = app.delete(&format!("/Users/{id}")).await.expect(204);
        assert!(reply.body.is_null());
        app.get(&format!("/Users/{id}")).await.expect_error(404, None);
        app.delete(&format!("/Users/{id}")).await.expect_error(404, None);
    }
}

both_databases! {
    async fn patch_add_replace_remove_with_simple_paths(app: TestApp) {
        let id = app.user(bjensen()).await;
        let path = format!("/Users/{id}");
        let reply = app.patch(&path, &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": "B. Jensen"},
                {"op": "add", "path": "nickName", "value": "Babs"},
                {"op": "remove", "path": "phoneNumbers"},
                {"op": "replace", "path": "name.givenName", "value": "Barb"}
            ]
        })).await.expect(200);
        assert_eq!(reply.body["displayName"], "B. Jensen");
        assert_eq!(reply.body["nickName"], "Babs");
        assert_eq!(reply.body["name"]["givenName"], "Barb");
        assert_eq!(reply.body["name"]["familyName"], "Jensen");
        assert!(reply.body.get("phoneNumbers").is_none());
        assert_eq!(reply.body["meta"]["version"], "W/\"2\"");
        let read = app.get(&path).await.expect(200);
        assert_eq!(read.body["nickName"], "Babs");
    }
}

both_databases! {
    async fn etags_make_writes_conditional(app: TestApp) {
        let id = app.user(bjensen()).await;
        let path = format!("/Users/{id}");
        let stale = app.send(app.client.get(app.url(&path)).bearer_auth(&app.token).header("If-None-Match", "W/\"1\"")).await;
        assert_eq!(stale.status.as_u16(), 304);
        let body = json!({"userName": "bjensen@example.com", "displayName": "v2"});
        app.send(app.client.put(app.url(&path)).bearer_auth(&app.token).header("If-Match", "W/\"1\"").json(&body)).await.expect(200);
        app.send(app.client.put(app.url(&path)).bearer_auth(&app.token).header("If-Match", "W/\"1\"").json(&body)).await.expect_error(412, None);
    }
}

both_databases! {
    async fn delete_with_a_stale_if_match_keeps_the_resource(app: TestApp) {
        let id = app.user(bjensen()).await;
        let path = format!("/Users/{id}");
        let delete = |etag: &'static str| app.client.delete(app.url(&path)).bearer_auth(&app.token).header("If-Match", etag);
        app.send(delete("W/\"2\"")).await.expect_error(412, None);
        app.send(delete("garbage")).await.expect_error(412, None);
        app.get(&path).await.expect(200);
        app.send(delete("W/\"1\"")).await.expect(204);
        app.get(&path).await.expect(404);
        app.send(delete("W/\"1\"")).await.expect_error(404, None);
        let group = app.group(json!({"displayName": "g"})).await;
        app.send(app.client.delete(app.url(&format!("/Groups/{group}"))).bearer_auth(&app.token).header("If-Match", "*")).await.expect(204);
    }
}

both_databases! {
    async fn unknown_attributes_are_refused_by_name_and_unknown_schema_urns_ignored(app: TestApp) {
        let reply = app.post("/Users", &json!({"userName": "x@example.com", "favouriteColour": "blue"})).await.expect_error(400, Some("invalidSyntax"));
        assert!(reply.body["detail"].as_str().expect("detail").contains("favouriteColour"), "{}", reply.body);
        let reply = app.post("/Users", &json!({"userName": "x@example.com", "name": {"middle": "Q"}})).await.expect(400);
        assert!(reply.body["detail"].as_str().expect("detail").contains("middle"), "{}", reply.body);
        // Microsoft sends URNs of its own in `schemas` with no attributes under them.
        app.post("/Groups", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Entra group"
        })).await.expect(201);
        app.post("/Users", &json!({"userName": "ok@example.com", "urn:example:unknown:1.0:User": {"x": 1}})).await.expect_error(400, Some("invalidSyntax"));
    }
}

both_databases! {
    async fn user_name_is_unique_per_tenant_ignoring_case(app: TestApp) {
        app.user(json!({"userName": "Unique@Example.com"})).await;
        let reply = app.post("/Users", &json!({"userName": "unique@example.COM"})).await.expect_error(409, Some("uniqueness"));
        assert!(reply.body["detail"].as_str().expect("detail").contains("unique@example.COM"));
        let other = app.user(json!({"userName": "other@example.com"})).await;
        app.put(&format!("/Users/{other}"), &json!({"userName": "UNIQUE@example.com"})).await.expect_error(409, Some("uniqueness"));
        // Another tenant may use the same userName.
        let token = app.tenant_token("globex", scimd::store::Role::Scim, None).await;
        app.send(app.client.post(app.url("/Users")).bearer_auth(token).json(&json!({"userName": "unique@example.com"}))).await.expect(201);
    }
}

both_databases! {
    async fn concurrent_creates_of_one_user_name_create_it_once(app: TestApp) {
        // On SQLite concurrent creates share a transaction (store/batch.rs): a conflicting row must
        // fail alone while the others in its batch commit.
        let app = &app;
        let tenant = app.store.tenant_by_name("acme").await.expect("tenant");
        let events_before = match app.store.verify_audit(&tenant.id).await.expect("verify") {
            scimd::store::ChainCheck::Intact { events } => events,
            broken => panic!("the chain is broken: {broken:?}"),
        };
        let posts = (0..40).map(|i| {
            let body = json!({"userName": format!("race{}@example.com", i % 10), "displayName": format!("try {i}")});
            async move { app.post("/Users", &body).await }
        });
        let replies = futures_util::future::join_all(posts).await;
        let mut statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [vec![201; 10], vec![409; 30]].concat());
        for reply in replies.iter().filter(|r| r.status == 409) {
            assert_eq!(reply.body["scimType"], "uniqueness", "{}", reply.body);
        }
        let listed = app.get("/Users?filter=userName+sw+%22race%22&count=100").await.expect(200).body;
        assert_eq!(listed["totalResults"], 10, "{listed}");
        let mut names: Vec<&str> = listed["Resources"].as_array().expect("Resources").iter().map(|u| u["userName"].as_str().expect("userName")).collect();
        names.sort_unstable();
        assert_eq!(names, (0..10).map(|i| format!("race{i}@example.com")).collect::<Vec<_>>());
        // The 30 writes undone in their batches moved no audit chain head: the chain holds, with
        // one event per created user.
        let check = app.store.verify_audit(&tenant.id).await.expect("verify");
        assert_eq!(check, scimd::store::ChainCheck::Intact { events: events_before + 10 });
    }
}

fn patch_op(operations: serde_json::Value) -> serde_json::Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

both_databases! {
    async fn patch_whole_extensions_with_their_urn_repeated_inside(app: TestApp) {
        let id = app.user(bjensen()).await;
        let path = format!("/Users/{id}");
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let scimd = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
        for op in ["add", "replace"] {
            let reply = app.patch(&path, &patch_op(json!([
                {"op": op, "path": enterprise, "value": {"schemas": [enterprise], "costCenter": op}},
                {"op": op, "path": scimd, "value": {"schemas": [scimd], "note": op}}
            ]))).await.expect(200);
            assert_eq!(reply.body[enterprise]["costCenter"], op);
            assert_eq!(reply.body[enterprise]["employeeNumber"], "701984", "add/replace of an extension merges");
            assert_eq!(reply.body[scimd], json!({"note": op}), "server-owned values are not mixed into what was written");
        }
        let reply = app.patch(&path, &patch_op(json!([
            {"op": "replace", "value": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", scimd], scimd: {"schemas": [scimd], "note": "path-less"}}}
        ]))).await.expect(200);
        assert_eq!(reply.body[scimd], json!({"note": "path-less"}));

        // Removing the extension removes what clients wrote; the server-owned values stay, on request.
        let reply = app.patch(&path, &patch_op(json!([{"op": "remove", "path": scimd}]))).await.expect(200);
        assert!(reply.body.get(scimd).is_none(), "{}", reply.body);
        assert!(app.get(&path).await.expect(200).body.get(scimd).is_none());
        let owned = app.get(&format!("{path}?attributes={scimd}:status,{scimd}:managingEntity,{scimd}:note")).await.expect(200);
        assert_eq!(owned.body[scimd], json!({"status": "active", "managingEntity": "scim:okta"}));
    }
}
