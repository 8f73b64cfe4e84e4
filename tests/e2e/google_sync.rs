//! The Google Workspace connector end to end: configured and run through the admin API of a real
//! server, reading the in-process fake Directory API (`scimd-fakes`), on SQLite and PostgreSQL.

use reqwest::Method;
use scimd_fakes::google::{ADMIN_EMAIL, Directory, FakeGoogle};
use serde_json::{Value, json};

use crate::both_databases;
use crate::fixture::TestApp;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

fn user(id: &str, name: &str, extra: Value) -> Value {
    let (given, family) = name.split_once(' ').unwrap();
    let mut user = json!({
        "id": id, "primaryEmail": format!("{}@example.com", given.to_lowercase()),
        "name": {"givenName": given, "familyName": family, "fullName": name},
        "organizations": [{"title": "Engineer", "primary": true}],
    });
    for (key, value) in extra.as_object().unwrap() {
        user[key] = value.clone();
    }
    user
}

fn directory() -> Directory {
    let mut directory = Directory::new();
    directory.put_user(user("1001", "Ana Kim", json!({"lastLoginTime": "2026-11-02T08:15:00.000Z"})));
    directory.put_user(user("1002", "Ben Lee", json!({})));
    directory.put_user(user("1003", "Cho Park", json!({"suspended": true, "suspensionReason": "ADMIN"})));
    directory.put_user(user("1004", "Dan Wu", json!({"archived": true})));
    directory.put_user(user("1005", "Eve Ng", json!({})));
    directory.put_group(json!({"id": "g-staff", "email": "staff@example.com", "name": "staff"}));
    directory.put_group(json!({"id": "g-admins", "email": "admins@example.com", "name": "admins"}));
    directory.set_members("g-staff", &["1001", "1002", "1005"]);
    directory.set_members("g-admins", &["1003", "g-staff"]);
    directory
}

impl TestApp {
    async fn google_run(&self, id: &str) -> Value {
        let reply =
            self.send(self.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&json!({}))).await.expect(202);
        self.wait_job(reply.body["id"].as_str().unwrap()).await
    }

    /// The one user or group the filter selects, with `attributes`.
    async fn google_one(&self, path: &str, filter: &str, attributes: &str) -> Value {
        let reply = self.list(&format!("/{path}"), &[("filter", filter), ("attributes", attributes)]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1, "{filter}: {:#}", reply.body);
        reply.body["Resources"][0].clone()
    }

    async fn google_user(&self, user_name: &str) -> Value {
        let attributes = format!("userName,displayName,active,title,{EXT}:lastAccess,{EXT}:deactivationReason");
        self.google_one("Users", &format!("userName eq \"{user_name}\""), &attributes).await
    }

    async fn google_members(&self, group: &str) -> Vec<String> {
        let group = self.google_one("Groups", &format!("displayName eq \"{group}\""), "members,members.display").await;
        let mut names: Vec<String> = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!("{} ({})", m["display"].as_str().unwrap_or_default(), m["type"].as_str().unwrap_or_default())
            })
            .collect();
        names.sort();
        names
    }
}

both_databases! {
    async fn a_workspace_syncs_in_full_each_run_and_removed_users_are_deactivated(app: TestApp) {
        let google = FakeGoogle::start("127.0.0.1:0".parse().unwrap(), directory()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("service-account.json");
        google.write_key(&key_file).unwrap();
        let body = json!({
            "name": "workspace", "kind": "google", "missingPolicy": "deactivate",
            "config": {"keyFile": key_file, "adminEmail": ADMIN_EMAIL, "baseUrl": google.base_url},
        });
        let created = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();

        let job = app.google_run(&id).await;
        assert_eq!((job["status"].as_str(), job["createdCount"].as_i64(), job["fullRun"].as_bool()), (Some("completed"), Some(7), Some(true)), "{job:#}");
        let ana = app.google_user("ana@example.com").await;
        assert_eq!((ana["displayName"].as_str(), ana["title"].as_str(), ana["active"].as_bool()), (Some("Ana Kim"), Some("Engineer"), Some(true)));
        assert_eq!(ana[EXT]["lastAccess"], "2026-11-02T08:15:00.000Z", "{ana:#}");
        let plain = app.list("/Users", &[("filter", "userName eq \"ana@example.com\"")]).await.expect(200);
        assert_eq!(plain.body["Resources"][0].get(EXT), None, "lastAccess is returned on request only: {:#}", plain.body);
        let signed_in = app.list("/Users", &[("filter", &format!("{EXT}:lastAccess gt \"2026-01-01T00:00:00Z\""))]).await.expect(200);
        assert_eq!(signed_in.body["totalResults"], 1, "lastAccess is filterable: {:#}", signed_in.body);
        assert_eq!(app.google_user("ben@example.com").await[EXT].get("lastAccess"), None, "never signed in");
        let cho = app.google_user("cho@example.com").await;
        assert_eq!((cho["active"].as_bool(), cho[EXT]["deactivationReason"].as_str()), (Some(false), Some("suspended in Google Workspace (ADMIN)")));
        let dan = app.google_user("dan@example.com").await;
        assert_eq!((dan["active"].as_bool(), dan[EXT]["deactivationReason"].as_str()), (Some(false), Some("archived in Google Workspace")));
        assert_eq!(app.google_members("staff").await, ["Ana Kim (User)", "Ben Lee (User)", "Eve Ng (User)"]);
        assert_eq!(app.google_members("admins").await, ["Cho Park (User)", "staff (Group)"]);

        {
            let mut directory = google.directory();
            directory.update_user("1002", |ben| ben["name"]["fullName"] = json!("Ben Lee-Park"));
            directory.update_user("1001", |ana| ana["lastLoginTime"] = json!("2026-11-20T17:00:00.000Z"));
            directory.update_user("1004", |dan| dan["archived"] = json!(false));
            directory.set_members("g-staff", &["1001"]);
            assert!(directory.remove_user("1005"));
        }
        let job = app.google_run(&id).await;
        assert_eq!((job["status"].as_str(), job["fullRun"].as_bool()), (Some("completed"), Some(true)), "{job:#}");
        assert_eq!((job["deactivatedCount"].as_i64(), job["createdCount"].as_i64()), (Some(1), Some(0)), "{job:#}");
        assert_eq!(app.google_user("ben@example.com").await["displayName"], "Ben Lee-Park");
        assert_eq!(app.google_user("ana@example.com").await[EXT]["lastAccess"], "2026-11-20T17:00:00.000Z");
        let dan = app.google_user("dan@example.com").await;
        assert_eq!((dan["active"].as_bool(), dan[EXT].get("deactivationReason")), (Some(true), None), "unarchived: {dan:#}");
        let eve = app.google_user("eve@example.com").await;
        assert_eq!((eve["active"].as_bool(), eve[EXT]["deactivationReason"].as_str()), (Some(false), Some("CONNECTOR_SYNC")), "the missing policy: {eve:#}");
        assert_eq!(app.google_members("staff").await, ["Ana Kim (User)"], "ben left, eve left with her account");
        assert_eq!(app.google_members("admins").await, ["Cho Park (User)", "staff (Group)"]);

        let (status, outcomes) = app.admin_text(&format!("/jobs/{}/result.csv", job["id"].as_str().unwrap())).await;
        assert_eq!(status, 200);
        assert!(outcomes.contains("DEACTIVATED") && outcomes.contains("UPDATED"), "{outcomes}");
        let connector = app.send(app.admin(Method::GET, &format!("/connectors/{id}"))).await.expect(200);
        assert_eq!(connector.body["cursor"], Value::Null, "Google has no cursor: every run is full");
    }
}

both_databases! {
    async fn a_google_connector_with_a_bad_setting_is_refused_naming_the_key(app: TestApp) {
        let body = json!({"name": "workspace", "kind": "google", "config": {"keyFile": "/k.json", "adminEmail": ADMIN_EMAIL, "pageSize": 900}});
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        assert_eq!(reply.body["name"], "CONNECTOR_CONFIG_INVALID");
        assert!(reply.body["message"].as_str().unwrap().contains("pageSize"), "{:#}", reply.body);
        let body = json!({"name": "workspace", "kind": "google", "config": {"keyFile": "/k.json", "adminEmail": ADMIN_EMAIL, "privateKey": "x"}});
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        assert!(reply.body["message"].as_str().unwrap().contains("keyFileEnv"), "{:#}", reply.body);
    }
}
