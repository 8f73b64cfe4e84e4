//! Schedules and run control of connectors (issue 7), through the admin API of a real server
//! reading the in-process fake Microsoft Graph: cron schedules (validated, claimed once per due
//! time), cancel, retry after a failure, and the mass-deprovision guard.

use reqwest::Method;
use scimd_fakes::graph::{self, Directory, FakeGraph, Fault};
use serde_json::{Map, Value, json};

use crate::both_databases;
use crate::fixture::{TestApp, until};

fn user(n: usize) -> Map<String, Value> {
    json!({"userPrincipalName": format!("user{n}@contoso.example"), "accountEnabled": true, "displayName": format!("User {n}")})
        .as_object()
        .cloned()
        .expect("an object")
}

/// A fake Graph tenant with `users` users (their Graph ids) and the secret file its connector reads.
async fn directory(users: usize) -> (FakeGraph, Vec<String>, tempfile::NamedTempFile) {
    let mut directory = Directory::default();
    let ids = (0..users).map(|n| directory.create_user(user(n))).collect();
    let fake = FakeGraph::start(directory).await.expect("the fake starts");
    let secret = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(secret.path(), graph::CLIENT_SECRET).expect("write");
    (fake, ids, secret)
}

/// Creates an `azure` connector on the fake with `extra` keys (schedule, guard, …); its id.
async fn connector(app: &TestApp, fake: &FakeGraph, secret: &tempfile::NamedTempFile, extra: Value) -> String {
    let mut body = json!({
        "name": "entra",
        "kind": "azure",
        "missingPolicy": "deactivate",
        "config": {
            "tenantId": graph::TENANT, "clientId": graph::CLIENT_ID, "clientSecretFile": secret.path(),
            "authority": fake.base_url, "graphUrl": fake.graph_url(), "readGroups": false,
            "pageSize": 2, "maxRetries": 0, "maxBackoffSeconds": 1,
        },
    });
    for (key, value) in extra.as_object().expect("an object") {
        match value.as_object().filter(|_| key == "config") {
            Some(config) => config.iter().for_each(|(k, v)| body["config"][k] = v.clone()),
            None => body[key] = value.clone(),
        }
    }
    let created = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201);
    created.body["id"].as_str().expect("id").to_owned()
}

async fn start_run(app: &TestApp, id: &str, body: Value) -> Value {
    let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&body)).await.expect(202);
    reply.body
}

async fn history(app: &TestApp, id: &str) -> Vec<Value> {
    let reply = app.send(app.admin(Method::GET, &format!("/connectors/{id}/runs"))).await.expect(200);
    reply.body["Resources"].as_array().cloned().unwrap_or_default()
}

/// A full run the guard holds; its id.
async fn held_run(app: &TestApp, id: &str) -> String {
    let job = start_run(app, id, json!({"full": true})).await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let done = app.wait_job(&job_id).await;
    let status = (done["status"].as_str(), done["deactivatedCount"].as_i64());
    assert_eq!(status, (Some("awaiting_approval"), Some(0)), "{done:#}");
    job_id
}

async fn active_users(app: &TestApp) -> i64 {
    let reply = app.list("/Users", &[("filter", "active eq true"), ("count", "0")]).await.expect(200);
    reply.body["totalResults"].as_i64().expect("totalResults")
}

both_databases! {
    async fn a_bad_schedule_or_setting_is_refused_naming_its_key(app: TestApp) {
        let (fake, _, secret) = directory(1).await;
        let body = |extra: Value| {
            let mut body = json!({"name": "x", "kind": "azure", "config": {"tenantId": graph::TENANT,
                "clientId": graph::CLIENT_ID, "clientSecretFile": secret.path(), "authority": fake.base_url}});
            for (key, value) in extra.as_object().unwrap() {
                body[key] = value.clone();
            }
            body
        };
        for (extra, key) in [
            (json!({"schedule": "every morning"}), "schedule"),
            (json!({"schedule": 5}), "schedule"),
            (json!({"guardPercent": 150}), "guardPercent"),
            (json!({"retryAttempts": -1}), "retryAttempts"),
        ] {
            let reply = app.send(app.admin(Method::POST, "/connectors").json(&body(extra.clone()))).await.expect(400);
            assert_eq!(reply.body["name"], "CONNECTOR_CONFIG_INVALID", "{extra}: {:#}", reply.body);
            assert!(reply.body["message"].as_str().unwrap().contains(key), "{extra}: {:#}", reply.body);
        }
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body(json!({"schedule": "0 */6 * * *", "guardCount": 50})))).await.expect(201);
        assert_eq!((reply.body["schedule"].as_str(), reply.body["guardCount"].as_i64(), reply.body["enabled"].as_bool()), (Some("0 */6 * * *"), Some(50), Some(true)));
        assert!(reply.body["nextRun"].as_str().is_some_and(|next| next.ends_with(":00:00.000000Z")), "{:#}", reply.body);
        let id = reply.body["id"].as_str().unwrap();
        // PUT keeps what it leaves out and clears what it sets to null.
        let reply = app.send(app.admin(Method::PUT, &format!("/connectors/{id}")).json(&body(json!({"schedule": null})))).await.expect(200);
        assert_eq!((reply.body["schedule"].clone(), reply.body["guardCount"].as_i64()), (Value::Null, Some(50)));
    }
}

both_databases! {
    async fn a_scheduled_connector_runs_once_per_due_time(app: TestApp) {
        let (fake, _, secret) = directory(3).await;
        let id = connector(&app, &fake, &secret, json!({"schedule": "* * * * * *"})).await;
        let runs = until(20, "three scheduled runs to complete", async || {
            let runs: Vec<Value> = history(&app, &id).await.into_iter().filter(|job| job["status"] == "completed").collect();
            (runs.len() >= 3).then_some(runs)
        })
        .await;
        let mut due: Vec<&str> = runs.iter().map(|job| job["scheduledFor"].as_str().expect("a due time")).collect();
        assert!(runs.iter().all(|job| job["trigger"] == "schedule"), "{runs:#?}");
        let count = due.len();
        due.dedup();
        assert_eq!(due.len(), count, "one run per due time: {runs:#?}");
        // Disabled: no further scheduled run, and no manual run either.
        let put = json!({"name": "entra", "config": {"tenantId": graph::TENANT, "clientId": graph::CLIENT_ID,
            "clientSecretFile": secret.path(), "authority": fake.base_url, "graphUrl": fake.graph_url()}, "enabled": false});
        app.send(app.admin(Method::PUT, &format!("/connectors/{id}")).json(&put)).await.expect(200);
        let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&json!({}))).await.expect(409);
        assert_eq!(reply.body["name"], "CONNECTOR_DISABLED");
    }
}

both_databases! {
    async fn a_cancelled_run_stops_after_its_batch(app: TestApp) {
        let (fake, _, secret) = directory(5).await;
        let id = connector(&app, &fake, &secret, json!({"config": {"maxRetries": 3}})).await;
        // The second page of users is throttled for a while: the run is running meanwhile.
        fake.inject(Fault { path: "/users/delta".into(), skip: 1, times: 1, status: 429, retry_after: Some(3) });
        let job = start_run(&app, &id, json!({})).await;
        let job_id = job["id"].as_str().unwrap().to_owned();
        until(10, "the run to start", async || {
            let job = app.send(app.admin(Method::GET, &format!("/jobs/{job_id}"))).await.body;
            (job["status"] == "running").then_some(())
        })
        .await;
        let reply = app.send(app.admin(Method::POST, &format!("/jobs/{job_id}/cancel"))).await.expect(202);
        assert_eq!(reply.body["cancelRequested"], true);
        let done = app.wait_job(&job_id).await;
        assert_eq!(done["status"], "cancelled", "{done:#}");
        app.send(app.admin(Method::POST, &format!("/jobs/{job_id}/cancel"))).await.expect(409);
    }
}

both_databases! {
    async fn a_failed_run_is_retried_with_backoff(app: TestApp) {
        let (fake, _, secret) = directory(2).await;
        let id = connector(&app, &fake, &secret, json!({"retryAttempts": 1, "retryBackoffSeconds": 1})).await;
        fake.inject(Fault { path: "/users/delta".into(), skip: 0, times: 1, status: 503, retry_after: None });
        let failed = start_run(&app, &id, json!({})).await;
        let failed_id = failed["id"].as_str().unwrap().to_owned();
        assert_eq!(app.wait_job(&failed_id).await["status"], "failed");
        let retry = until(15, "the retry to complete", async || {
            history(&app, &id).await.into_iter().find(|job| job["trigger"] == "retry" && job["status"] == "completed")
        })
        .await;
        assert_eq!((retry["retryOf"].as_str(), retry["attempt"].as_i64()), (Some(failed_id.as_str()), Some(2)), "{retry:#}");
        assert!(retry["notBefore"].as_str().unwrap() > failed["requested"].as_str().unwrap());
        assert_eq!(active_users(&app).await, 2);
    }
}

both_databases! {
    async fn the_guard_holds_a_mass_deactivation_until_approved_or_rejected(app: TestApp) {
        let (fake, ids, secret) = directory(20).await;
        let id = connector(&app, &fake, &secret, json!({"guardPercent": 10})).await;
        let first = start_run(&app, &id, json!({})).await;
        assert_eq!(app.wait_job(first["id"].as_str().unwrap()).await["createdCount"], 20);

        // Under the threshold: 2 of 20 (10%) are deactivated without asking.
        fake.with(|d| ids[..2].iter().for_each(|id| assert!(d.delete_user(id))));
        let job = start_run(&app, &id, json!({"full": true})).await;
        let done = app.wait_job(job["id"].as_str().unwrap()).await;
        assert_eq!((done["status"].as_str(), done["deactivatedCount"].as_i64()), (Some("completed"), Some(2)), "{done:#}");

        // Over it: 5 more (25%) wait for approval, listed as outcomes; nothing is applied.
        fake.with(|d| ids[2..7].iter().for_each(|id| assert!(d.delete_user(id))));
        let job_id = held_run(&app, &id).await;
        let (_, csv) = app.admin_text(&format!("/jobs/{job_id}/result.csv")).await;
        assert_eq!(csv.lines().filter(|line| line.contains("AWAITING_APPROVAL,DEACTIVATED")).count(), 5, "{csv}");
        assert_eq!(active_users(&app).await, 18);
        let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&json!({}))).await.expect(409);
        assert_eq!(reply.body["code"], 2714, "the held run keeps the lock: {:#}", reply.body);

        let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs/{job_id}/reject"))).await.expect(200);
        assert_eq!(reply.body["status"], "rejected");
        assert_eq!(active_users(&app).await, 18, "a rejected run applies nothing");
        app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs/{job_id}/approve"))).await.expect(409);

        // Held again; meanwhile an admin deactivates one of the five: approval applies the other four.
        let job_id = held_run(&app, &id).await;
        let (_, csv) = app.admin_text(&format!("/jobs/{job_id}/result.csv")).await;
        assert_eq!(csv.lines().filter(|line| line.contains("AWAITING_APPROVAL")).count(), 5, "{csv}");
        let filter = "userName eq \"user2@contoso.example\"";
        let user2 = app.list("/Users", &[("filter", filter)]).await.expect(200).body["Resources"][0]["id"].as_str().unwrap().to_owned();
        app.patch_ops(&format!("/Users/{user2}"), json!([{"op": "replace", "path": "active", "value": false}])).await.expect(200);
        let reply = app.send(app.admin(Method::POST, &format!("/connectors/{id}/runs/{job_id}/approve"))).await.expect(202);
        assert_eq!(reply.body["approval"], "approved");
        let done = app.wait_job(&job_id).await;
        assert_eq!((done["status"].as_str(), done["deactivatedCount"].as_i64()), (Some("completed"), Some(4)), "{done:#}");
        assert_eq!(active_users(&app).await, 13);
    }
}
