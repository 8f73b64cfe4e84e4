//! /Groups: members as rows, nested groups, a user's computed `groups`.

use serde_json::json;

use crate::{both_databases, both_databases_with};

both_databases! {
    async fn members_are_stored_and_rendered_with_current_display_names(app: TestApp) {
        let alice = app.user(json!({"userName": "alice", "displayName": "Alice A."})).await;
        let bob = app.user(json!({"userName": "bob"})).await;
        // members.display is `returned: request`: asked for here, next to the whole members.
        let reply = app.post("/Groups?attributes=members,members.display", &json!({"displayName": "Engineering", "members": [{"value": alice}, {"value": bob, "type": "User"}]})).await.expect(201);
        let group = reply.body["id"].as_str().expect("id").to_owned();
        let members = reply.body["members"].as_array().expect("members");
        assert_eq!(members.len(), 2);
        let alice_entry = members.iter().find(|m| m["value"] == alice.as_str()).expect("alice");
        assert_eq!(alice_entry["display"], "Alice A.");
        assert_eq!(alice_entry["type"], "User");
        assert_eq!(alice_entry["$ref"], format!("{}/scim/v2/Users/{alice}", crate::fixture::PUBLIC_URL));
        let bob_entry = members.iter().find(|m| m["value"] == bob.as_str()).expect("bob");
        assert_eq!(bob_entry["display"], "bob", "a user without displayName shows its userName");
        // Renaming a member shows on the next read: display is not copied into the group.
        app.patch(&format!("/Users/{alice}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "Alice B."}]})).await.expect(200);
        let read = app.get(&format!("/Groups/{group}?attributes=members.display")).await.expect(200);
        assert!(read.body["members"].as_array().expect("members").iter().any(|m| m == &json!({"display": "Alice B."})));
    }
}

both_databases! {
    async fn members_read_back_as_written(app: TestApp) {
        let alice = app.user(json!({"userName": "alice", "displayName": "Alice A."})).await;
        let group = app.group(json!({"displayName": "g"})).await;
        let member = json!({"value": alice, "$ref": format!("{}/scim/v2/Users/{alice}", crate::fixture::PUBLIC_URL), "type": "User"});
        for op in ["add", "replace"] {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": op, "path": "members", "value": [member]}]});
            let reply = app.patch(&format!("/Groups/{group}"), &body).await.expect(200);
            assert_eq!(reply.body["members"], json!([member]), "{op}");
            assert_eq!(app.get(&format!("/Groups/{group}")).await.expect(200).body["members"], json!([member]), "{op}");
        }
    }
}

both_databases! {
    async fn unknown_members_are_skipped_not_stored(app: TestApp) {
        let alice = app.user(json!({"userName": "alice"})).await;
        let reply = app.post("/Groups", &json!({"displayName": "g", "members": [{"value": alice}, {"value": "no-such-id"}]})).await.expect(201);
        let members = reply.body["members"].as_array().expect("members");
        assert_eq!(members.len(), 1);
        assert_eq!(members[0]["value"], alice.as_str());
    }
}

both_databases! {
    async fn users_show_direct_and_indirect_groups(app: TestApp) {
        let alice = app.user(json!({"userName": "alice"})).await;
        let team = app.group(json!({"displayName": "team", "members": [{"value": alice}]})).await;
        let department = app.group(json!({"displayName": "department", "members": [{"value": team, "type": "Group"}]})).await;
        let company = app.group(json!({"displayName": "company", "members": [{"value": department}]})).await;
        let user = app.get(&format!("/Users/{alice}")).await.expect(200).body;
        let groups = user["groups"].as_array().expect("groups");
        let kind_of = |id: &str| groups.iter().find(|g| g["value"] == id).map(|g| g["type"].as_str().expect("type").to_owned());
        assert_eq!(kind_of(&team).as_deref(), Some("direct"));
        assert_eq!(kind_of(&department).as_deref(), Some("indirect"));
        assert_eq!(kind_of(&company).as_deref(), Some("indirect"));
        assert_eq!(groups.len(), 3);
        // Filter by group membership, in the database.
        let reply = app.list("/Users", &[("filter", &format!("groups.value eq \"{company}\""))]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1);
        let reply = app.list("/Groups", &[("filter", &format!("members.value eq \"{team}\""))]).await.expect(200);
        assert_eq!(reply.body["Resources"][0]["id"], department.as_str());
        // A cycle does not loop forever.
        app.patch(&format!("/Groups/{team}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": company}]}]})).await.expect(200);
        let user = app.get(&format!("/Users/{alice}")).await.expect(200).body;
        assert_eq!(user["groups"].as_array().expect("groups").len(), 3);
    }
}

both_databases! {
    async fn group_display_names_are_unique_per_tenant(app: TestApp) {
        app.group(json!({"displayName": "Admins"})).await;
        app.post("/Groups", &json!({"displayName": "admins"})).await.expect_error(409, Some("uniqueness"));
    }
}

both_databases! {
    async fn excluding_members_does_not_read_them(app: TestApp) {
        let mut members = Vec::new();
        for i in 0..5 {
            members.push(json!({"value": app.user(json!({"userName": format!("m{i}")})).await}));
        }
        app.group(json!({"displayName": "big", "members": members})).await;
        let before = member_rows_read(&app).await;
        let reply = app.list("/Groups", &[("filter", "displayName eq \"big\""), ("excludedAttributes", "members")]).await.expect(200);
        assert!(reply.body["Resources"][0].get("members").is_none());
        assert_eq!(member_rows_read(&app).await, before, "excludedAttributes=members must not read member rows");
        let reply = app.list("/Groups", &[("filter", "displayName eq \"big\"")]).await.expect(200);
        assert_eq!(reply.body["Resources"][0]["members"].as_array().expect("members").len(), 5);
        assert!(member_rows_read(&app).await >= before + 5);
    }
}

async fn member_rows_read(app: &crate::fixture::TestApp) -> u64 {
    app.store.member_rows_read()
}

both_databases! {
    async fn deleting_a_user_removes_its_memberships(app: TestApp) {
        let alice = app.user(json!({"userName": "alice"})).await;
        let group = app.group(json!({"displayName": "g", "members": [{"value": alice}]})).await;
        app.delete(&format!("/Users/{alice}")).await.expect(204);
        let read = app.get(&format!("/Groups/{group}")).await.expect(200);
        assert!(read.body.get("members").is_none());
    }
}

both_databases! {
    async fn patch_skips_unknown_members_and_applies_the_rest(app: TestApp) {
        let alice = app.user(json!({"userName": "alice"})).await;
        let group = app.group(json!({"displayName": "g"})).await;
        let path = format!("/Groups/{group}");
        app.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": "no-such-id"}, {"value": alice}]}])).await.expect(200);
        let members = app.get(&path).await.body["members"].clone();
        assert_eq!(members.as_array().expect("members").len(), 1);
        assert_eq!(members[0]["value"], alice.as_str());
    }
}

both_databases! {
    async fn patch_answers_with_the_requested_attributes(app: TestApp) {
        let id = app.user(json!({"userName": "pat", "title": "t", "nickName": "n"})).await;
        let reply = app.patch(&format!("/Users/{id}?attributes=title"), &json!({"schemas": [crate::fixture::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]})).await.expect(200);
        assert_eq!(reply.body["title"], "Lead");
        assert!(reply.body.get("nickName").is_none() && reply.body.get("userName").is_none(), "{}", reply.body);
        let reply = app.patch(&format!("/Users/{id}?excludedAttributes=title"), &json!({"schemas": [crate::fixture::PATCH_OP], "Operations": [{"op": "replace", "path": "nickName", "value": "m"}]})).await.expect(200);
        assert_eq!(reply.body["nickName"], "m");
        assert!(reply.body.get("title").is_none(), "{}", reply.body);
    }
}

both_databases_with! {
    |c| c.scim.large_group_members = 2,
    async fn patch_of_a_group_over_the_member_threshold_answers_204(app: TestApp) {
        let mut users = Vec::new();
        for name in ["a", "b", "c", "d"] {
            users.push(app.user(json!({"userName": name})).await);
        }
        let group = app.group(json!({"displayName": "big", "members": [{"value": users[0]}, {"value": users[1]}]})).await;
        let path = format!("/Groups/{group}");
        let add = |user: &str| json!({"schemas": [crate::fixture::PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]});
        // At the threshold the group is still small: 200 with members.
        let reply = app.patch_ops(&path, json!([{"op": "replace", "path": "displayName", "value": "big"}])).await.expect(200);
        assert_eq!(reply.body["members"].as_array().expect("members").len(), 2);
        // Over it: 204, no body, the new version in the ETag.
        let reply = app.patch(&path, &add(&users[2])).await.expect(204);
        assert_eq!(reply.body, serde_json::Value::Null);
        let read = app.get(&path).await.expect(200);
        assert_eq!(reply.header("etag"), read.header("etag"));
        assert_eq!(read.body["members"].as_array().expect("members").len(), 3);
        // Asking for attributes, or excluding members, gets the resource.
        let reply = app.patch(&format!("{path}?attributes=displayName"), &add(&users[3])).await.expect(200);
        assert_eq!(reply.body["displayName"], "big");
        assert!(reply.body.get("members").is_none());
        let reply = app.patch(&format!("{path}?excludedAttributes=members"), &add(&users[3])).await.expect(200);
        assert_eq!(reply.body["displayName"], "big");
    }
}

both_databases! {
    async fn concurrent_member_patches_all_land_and_each_counts_once(app: TestApp) {
        // On SQLite concurrent membership PATCHes share a commit (store/batch.rs): each must see the
        // ones before it, and a failing one (an unknown group) must fail alone.
        let group = app.group(json!({"displayName": "crowd"})).await;
        let mut users = Vec::new();
        for i in 0..20 {
            users.push(app.user(json!({"userName": format!("crowd{i}@example.com")})).await);
        }
        let app = &app;
        let adds = users.iter().map(|user| {
            let path = format!("/Groups/{group}");
            async move { app.patch_ops(&path, json!([{"op": "add", "path": "members", "value": [{"value": user}]}])).await }
        });
        let missing = app.patch_ops("/Groups/no-such-group", json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]));
        let (replies, missing) = futures_util::future::join(futures_util::future::join_all(adds), missing).await;
        assert!(replies.iter().all(|r| r.status == 200 || r.status == 204), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
        assert_eq!(missing.status, 404, "{}", missing.body);
        let read = app.get(&format!("/Groups/{group}")).await.expect(200).body;
        let mut members: Vec<&str> = read["members"].as_array().expect("members").iter().map(|m| m["value"].as_str().expect("value")).collect();
        members.sort_unstable();
        let mut expected: Vec<&str> = users.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(members, expected);
        assert_eq!(read["meta"]["version"], "W/\"21\"", "one version per membership change");
    }
}
