//! Microsoft Entra ID (Azure AD) provisioning: the requests its SCIM client sends, quirks included
//! (Microsoft's "Tutorial: develop and plan provisioning for a SCIM endpoint" and its known issues).
//! One test per behaviour: the request as Entra sends it, then the state it must leave.

use serde_json::json;

use crate::{both_databases, both_databases_with};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

both_databases! {
    async fn op_names_in_any_case(app: TestApp) {
        let id = app.user(json!({"userName": "ada", "title": "Engineer", "nickName": "A"})).await;
        let path = format!("/Users/{id}");
        app.patch_ops(&path, json!([
            {"op": "Add", "path": "displayName", "value": "Ada L."},
            {"op": "Replace", "path": "title", "value": "Lead"},
            {"op": "Remove", "path": "nickName"},
            {"op": "REPLACE", "path": "profileUrl", "value": "https://example.com/ada"},
        ])).await.expect(200);
        let user = app.get(&path).await.expect(200).body;
        assert_eq!(user["displayName"], "Ada L.");
        assert_eq!(user["title"], "Lead");
        assert_eq!(user["profileUrl"], "https://example.com/ada");
        assert!(user.get("nickName").is_none(), "{user}");
    }
}

both_databases! {
    async fn booleans_sent_as_strings_in_post_put_and_patch(app: TestApp) {
        let reply = app.post("/Users", &json!({"userName": "bo", "active": "True"})).await.expect(201);
        assert_eq!(reply.body["active"], true);
        let path = format!("/Users/{}", reply.body["id"].as_str().expect("id"));
        app.put(&path, &json!({"userName": "bo", "active": "False"})).await.expect(200);
        assert_eq!(app.get(&path).await.body["active"], false);
        app.patch_ops(&path, json!([{"op": "Replace", "path": "active", "value": "TRUE"}])).await.expect(200);
        assert_eq!(app.get(&path).await.body["active"], true);
        app.patch_ops(&path, json!([{"op": "Replace", "value": {"active": "false"}}])).await.expect(200);
        assert_eq!(app.get(&path).await.body["active"], false);
        let before = app.get(&path).await.body;
        app.patch_ops(&path, json!([{"op": "Replace", "path": "active", "value": "yes"}])).await.expect_error(400, Some("invalidValue"));
        assert_eq!(app.get(&path).await.body, before, "a refused PATCH changes nothing");
    }
}

both_databases! {
    async fn path_less_replace_with_dotted_and_urn_keys(app: TestApp) {
        let id = app.user(json!({"userName": "cy", "name": {"givenName": "Cy", "familyName": "Young"}})).await;
        let path = format!("/Users/{id}");
        app.patch_ops(&path, json!([{"op": "Replace", "value": {
            "name.givenName": "Cyrus",
            "name.formatted": "Cyrus Young",
            format!("{ENTERPRISE}:employeeNumber"): "701",
            format!("{ENTERPRISE}:department"): "Research",
        }}])).await.expect(200);
        let user = app.get(&path).await.expect(200).body;
        assert_eq!(user["name"], json!({"givenName": "Cyrus", "familyName": "Young", "formatted": "Cyrus Young"}));
        assert_eq!(user[ENTERPRISE], json!({"employeeNumber": "701", "department": "Research"}));
    }
}

both_databases! {
    async fn remove_members_listed_in_the_value_removes_only_those(app: TestApp) {
        let a = app.user(json!({"userName": "a"})).await;
        let b = app.user(json!({"userName": "b"})).await;
        let c = app.user(json!({"userName": "c"})).await;
        let group = app.group(json!({"displayName": "g", "members": [{"value": a}, {"value": b}, {"value": c}]})).await;
        let path = format!("/Groups/{group}");
        app.patch_ops(&path, json!([{"op": "Remove", "path": "members", "value": [{"value": a}, {"value": c}]}])).await.expect(200);
        assert_eq!(app.get(&path).await.body["members"], json!([{"value": b, "type": "User", "$ref": format!("{}/scim/v2/Users/{b}", crate::fixture::PUBLIC_URL)}]));
    }
}

both_databases! {
    async fn remove_member_by_value_filter(app: TestApp) {
        let a = app.user(json!({"userName": "a"})).await;
        let b = app.user(json!({"userName": "b"})).await;
        let group = app.group(json!({"displayName": "g", "members": [{"value": a}, {"value": b}]})).await;
        let path = format!("/Groups/{group}");
        app.patch_ops(&path, json!([{"op": "Remove", "path": format!("members[value eq \"{a}\"]")}])).await.expect(200);
        let members = app.get(&path).await.body["members"].clone();
        assert_eq!(members.as_array().expect("members").len(), 1);
        assert_eq!(members[0]["value"], b.as_str());
    }
}

both_databases! {
    async fn a_patch_that_changes_nothing_keeps_version_and_last_modified(app: TestApp) {
        let id = app.user(json!({"userName": "dee", "displayName": "Dee", "active": true})).await;
        let path = format!("/Users/{id}");
        let before = app.get(&path).await.expect(200);
        let reply = app.patch_ops(&path, json!([
            {"op": "Replace", "path": "displayName", "value": "Dee"},
            {"op": "Replace", "path": "active", "value": "True"},
        ])).await.expect(200);
        assert_eq!(reply.body["meta"], before.body["meta"]);
        assert_eq!(reply.header("etag"), before.header("etag"));
    }
}

both_databases! {
    async fn manager_sent_as_a_plain_id(app: TestApp) {
        let boss = app.user(json!({"userName": "boss"})).await;
        let id = app.user(json!({"userName": "emp", ENTERPRISE: {"manager": boss}})).await;
        let path = format!("/Users/{id}");
        assert_eq!(app.get(&path).await.body[ENTERPRISE]["manager"]["value"], boss.as_str());
        let other = app.user(json!({"userName": "boss2"})).await;
        app.patch_ops(&path, json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": other}])).await.expect(200);
        assert_eq!(app.get(&path).await.body[ENTERPRISE]["manager"]["value"], other.as_str());
    }
}

both_databases! {
    async fn add_through_a_type_filter_creates_the_entry_once(app: TestApp) {
        let id = app.user(json!({"userName": "eve", "emails": [{"type": "work", "value": "eve@work.example", "primary": true}]})).await;
        let path = format!("/Users/{id}");
        let add = |value: &str| json!([{"op": "Add", "path": "emails[type eq \"other\"].value", "value": value}]);
        app.patch_ops(&path, add("eve@other.example")).await.expect(200);
        app.patch_ops(&path, add("eve@second.example")).await.expect(200);
        let emails = app.get(&path).await.body["emails"].clone();
        assert_eq!(emails, json!([
            {"type": "work", "value": "eve@work.example", "primary": true},
            {"type": "other", "value": "eve@second.example"},
        ]));
    }
}

both_databases! {
    async fn lookups_entra_sends_before_provisioning(app: TestApp) {
        let id = app.user(json!({"userName": "Fay.Smith@example.com", "externalId": "fay-1", "active": true,
            "emails": [{"type": "work", "value": "fay@work.example"}]})).await;
        let group = app.group(json!({"displayName": "Sales Team", "members": [{"value": id}]})).await;
        let only = |reply: crate::fixture::Reply, expected: &str| {
            assert_eq!(reply.body["totalResults"], 1, "{}", reply.body);
            assert_eq!(reply.body["Resources"][0]["id"], expected);
            reply
        };
        only(app.list("/Users", &[("filter", "userName eq \"fay.smith@EXAMPLE.com\"")]).await.expect(200), &id);
        only(app.list("/Users", &[("filter", "UserName eq \"Fay.Smith@example.com\"")]).await.expect(200), &id);
        only(app.list("/Users", &[("filter", "externalId eq \"fay-1\"")]).await.expect(200), &id);
        only(app.list("/Users", &[("filter", "emails[type eq \"work\"].value eq \"fay@work.example\"")]).await.expect(200), &id);
        only(app.list("/Users", &[("filter", "Active eq true")]).await.expect(200), &id);
        let reply = only(app.list("/Groups", &[("filter", "displayName eq \"Sales Team\""), ("excludedAttributes", "members")]).await.expect(200), &group);
        assert!(reply.body["Resources"][0].get("members").is_none());
        // Entra encodes spaces in the query string as `+`.
        let reply = app.get("/Groups?filter=displayName+eq+%22Sales+Team%22").await.expect(200);
        only(reply, &group);
    }
}

both_databases! {
    async fn no_match_is_an_empty_list_with_integer_paging_fields(app: TestApp) {
        let reply = app.list("/Users", &[("filter", "userName eq \"nobody@example.com\"")]).await.expect(200);
        assert_eq!(reply.body, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": [],
        }));
    }
}

both_databases! {
    async fn microsoft_group_schema_urn_is_accepted(app: TestApp) {
        let reply = app.post("/Groups", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Entra Group", "externalId": "e-1",
        })).await.expect(201);
        assert_eq!(reply.body["displayName"], "Entra Group");
        assert_eq!(reply.body["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]));
    }
}

both_databases_with! {
    |c| { c.auth.rate_limit_per_second = 1; c.auth.rate_limit_burst = 3; },
    async fn requests_over_the_token_rate_get_429_with_retry_after(app: TestApp) {
        // The burst of 3 passes; at one request a second, a 429 follows within a few more requests.
        let mut passed = 0;
        let reply = loop {
            let reply = app.get("/Users").await;
            if reply.status != 200 || passed == 10 {
                break reply;
            }
            passed += 1;
        };
        assert!(passed >= 3, "the burst passes: {passed}");
        let reply = reply.expect_error(429, None);
        let seconds: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
        assert!((1..=2).contains(&seconds), "{seconds}");
        // The limit is per token: another client of the same tenant is not throttled.
        let other = app.tenant_token("acme", scimd::store::Role::Scim, Some("entra")).await;
        let request = app.client.get(app.url("/Users")).bearer_auth(other);
        app.send(request).await.expect(200);
    }
}
