//! The `azure` connector end to end: configured and run through the admin API of a real server,
//! reading the in-process fake Microsoft Graph (`scimd-fakes`), on SQLite and PostgreSQL.

use reqwest::Method;
use scimd_fakes::graph::{self, Directory, FakeGraph};
use serde_json::{Map, Value, json};

use crate::both_databases;
use crate::fixture::TestApp;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const SCIMD: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

fn properties(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn user(name: &str, title: &str) -> Map<String, Value> {
    properties(json!({
        "userPrincipalName": format!("{name}@contoso.example"),
        "accountEnabled": true,
        "displayName": name.to_uppercase(),
        "givenName": name,
        "mail": format!("{name}@contoso.example"),
        "jobTitle": title,
        "department": "R&D",
        "signInActivity": {"lastSignInDateTime": "2026-11-20T07:30:00Z"},
    }))
}

struct Tenant {
    fake: FakeGraph,
    ana: String,
    ben: String,
    cho: String,
    staff: String,
    admins: String,
}

async fn tenant() -> Tenant {
    let mut directory = Directory::default();
    let ana = directory.create_user(user("ana", "Engineer"));
    let mut ben = user("ben", "Engineer");
    ben.insert("manager".into(), json!(ana));
    let ben = directory.create_user(ben);
    let cho = directory.create_user(user("cho", "Admin"));
    let staff = directory.create_group(properties(json!({"displayName": "staff"})), &[ana.clone(), ben.clone()]);
    let admins = directory.create_group(properties(json!({"displayName": "admins"})), &[cho.clone(), staff.clone()]);
    let fake = FakeGraph::start(directory).await.expect("the fake starts");
    Tenant { fake, ana, ben, cho, staff, admins }
}

async fn run_connector(app: &TestApp, id: &str, body: Value) -> Value {
    let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&body)).await.expect(202);
    app.wait_job(reply.body["id"].as_str().unwrap()).await
}

async fn one(app: &TestApp, path: &str, filter: &str, attributes: &str) -> Value {
    let reply = app.list(&format!("/{path}"), &[("filter", filter), ("attributes", attributes)]).await.expect(200);
    assert_eq!(reply.body["totalResults"], 1, "{filter}: {:#}", reply.body);
    reply.body["Resources"][0].clone()
}

async fn member_names(app: &TestApp, group: &str) -> Vec<String> {
    let group = one(app, "Groups", &format!("displayName eq \"{group}\""), "members,members.display").await;
    let mut names: Vec<String> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["display"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

both_databases! {
    async fn an_entra_tenant_syncs_in_full_then_by_delta(app: TestApp) {
        let tenant = tenant().await;
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), graph::CLIENT_SECRET).unwrap();
        let body = json!({
            "name": "entra",
            "kind": "azure",
            "missingPolicy": "deactivate",
            "config": {
                "tenantId": graph::TENANT,
                "clientId": graph::CLIENT_ID,
                "clientSecretFile": secret.path(),
                "authority": tenant.fake.base_url,
                "graphUrl": tenant.fake.graph_url(),
                "pageSize": 2,
            },
        });
        let created = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();

        let job = run_connector(&app, &id, json!({})).await;
        assert_eq!((job["status"].as_str(), job["createdCount"].as_i64(), job["fullRun"].as_bool()), (Some("completed"), Some(5), Some(true)), "{job:#}");
        let attributes = format!("userName,displayName,name,emails,title,active,{ENTERPRISE}:department,{ENTERPRISE}:manager,{SCIMD}:lastAccess,{SCIMD}:managingEntity");
        let ben = one(&app, "Users", r#"userName eq "ben@contoso.example""#, &attributes).await;
        assert_eq!((ben["displayName"].as_str(), ben["title"].as_str()), (Some("BEN"), Some("Engineer")));
        assert_eq!(ben["emails"][0]["value"], "ben@contoso.example");
        assert_eq!(ben[ENTERPRISE]["department"], "R&D");
        let ana_id = one(&app, "Users", r#"userName eq "ana@contoso.example""#, "id").await["id"].clone();
        assert_eq!(ben[ENTERPRISE]["manager"]["value"], ana_id, "the manager's scimd id, not its Graph id {}", tenant.ana);
        assert_eq!(ben[SCIMD]["lastAccess"], "2026-11-20T07:30:00Z", "the engine writes the readOnly lastAccess");
        assert_eq!(ben[SCIMD]["managingEntity"], "connector:entra");
        let recent = app.list("/Users", &[("filter", &format!("{SCIMD}:lastAccess gt \"2026-11-01T00:00:00Z\""))]).await.expect(200);
        assert_eq!(recent.body["totalResults"], 3, "lastAccess filters in the database");
        assert_eq!(member_names(&app, "staff").await, ["ANA", "BEN"]);
        assert_eq!(member_names(&app, "admins").await, ["CHO", "staff"]);

        // Between runs: ana changes, dee arrives, joins staff and manages ben (listed after him), ben
        // leaves staff, cho is deleted.
        let dee = tenant.fake.with(|directory| {
            directory.update_user(&tenant.ana, properties(json!({"jobTitle": "Lead", "signInActivity": null})));
            let dee = directory.create_user(user("dee", "Intern"));
            directory.update_user(&tenant.ben, properties(json!({"manager": dee})));
            directory.change_members(&tenant.staff, std::slice::from_ref(&dee), std::slice::from_ref(&tenant.ben));
            directory.delete_user(&tenant.cho);
            directory.update_group(&tenant.admins, properties(json!({"displayName": "administrators"})));
            dee
        });
        let job = run_connector(&app, &id, json!({})).await;
        assert_eq!((job["status"].as_str(), job["fullRun"].as_bool()), (Some("completed"), Some(false)), "{job:#}");
        assert_eq!((job["createdCount"].as_i64(), job["deactivatedCount"].as_i64()), (Some(1), Some(1)), "{job:#}");
        let ana = one(&app, "Users", r#"userName eq "ana@contoso.example""#, &attributes).await;
        assert_eq!(ana["title"], "Lead");
        assert_eq!(ana["displayName"], "ANA", "what the delta did not send is kept");
        assert_eq!(ana.get(SCIMD).and_then(|ext| ext.get("lastAccess")), None, "a cleared lastAccess is removed: {ana:#}");
        let cho = one(&app, "Users", r#"userName eq "cho@contoso.example""#, "active").await;
        assert_eq!(cho["active"], false, "@removed applies the missing policy");
        let dee_user = one(&app, "Users", r#"userName eq "dee@contoso.example""#, "title").await;
        assert_eq!(dee_user["title"], "Intern");
        let ben = one(&app, "Users", r#"userName eq "ben@contoso.example""#, &attributes).await;
        assert_eq!(ben[ENTERPRISE]["manager"]["value"], dee_user["id"], "a new manager listed after the employee");
        assert_eq!(member_names(&app, "staff").await, ["ANA", "DEE"]);
        assert_eq!(member_names(&app, "administrators").await, ["staff"], "cho left with his account; the rename kept the members");

        let (status, result) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert_eq!(status, 200);
        assert!(result.contains("DEACTIVATED") && result.contains("CREATED") && result.contains("jobTitle"), "{result}");

        // An expired delta link: the run reads everything and still completes.
        tenant.fake.with(|directory| {
            directory.update_user(&tenant.ben, properties(json!({"manager": null})));
            directory.delete_user(&dee);
            directory.expire_tokens();
        });
        let job = run_connector(&app, &id, json!({})).await;
        assert_eq!(job["status"], "completed", "{job:#}");
        assert_eq!(job["fullRun"], true, "queued as incremental, ran in full: {job:#}");
        assert_eq!(job["deactivatedCount"], 1, "dee, by the missing policy of the fallback full read: {job:#}");
        assert_eq!(one(&app, "Users", r#"userName eq "dee@contoso.example""#, "active").await["active"], false);
        let ben = one(&app, "Users", r#"userName eq "ben@contoso.example""#, &attributes).await;
        assert_eq!(ben[ENTERPRISE].get("manager").and_then(|m| m.get("value")), None, "no manager in Graph: {ben:#}");
        let connector = app.send(app.admin(Method::GET, &format!("/connectors/{id}"))).await.expect(200);
        assert!(connector.body["cursor"].as_str().unwrap().contains("usersDeltaLink"), "{:#}", connector.body);
    }
}

both_databases! {
    async fn azure_settings_are_checked_and_a_wrong_secret_fails_the_run(app: TestApp) {
        let tenant = tenant().await;
        let mut body = json!({"name": "entra", "kind": "azure", "config": {
            "tenantId": graph::TENANT, "clientId": graph::CLIENT_ID, "clientSecret": "x",
            "authority": tenant.fake.base_url, "graphUrl": tenant.fake.graph_url()}});
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        assert_eq!(reply.body["name"], "CONNECTOR_CONFIG_INVALID");
        assert!(reply.body["message"].as_str().unwrap().contains("clientSecretEnv"), "{:#}", reply.body);
        body["config"].as_object_mut().unwrap().remove("clientSecret");
        body["config"]["clientSecretEnv"] = json!("SCIMD_E2E_AZURE_SECRET_SURELY_UNSET");
        let created = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201);
        let job = run_connector(&app, created.body["id"].as_str().unwrap(), json!({})).await;
        assert_eq!(job["status"], "failed", "{job:#}");
        assert!(job["error"].as_str().unwrap().contains("SCIMD_E2E_AZURE_SECRET_SURELY_UNSET (clientSecretEnv)"), "{job:#}");
        assert_eq!(app.get("/Users").await.expect(200).body["totalResults"], 0);
    }
}
