//! Every query is scoped by the token's tenant (DESIGN.md §6); authentication failures are 401.

use scimd::store::Role;
use serde_json::json;

use crate::both_databases;

both_databases! {
    async fn a_tenant_cannot_reach_another_tenants_resources(app: TestApp) {
        let user = app.user(json!({"userName": "secret@acme.com", "displayName": "Acme only"})).await;
        let group = app.group(json!({"displayName": "acme-admins", "members": [{"value": user}]})).await;
        let other = app.tenant_token("globex", Role::Scim, Some("okta")).await;
        let as_other = |request: reqwest::RequestBuilder| request.bearer_auth(other.clone());
        for path in [format!("/Users/{user}"), format!("/Groups/{group}")] {
            app.send(as_other(app.client.get(app.url(&path)))).await.expect_error(404, None);
            app.send(as_other(app.client.put(app.url(&path))).json(&json!({"userName": "x", "displayName": "x"}))).await.expect_error(404, None);
            let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "stolen"}]});
            app.send(as_other(app.client.patch(app.url(&path))).json(&patch)).await.expect_error(404, None);
            app.send(as_other(app.client.delete(app.url(&path)))).await.expect_error(404, None);
        }
        for (path, filter) in [("/Users", "userName eq \"secret@acme.com\""), ("/Users", "displayName pr"), ("/Groups", "displayName pr")] {
            let reply = app.send(as_other(app.client.get(app.url(path)).query(&[("filter", filter)]))).await.expect(200);
            assert_eq!(reply.body["totalResults"], 0, "{path} {filter}");
        }
        let reply = app.send(as_other(app.client.get(app.url("/Users")))).await.expect(200);
        assert_eq!(reply.body["totalResults"], 0);
        // A group in the other tenant cannot take acme's user as a member.
        let reply = app.send(as_other(app.client.post(app.url("/Groups"))).json(&json!({"displayName": "globex", "members": [{"value": user}]}))).await.expect(201);
        assert!(reply.body.get("members").is_none());
        // And acme's data is intact.
        let read = app.get(&format!("/Users/{user}")).await.expect(200);
        assert_eq!(read.body["displayName"], "Acme only");
    }
}

both_databases! {
    async fn missing_or_invalid_tokens_are_401_with_www_authenticate(app: TestApp) {
        let reply = app.send(app.client.get(app.url("/Users"))).await.expect_error(401, None);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"scimd\""));
        let reply = app.send(app.client.get(app.url("/Users")).bearer_auth("scimd_not-a-token")).await.expect_error(401, None);
        assert!(reply.header("www-authenticate").is_some());
        app.send(app.client.get(app.url("/Users")).header("Authorization", "Basic YTpi")).await.expect_error(401, None);
    }
}

both_databases! {
    async fn auditor_tokens_cannot_use_scim(app: TestApp) {
        let auditor = app.tenant_token("acme", Role::Auditor, None).await;
        app.send(app.client.get(app.url("/Users")).bearer_auth(&auditor)).await.expect_error(403, None);
        app.send(app.client.post(app.url("/Users")).bearer_auth(&auditor).json(&json!({"userName": "x"}))).await.expect_error(403, None);
    }
}

/// managingEntity is server-owned: returned when asked for.
const MANAGED: &str = "/Users?attributes=urn:ietf:params:scim:schemas:extension:scimd:2.0:User:managingEntity";

both_databases! {
    async fn what_a_scim_client_creates_is_managed_by_it(app: TestApp) {
        let entra = app.tenant_token("acme", Role::Scim, Some("entra")).await;
        let reply = app.send(app.client.post(app.url(MANAGED)).bearer_auth(&entra).json(&json!({"userName": "e@acme.com"}))).await.expect(201);
        assert_eq!(reply.body["urn:ietf:params:scim:schemas:extension:scimd:2.0:User"]["managingEntity"], "scim:entra");
        let admin = app.tenant_token("acme", Role::Admin, None).await;
        let reply = app.send(app.client.post(app.url(MANAGED)).bearer_auth(&admin).json(&json!({"userName": "a@acme.com"}))).await.expect(201);
        assert_eq!(reply.body["urn:ietf:params:scim:schemas:extension:scimd:2.0:User"]["managingEntity"], "local");
        let reply = app.list("/Users", &[("filter", "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:managingEntity eq \"scim:entra\"")]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1);
    }
}
