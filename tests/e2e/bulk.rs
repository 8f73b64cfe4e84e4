//! /Bulk (RFC 7644 §3.7): operations, bulkId references, failOnErrors, limits and versions.

use serde_json::{Value, json};

use crate::fixture::{PATCH_OP, Reply, TestApp};
use crate::{both_databases, both_databases_with};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

async fn bulk(app: &TestApp, operations: Value) -> Reply {
    app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": operations})).await.expect(200)
}

fn results(reply: &Reply) -> &Vec<Value> {
    reply.body["Operations"].as_array().expect("Operations")
}

fn statuses(reply: &Reply) -> Vec<&str> {
    results(reply).iter().map(|op| op["status"].as_str().expect("status is a string")).collect()
}

fn create_user(bulk_id: &str, user_name: &str) -> Value {
    json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": user_name}})
}

async fn user_count(app: &TestApp) -> u64 {
    app.list("/Users", &[("count", "0")]).await.expect(200).body["totalResults"].as_u64().expect("total")
}

/// The id at the end of an operation result's `location`.
fn id_of(result: &Value) -> &str {
    result["location"].as_str().expect("location").rsplit('/').next().expect("id")
}

both_databases! {
    async fn mixed_operations_each_report_their_outcome(app: TestApp) {
        let old = app.user(json!({"userName": "old"})).await;
        let kept = app.user(json!({"userName": "kept", "displayName": "Kept"})).await;
        let reply = bulk(&app, json!([
            create_user("alice", "alice"),
            {"method": "POST", "path": "/Groups", "bulkId": "team", "data": {"displayName": "Team", "members": [{"value": "bulkId:alice"}]}},
            {"method": "PUT", "path": format!("/Users/{kept}"), "data": {"userName": "kept", "displayName": "Replaced"}},
            {"method": "PATCH", "path": "/Groups/bulkId:team", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": kept}]}]}},
            {"method": "DELETE", "path": format!("/Users/{old}")}
        ])).await;
        assert_eq!(reply.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]));
        assert_eq!(statuses(&reply), ["201", "201", "200", "200", "204"]);
        let ops = results(&reply);
        let alice = id_of(&ops[0]);
        let team = id_of(&ops[1]);
        assert_eq!(ops[0]["bulkId"], "alice");
        assert_eq!(ops[0]["method"], "POST");
        assert_eq!(ops[0]["location"], format!("{}/scim/v2/Users/{alice}", crate::fixture::PUBLIC_URL));
        assert_eq!(ops[0]["version"], "W/\"1\"");
        assert!(ops[0].get("response").is_none(), "successes carry no body");
        assert_eq!(ops[3]["location"], format!("{}/scim/v2/Groups/{team}", crate::fixture::PUBLIC_URL));
        assert_eq!(ops[3]["version"], "W/\"2\"");
        assert_eq!(ops[4]["location"], format!("{}/scim/v2/Users/{old}", crate::fixture::PUBLIC_URL));

        let group = app.get(&format!("/Groups/{team}")).await.expect(200).body;
        let mut members: Vec<&str> = group["members"].as_array().expect("members").iter().map(|m| m["value"].as_str().expect("value")).collect();
        members.sort_unstable();
        let mut expected = vec![alice, kept.as_str()];
        expected.sort_unstable();
        assert_eq!(members, expected);
        assert_eq!(app.get(&format!("/Users/{kept}")).await.expect(200).body["displayName"], "Replaced");
        app.get(&format!("/Users/{old}")).await.expect(404);
    }
}

both_databases! {
    async fn a_forward_reference_runs_the_referenced_post_first(app: TestApp) {
        // The group comes first in the request but names a user created later in it.
        let reply = bulk(&app, json!([
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Early", "members": [{"value": "bulkId:u", "type": "User"}]}},
            create_user("u", "late")
        ])).await;
        assert_eq!(statuses(&reply), ["201", "201"], "results stay in request order");
        let ops = results(&reply);
        assert_eq!(ops[0]["bulkId"], "g");
        let user = id_of(&ops[1]);
        let group = app.get(&format!("/Groups/{}", id_of(&ops[0]))).await.expect(200).body;
        assert_eq!(group["members"][0]["value"], user);
        let user = app.get(&format!("/Users/{user}")).await.expect(200).body;
        assert_eq!(user["groups"][0]["display"], "Early");
    }
}

both_databases! {
    async fn circular_references_fail_with_409_and_the_rest_runs(app: TestApp) {
        let group = |id: &str, member: &str| json!({"method": "POST", "path": "/Groups", "bulkId": id, "data": {"displayName": id, "members": [{"value": format!("bulkId:{member}")}]}});
        let reply = bulk(&app, json!([
            group("a", "b"),
            group("b", "a"),
            group("self", "self"),
            create_user("fine", "fine"),
            group("after", "a")
        ])).await;
        assert_eq!(statuses(&reply), ["409", "409", "409", "201", "409"]);
        let ops = results(&reply);
        for op in &ops[..3] {
            assert_eq!(op["response"]["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
            assert_eq!(op["response"]["status"], "409");
            assert!(op["response"]["detail"].as_str().expect("detail").contains("circular"), "{op}");
            assert!(op.get("location").is_none(), "a failed POST has no location");
        }
        assert!(ops[4]["response"]["detail"].as_str().expect("detail").contains("bulkId:a"), "{}", ops[4]);
        let groups = app.list("/Groups", &[]).await.expect(200).body;
        assert_eq!(groups["totalResults"], 0, "no group of the cycle was stored");
        assert_eq!(user_count(&app).await, 1);
    }
}

both_databases! {
    async fn an_operation_whose_reference_failed_fails_too(app: TestApp) {
        let reply = bulk(&app, json!([
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"displayName": "no userName"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "g", "members": [{"value": "bulkId:bad"}]}},
            {"method": "DELETE", "path": "/Users/bulkId:bad"},
            {"method": "POST", "path": "/Groups", "bulkId": "h", "data": {"displayName": "h", "members": [{"value": "bulkId:nowhere"}]}},
            {"method": "DELETE", "path": "/Widgets/1"}
        ])).await;
        assert_eq!(statuses(&reply), ["400", "409", "409", "400", "404"]);
        let ops = results(&reply);
        assert_eq!(ops[0]["response"]["scimType"], "invalidValue");
        assert_eq!(ops[3]["response"]["scimType"], "invalidValue");
        assert!(ops[3]["response"]["detail"].as_str().expect("detail").contains("nowhere"));
        assert_eq!(app.list("/Groups", &[]).await.expect(200).body["totalResults"], 0);
    }
}

both_databases! {
    async fn fail_on_errors_stops_after_that_many_errors(app: TestApp) {
        let invalid = |bulk_id: &str| json!({"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": {"userName": bulk_id, "active": "maybe"}});
        let operations = json!([create_user("1", "u1"), invalid("2"), create_user("3", "u3"), invalid("4"), create_user("5", "u5")]);
        let reply = app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": 2, "Operations": operations})).await.expect(200);
        assert_eq!(statuses(&reply), ["201", "400", "201", "400"], "the fifth operation did not run");
        let names = app.list("/Users", &[("sortBy", "userName")]).await.expect(200).body;
        let names: Vec<&str> = names["Resources"].as_array().expect("list").iter().map(|u| u["userName"].as_str().expect("name")).collect();
        assert_eq!(names, ["u1", "u3"]);

        // A conflict found only when writing counts the same way, and stops the same way.
        let operations = json!([create_user("6", "u6"), create_user("7", "U1"), create_user("8", "u8")]);
        let reply = app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": operations})).await.expect(200);
        assert_eq!(statuses(&reply), ["201", "409"]);
        assert_eq!(results(&reply)[1]["response"]["scimType"], "uniqueness");
        assert_eq!(user_count(&app).await, 3, "u8 was not created");

        // Mixed operations: the DELETE after the first error does not run.
        let kept = app.user(json!({"userName": "kept"})).await;
        let operations = json!([{"method": "DELETE", "path": "/Users/missing"}, {"method": "DELETE", "path": format!("/Users/{kept}")}]);
        let reply = app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": operations})).await.expect(200);
        assert_eq!(statuses(&reply), ["404"]);
        app.get(&format!("/Users/{kept}")).await.expect(200);
    }
}

both_databases! {
    async fn a_version_mismatch_fails_only_that_operation(app: TestApp) {
        let id = app.user(json!({"userName": "versioned"})).await;
        let doomed = app.user(json!({"userName": "doomed"})).await;
        let path = format!("/Users/{id}");
        let reply = bulk(&app, json!([
            {"method": "PUT", "path": path, "version": "W/\"7\"", "data": {"userName": "versioned", "displayName": "stale"}},
            {"method": "PATCH", "path": path, "version": "W/\"1\"", "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "fresh"}]}},
            {"method": "DELETE", "path": format!("/Users/{doomed}"), "version": "W/\"2\""},
            {"method": "DELETE", "path": format!("/Users/{doomed}"), "version": "not an etag"},
            create_user("new", "new")
        ])).await;
        assert_eq!(statuses(&reply), ["412", "200", "412", "412", "201"]);
        let ops = results(&reply);
        assert_eq!(ops[0]["location"], format!("{}/scim/v2/Users/{id}", crate::fixture::PUBLIC_URL), "a failed PUT has its location");
        assert_eq!(ops[1]["version"], "W/\"2\"");
        let user = app.get(&path).await.expect(200).body;
        assert_eq!(user["displayName"], "fresh");
        app.get(&format!("/Users/{doomed}")).await.expect(200);
        let reply = bulk(&app, json!([{"method": "DELETE", "path": format!("/Users/{doomed}"), "version": "W/\"1\""}])).await;
        assert_eq!(statuses(&reply), ["204"]);
    }
}

both_databases! {
    async fn a_duplicate_user_name_fails_only_its_operation(app: TestApp) {
        app.user(json!({"userName": "existing"})).await;
        let mut operations: Vec<Value> = (0..60).map(|i| create_user(&format!("b{i}"), &format!("user{i}"))).collect();
        operations[20] = create_user("b20", "USER3"); // duplicates an earlier create of the same request
        operations[40] = create_user("b40", "Existing"); // duplicates a stored user
        let reply = bulk(&app, Value::Array(operations)).await;
        let statuses = statuses(&reply);
        for (i, status) in statuses.iter().enumerate() {
            let expected = if i == 20 || i == 40 { "409" } else { "201" };
            assert_eq!(*status, expected, "operation {i}");
        }
        let ops = results(&reply);
        assert_eq!(ops[20]["response"]["scimType"], "uniqueness");
        assert_eq!(ops[40]["response"]["scimType"], "uniqueness");
        assert!(ops[40]["response"]["detail"].as_str().expect("detail").contains("Existing"));
        assert_eq!(user_count(&app).await, 1 + 58);
    }
}

both_databases! {
    async fn many_creates_span_several_batches(app: TestApp) {
        let n = 2345;
        let operations: Vec<Value> = (0..n).map(|i| create_user(&format!("b{i}"), &format!("bulk{i:05}@example.com"))).collect();
        let reply = bulk(&app, Value::Array(operations)).await;
        assert!(statuses(&reply).iter().all(|s| *s == "201"));
        let ops = results(&reply);
        assert_eq!(ops.len(), n);
        assert_eq!(ops[n - 1]["bulkId"], format!("b{}", n - 1));
        assert_eq!(user_count(&app).await, n as u64);
        let last = app.get(&format!("/Users/{}", id_of(&ops[n - 1]))).await.expect(200).body;
        assert_eq!(last["userName"], format!("bulk{:05}@example.com", n - 1));
    }
}

both_databases! {
    async fn bulk_creates_read_back_like_single_creates(app: TestApp) {
        let body = |name: &str| json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": name, "active": false, "name": {"givenName": "B", "familyName": "J"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "password": "s3cret-Passw0rd",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}
        });
        let single = app.post("/Users", &body("single")).await.expect(201).body;
        let reply = bulk(&app, json!([{"method": "POST", "path": "/Users", "bulkId": "b", "data": body("bulk")}])).await;
        let mut from_bulk = app.get(&format!("/Users/{}", id_of(&results(&reply)[0]))).await.expect(200).body;
        let mut single = single;
        for resource in [&mut single, &mut from_bulk] {
            let object = resource.as_object_mut().expect("object");
            for key in ["id", "meta", "userName"] {
                object.remove(key);
            }
        }
        assert_eq!(from_bulk, single);
    }
}

both_databases! {
    async fn malformed_bulk_requests_change_nothing(app: TestApp) {
        app.post("/Bulk", &json!({"Operations": [create_user("a", "a")]})).await.expect_error(400, Some("invalidSyntax"));
        app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": [create_user("a", "a"), create_user("a", "b")]})).await.expect_error(400, Some("invalidValue"));
        app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "failOnErrors": -1, "Operations": []})).await.expect_error(400, Some("invalidValue"));
        app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": [create_user("a", "a"), {"method": "GET", "path": "/Users"}]})).await.expect_error(400, Some("invalidSyntax"));
        assert_eq!(user_count(&app).await, 0);
        let auditor = app.tenant_token("acme", scimd::store::Role::Auditor, None).await;
        let body = json!({"schemas": [BULK_REQUEST], "Operations": [create_user("a", "a")]});
        app.send(app.client.post(app.url("/Bulk")).bearer_auth(auditor).json(&body)).await.expect_error(403, None);
        app.send(app.client.get(app.url("/Bulk")).bearer_auth(&app.token)).await.expect_error(405, None);
    }
}

// Limits: 2 operations, 4 KiB per bulk body, 1 KiB for any other body.
both_databases_with! {
    |c| {
        c.scim.bulk.max_operations = 2;
        c.scim.bulk.max_payload_bytes = 4096;
        c.server.max_body_bytes = 1024;
    },
    async fn limits_are_advertised_and_enforced(app: TestApp) {
        let config = app.get("/ServiceProviderConfig").await.expect(200).body;
        assert_eq!(config["bulk"], json!({"supported": true, "maxOperations": 2, "maxPayloadSize": 4096}));

        let three = json!([create_user("a", "a"), create_user("b", "b"), create_user("c", "c")]);
        let reply =
            app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": three})).await.expect_error(413, None);
        assert!(reply.body["detail"].as_str().expect("detail").contains("maxOperations is 2"), "{}", reply.body);

        let padding = "x".repeat(5000);
        let big =
            json!([{"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a", "displayName": padding}}]);
        let reply = app.post("/Bulk", &json!({"schemas": [BULK_REQUEST], "Operations": big})).await.expect_error(413, None);
        assert!(reply.body["detail"].as_str().expect("detail").contains("maxPayloadSize"), "{}", reply.body);
        assert_eq!(user_count(&app).await, 0);

        // Above server.max_body_bytes but within maxPayloadSize: accepted on /Bulk only.
        let padding = "y".repeat(2000);
        let user = json!({"userName": "padded", "displayName": padding});
        app.post("/Users", &user).await.expect_error(413, None);
        let ok = json!([{"method": "POST", "path": "/Users", "bulkId": "p", "data": user}]);
        let reply = bulk(&app, ok).await;
        assert_eq!(statuses(&reply), ["201"]);
    }
}

both_databases_with! {
    |c| c.scim.bulk.max_concurrent = 1,
    async fn concurrent_bulk_requests_wait_their_turn(app: TestApp) {
        let ops = |prefix: &str| {
            let ops: Vec<Value> = (0..200).map(|i| create_user(&format!("{prefix}{i}"), &format!("{prefix}{i}"))).collect();
            json!({"schemas": [BULK_REQUEST], "Operations": ops})
        };
        let (first, second, third) = (ops("a"), ops("b"), ops("c"));
        let (a, b, c) = tokio::join!(app.post("/Bulk", &first), app.post("/Bulk", &second), app.post("/Bulk", &third));
        for reply in [a, b, c] {
            let reply = reply.expect(200);
            assert!(statuses(&reply).iter().all(|s| *s == "201"), "{}", reply.body);
        }
        assert_eq!(user_count(&app).await, 600);
    }
}
