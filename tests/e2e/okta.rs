//! Okta provisioning (Okta's "SCIM 2.0 protocol reference" and its SCIM app test suite): the requests
//! Okta sends, one test per behaviour, each checking the state it must leave.

use serde_json::json;

use crate::both_databases;

both_databases! {
    async fn deactivation_by_path_less_replace(app: TestApp) {
        let id = app.user(json!({"userName": "ann@example.com", "active": true, "title": "CFO"})).await;
        let path = format!("/Users/{id}");
        let reply = app.patch_ops(&path, json!([{"op": "replace", "value": {"active": false}}])).await.expect(200);
        assert_eq!(reply.body["active"], false);
        let user = app.get(&path).await.expect(200).body;
        assert_eq!(user["active"], false);
        assert_eq!(user["title"], "CFO", "a path-less replace leaves other attributes alone");
    }
}

both_databases! {
    async fn members_replaced_with_the_full_list_then_emptied(app: TestApp) {
        let a = app.user(json!({"userName": "a"})).await;
        let b = app.user(json!({"userName": "b"})).await;
        let c = app.user(json!({"userName": "c"})).await;
        let group = app.group(json!({"displayName": "okta-g", "members": [{"value": a}, {"value": b}]})).await;
        let path = format!("/Groups/{group}");
        let values = |body: &serde_json::Value| {
            let mut ids: Vec<String> = body["members"].as_array().map_or(Vec::new(), |m| {
                m.iter().map(|m| m["value"].as_str().expect("value").to_owned()).collect()
            });
            ids.sort();
            ids
        };
        app.patch_ops(&path, json!([{"op": "replace", "path": "members", "value": [{"value": b, "display": "b"}, {"value": c, "display": "c"}]}])).await.expect(200);
        let mut expected = vec![b.clone(), c.clone()];
        expected.sort();
        assert_eq!(values(&app.get(&path).await.body), expected);
        app.patch_ops(&path, json!([{"op": "replace", "path": "members", "value": []}])).await.expect(200);
        let group = app.get(&path).await.expect(200).body;
        assert!(group.get("members").is_none(), "{group}");
        assert_eq!(group["displayName"], "okta-g");
    }
}

both_databases! {
    async fn group_rename_echoing_its_id(app: TestApp) {
        let group = app.group(json!({"displayName": "Old Name"})).await;
        let path = format!("/Groups/{group}");
        let reply = app.patch_ops(&path, json!([{"op": "replace", "value": {"id": group, "displayName": "New Name"}}])).await.expect(200);
        assert_eq!(reply.body["displayName"], "New Name");
        assert_eq!(reply.body["id"], group.as_str());
        // Another id is an attempt to change a readOnly attribute, and changes nothing.
        app.patch_ops(&path, json!([{"op": "replace", "value": {"id": "someone-else", "displayName": "Other"}}])).await.expect_error(400, Some("mutability"));
        assert_eq!(app.get(&path).await.body["displayName"], "New Name");
    }
}

both_databases! {
    async fn put_replaces_the_whole_user_including_deactivation(app: TestApp) {
        let id = app.user(json!({"userName": "bob@example.com", "active": true, "nickName": "Bobby",
            "name": {"givenName": "Bob", "familyName": "Smith"}, "emails": [{"value": "bob@example.com", "primary": true}]})).await;
        let path = format!("/Users/{id}");
        let reply = app.put(&path, &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": id, "userName": "bob@example.com", "active": false,
            "name": {"givenName": "Robert", "familyName": "Smith"},
            "emails": [{"value": "bob@example.com", "primary": true, "type": "work"}],
        })).await.expect(200);
        assert_eq!(reply.body["active"], false);
        let user = app.get(&path).await.expect(200).body;
        assert_eq!(user["active"], false);
        assert_eq!(user["name"], json!({"givenName": "Robert", "familyName": "Smith"}));
        assert!(user.get("nickName").is_none(), "PUT drops what it does not send: {user}");
    }
}

both_databases! {
    async fn user_lookup_then_create_as_okta_imports(app: TestApp) {
        // Okta first asks whether the user exists (paging parameters included), then creates it.
        let query = [("filter", "userName eq \"carol@example.com\""), ("startIndex", "1"), ("count", "100")];
        let reply = app.list("/Users", &query).await.expect(200);
        assert_eq!(reply.body["totalResults"], 0);
        assert_eq!(reply.body["Resources"], json!([]));
        let id = app.user(json!({"userName": "carol@example.com", "active": true})).await;
        let reply = app.list("/Users", &query).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1);
        assert_eq!(reply.body["startIndex"], 1);
        assert_eq!(reply.body["itemsPerPage"], 1);
        assert_eq!(reply.body["Resources"][0]["id"], id.as_str());
    }
}
