//! Bad input: every error is an RFC 7644 `Error` with the right status and scimType, and a failed
//! request changes nothing. One test per scimType scimd emits.

use serde_json::json;

use crate::both_databases;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

both_databases! {
    async fn invalid_syntax_for_malformed_json_and_wrong_types(app: TestApp) {
        let reply = app.send(app.client.post(app.url("/Users")).bearer_auth(&app.token).header("content-type", "application/scim+json").body("{\"userName\": ")).await;
        reply.expect_error(400, Some("invalidSyntax"));
        app.post("/Users", &json!(["not", "an", "object"])).await.expect_error(400, Some("invalidSyntax"));
        app.patch("/Users/x", &json!({"Operations": []})).await.expect_error(400, Some("invalidSyntax"));
        assert_eq!(app.list("/Users", &[]).await.body["totalResults"], 0, "nothing was created");
    }
}

both_databases! {
    async fn invalid_value_for_missing_required_and_wrong_types(app: TestApp) {
        app.post("/Users", &json!({"displayName": "no userName"})).await.expect_error(400, Some("invalidValue"));
        let reply = app.post("/Users", &json!({"userName": "t", "active": "maybe"})).await.expect_error(400, Some("invalidValue"));
        assert!(reply.body["detail"].as_str().expect("detail").contains("active"));
        app.post("/Users", &json!({"userName": "t", "emails": {"value": "not-a-list@example.com"}})).await.expect_error(400, Some("invalidValue"));
        app.post("/Groups", &json!({"members": []})).await.expect_error(400, Some("invalidValue"));
    }
}

both_databases! {
    async fn booleans_sent_as_strings_are_accepted(app: TestApp) {
        let reply = app.post("/Users", &json!({"userName": "b", "active": "False"})).await.expect(201);
        assert_eq!(reply.body["active"], false);
    }
}

both_databases! {
    async fn mutability_for_read_only_and_immutable_targets(app: TestApp) {
        let user = app.user(json!({"userName": "m"})).await;
        let reply = app.patch(&format!("/Users/{user}"), &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": "new"}]})).await;
        reply.expect_error(400, Some("mutability"));
        let group = app.group(json!({"displayName": "g", "members": [{"value": user}]})).await;
        // members.value is immutable: a PUT may not rewrite an existing member reference in place,
        // but replacing the member list is a different write and is allowed.
        app.put(&format!("/Groups/{group}"), &json!({"displayName": "g", "members": []})).await.expect(200);
        let read = app.get(&format!("/Users/{user}")).await.expect(200);
        assert_eq!(read.body["meta"]["version"], "W/\"1\"", "the refused PATCH changed nothing");
    }
}

both_databases! {
    async fn invalid_path_and_no_target_in_patch(app: TestApp) {
        let user = app.user(json!({"userName": "p"})).await;
        let path = format!("/Users/{user}");
        app.patch(&path, &json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "nosuch", "value": "x"}]})).await.expect_error(400, Some("invalidPath"));
        app.patch(&path, &json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]})).await.expect_error(400, Some("noTarget"));
        // All or nothing: a failing second operation leaves the first unapplied.
        app.patch(&path, &json!({"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "displayName", "value": "half"},
            {"op": "replace", "path": "nosuch", "value": "x"}
        ]})).await.expect(400);
        assert!(app.get(&path).await.body.get("displayName").is_none());
    }
}

both_databases! {
    async fn uniqueness_is_409(app: TestApp) {
        app.user(json!({"userName": "dup"})).await;
        app.post("/Users", &json!({"userName": "DUP"})).await.expect_error(409, Some("uniqueness"));
    }
}

both_databases! {
    async fn invalid_filter_is_400(app: TestApp) {
        app.list("/Groups", &[("filter", "displayName eq")]).await.expect_error(400, Some("invalidFilter"));
    }
}

both_databases! {
    async fn oversized_bodies_are_413_and_content_types_are_checked(app: TestApp) {
        let big = json!({"userName": "big", "nickName": "x".repeat(2 * 1024 * 1024)});
        app.post("/Users", &big).await.expect_error(413, None);
        let ok = json!({"userName": "ct"}).to_string();
        for content_type in ["application/json", "application/scim+json", "application/scim+json; charset=utf-8"] {
            let reply = app.send(app.client.delete(app.url("/Users/none")).bearer_auth(&app.token)).await;
            reply.expect_error(404, None);
            let reply = app.send(app.client.post(app.url("/Users")).bearer_auth(&app.token).header("content-type", content_type).body(ok.clone())).await;
            assert!(reply.status.as_u16() == 201 || reply.status.as_u16() == 409, "{content_type}: {}", reply.status);
            assert_eq!(reply.header("content-type"), Some("application/scim+json"));
        }
        app.send(app.client.post(app.url("/Users")).bearer_auth(&app.token).header("content-type", "text/plain").body(ok)).await.expect_error(415, None);
    }
}

both_databases! {
    async fn unknown_paths_and_methods_are_scim_errors(app: TestApp) {
        app.get("/Nope").await.expect_error(404, None);
        app.send(app.client.get(format!("{}/nope", app.base))).await.expect_error(404, None);
        for path in ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"] {
            app.post(path, &json!({})).await.expect_error(405, None);
            app.put(path, &json!({})).await.expect_error(405, None);
            app.patch(path, &json!({})).await.expect_error(405, None);
            app.delete(path).await.expect_error(405, None);
        }
        app.get("/Schemas/urn:nope").await.expect_error(404, None);
        app.get("/ResourceTypes/Nope").await.expect_error(404, None);
    }
}
