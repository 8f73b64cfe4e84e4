//! API tokens through the admin API and the CLI (DESIGN.md §6): listing, creating and revoking
//! them, each tenant's own only; a revocation takes effect on the next request, also in a server
//! whose token cache would otherwise remember the token for a minute.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use scimd::store::Role;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::fixture::{Db, Reply, TestApp, cli, scimd_binary};
use crate::{both_databases, both_databases_with};

/// Long enough that a test fails if a revocation does not evict the token.
const LONG_CACHE: u64 = 60;

async fn admin(app: &TestApp, token: &str, method: Method, path: &str) -> Reply {
    let url = format!("{}/admin/v1{path}", app.base);
    app.send(app.client.request(method, url).bearer_auth(token)).await
}

/// GET /Users with `token`: its status.
async fn scim_status(app: &TestApp, token: &str) -> u16 {
    app.send(app.client.get(app.url("/Users")).bearer_auth(token)).await.status.as_u16()
}

fn ids(page: &Value) -> Vec<String> {
    page["Resources"].as_array().expect("Resources").iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

#[track_caller]
fn expect_name(reply: Reply, status: u16, name: &str) -> Reply {
    let reply = reply.expect(status);
    assert_eq!(reply.body["name"], name, "{:#}", reply.body);
    assert_eq!(reply.body["code"], 0, "{:#}", reply.body);
    assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{:#}", reply.body);
    reply
}

both_databases_with! {
    |c| c.auth.token_cache_seconds = LONG_CACHE,
    async fn admins_create_list_and_revoke_tokens(app: TestApp) {
        let listed = app.send(app.admin(Method::GET, "/tokens")).await.expect(200).body;
        let roles: Vec<(&str, Option<&str>)> = listed["Resources"].as_array().unwrap().iter()
            .map(|t| (t["role"].as_str().unwrap(), t["client"].as_str())).collect();
        assert_eq!(roles, [("scim", Some("okta")), ("admin", Some("alice"))]);
        assert!(listed["Resources"].as_array().unwrap().iter().all(|t| t.get("token").is_none() && t.get("hash").is_none()));

        let created = app.send(app.admin(Method::POST, "/tokens").json(&json!({"role": "scim", "client": "entra"}))).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let secret = created.body["token"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("scimd_"), "{:#}", created.body);
        assert_eq!(created.header("location"), Some(format!("/admin/v1/tokens/{id}").as_str()));
        assert_eq!((&created.body["role"], &created.body["client"], &created.body["revoked"]), (&json!("scim"), &json!("entra"), &Value::Null));
        // It works, and is now in the server's token cache.
        assert_eq!(scim_status(&app, &secret).await, 200);
        let shown = app.send(app.admin(Method::GET, &format!("/tokens/{id}"))).await.expect(200).body;
        assert!(shown.get("token").is_none() && shown["revoked"].is_null());

        let revoked = app.send(app.admin(Method::DELETE, &format!("/tokens/{id}"))).await.expect(200).body;
        let at = revoked["revoked"].as_str().expect("a revocation time").to_owned();
        assert_eq!(scim_status(&app, &secret).await, 401, "refused on the very next request");
        // Revoking again changes nothing and says when it happened.
        let again = app.send(app.admin(Method::DELETE, &format!("/tokens/{id}"))).await.expect(200).body;
        assert_eq!(again["revoked"], at);
        assert_eq!(scim_status(&app, &secret).await, 401);
        assert_eq!(scim_status(&app, &app.token).await, 200, "other tokens still work");

        // Live tokens only, unless asked; filtered by role; paged.
        assert!(!ids(&app.send(app.admin(Method::GET, "/tokens")).await.expect(200).body).contains(&id));
        let all = app.send(app.admin(Method::GET, "/tokens?includeRevoked=true")).await.expect(200).body;
        assert_eq!(ids(&all).len(), 3);
        assert_eq!(all["Resources"][2]["revoked"], at);
        let scim = app.send(app.admin(Method::GET, "/tokens?includeRevoked=true&role=scim")).await.expect(200).body;
        assert_eq!(scim["Resources"].as_array().unwrap().iter().map(|t| t["client"].as_str().unwrap()).collect::<Vec<_>>(), ["okta", "entra"]);
        let mut walked = Vec::new();
        let mut path = "/tokens?includeRevoked=true&count=1".to_owned();
        loop {
            let page = app.send(app.admin(Method::GET, &path)).await.expect(200).body;
            assert_eq!(page["itemsPerPage"], 1);
            walked.extend(ids(&page));
            match page["nextCursor"].as_str() {
                Some(cursor) => path = format!("/tokens?includeRevoked=true&count=1&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(walked, ids(&all));

        // One event each, and the secret is in none.
        let events = app.send(app.admin(Method::GET, &format!("/audit?resourceId={id}"))).await.expect(200).body;
        let actions: Vec<&str> = events["Resources"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["token.create", "token.revoke"]);
        assert_eq!(events["Resources"][1]["changes"]["revoked"]["new"], at);
        assert_eq!(events["Resources"][1]["source"], "admin");
        let (_, log) = app.admin_text("/audit/export?format=jsonl").await;
        assert!(!log.contains(secret.trim_start_matches("scimd_")), "the secret is never recorded");

        // Errors in the admin body, saying what to do.
        let unknown = "00000000-0000-7000-8000-000000000000";
        for (method, path) in [(Method::DELETE, unknown), (Method::GET, unknown), (Method::DELETE, "not-an-id")] {
            expect_name(app.send(app.admin(method, &format!("/tokens/{path}"))).await, 404, "TOKEN_NOT_FOUND");
        }
        for query in ["role=root", "cursor=nonsense", "colour=blue"] {
            let reply = app.send(app.admin(Method::GET, &format!("/tokens?{query}"))).await;
            assert_eq!(reply.status, 400, "{query}: {:#}", reply.body);
        }
        let bad = [json!({"role": "admin", "client": "x"}), json!({"role": "root"}), json!({"client": "x"}), json!({"role": "scim", "secret": "x"})];
        for body in bad {
            expect_name(app.send(app.admin(Method::POST, "/tokens").json(&body)).await, 400, "INVALID_PARAMETER");
        }
    }
}

both_databases! {
    async fn a_tenants_admin_sees_and_revokes_only_its_own_tokens(app: TestApp) {
        let acme = ids(&app.send(app.admin(Method::GET, "/tokens?includeRevoked=true")).await.expect(200).body);
        let globex = app.tenant_token("globex", Role::Admin, Some("bob")).await;
        let theirs = admin(&app, &globex, Method::GET, "/tokens?includeRevoked=true").await.expect(200).body;
        assert_eq!(theirs["Resources"].as_array().unwrap().len(), 1, "only globex's own token: {theirs:#}");
        assert!(!acme.contains(&ids(&theirs)[0]));
        let unknown = "00000000-0000-7000-8000-000000000000";
        let refused = expect_name(admin(&app, &globex, Method::DELETE, &format!("/tokens/{unknown}")).await, 404, "TOKEN_NOT_FOUND");
        for id in &acme {
            // Exactly what an unknown id gets: nothing says the id exists elsewhere.
            let reply = expect_name(admin(&app, &globex, Method::DELETE, &format!("/tokens/{id}")).await, 404, "TOKEN_NOT_FOUND");
            assert_eq!(reply.body["message"], refused.body["message"].as_str().unwrap().replace(unknown, id));
            expect_name(admin(&app, &globex, Method::GET, &format!("/tokens/{id}")).await, 404, "TOKEN_NOT_FOUND");
        }
        assert_eq!(scim_status(&app, &app.token).await, 200, "acme's tokens are untouched");
        assert!(app.send(app.admin(Method::GET, "/tokens")).await.expect(200).body["Resources"].as_array().unwrap().iter().all(|t| t["revoked"].is_null()));

        let own = admin(&app, &globex, Method::GET, "/tenant").await.expect(200).body;
        assert_eq!(own["name"], "globex");
        let acme_tenant = app.store.tenant_by_name("acme").await.unwrap();
        assert_eq!(app.send(app.admin(Method::GET, "/tenant")).await.expect(200).body, json!({"id": acme_tenant.id, "name": "acme", "created": acme_tenant.created}));

        // Auditors read the list and the tenant, and change nothing; scim tokens do neither.
        let auditor = app.tenant_token("acme", Role::Auditor, None).await;
        assert_eq!(ids(&admin(&app, &auditor, Method::GET, "/tokens").await.expect(200).body).len(), 3);
        admin(&app, &auditor, Method::GET, "/tenant").await.expect(200);
        let post = app.client.post(format!("{}/admin/v1/tokens", app.base)).bearer_auth(&auditor).json(&json!({"role": "admin"}));
        expect_name(app.send(post).await, 403, "FORBIDDEN");
        expect_name(admin(&app, &auditor, Method::DELETE, &format!("/tokens/{}", acme[0])).await, 403, "FORBIDDEN");
        expect_name(admin(&app, &app.token, Method::GET, "/tokens").await, 403, "FORBIDDEN");
        assert_eq!(ids(&app.send(app.admin(Method::GET, "/tokens")).await.expect(200).body).len(), 3, "nothing was created or revoked");
    }
}

both_databases! {
    async fn the_cli_lists_tokens_and_exports_the_log_a_page_at_a_time(app: TestApp) {
        // More than a page of tokens (500 in the CLI's list) and of events (1,000 per export read).
        let tenant = app.store.tenant_by_name("acme").await.unwrap();
        for i in 0..1_050 {
            app.store.create_token(&tenant.id, Role::Scim, Some(&format!("client-{i}")), &cli()).await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let list = scimd_at(dir.path(), app.database_url(), &["token", "list", "--tenant", "acme"]);
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines[0], "ID\tROLE\tCLIENT\tCREATED\tREVOKED");
        assert_eq!(lines.len(), 1 + 1_052);
        let mut listed: Vec<&str> = lines[1..].iter().map(|l| l.split('\t').next().unwrap()).collect();
        listed.dedup();
        assert_eq!(listed.len(), 1_052, "every token once");

        let file = dir.path().join("audit.jsonl");
        scimd_at(dir.path(), app.database_url(), &["audit", "export", "--tenant", "acme", "--output", file.to_str().unwrap()]);
        let seqs: Vec<i64> = std::fs::read_to_string(&file).unwrap().lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=1_053).collect::<Vec<_>>(), "tenant.create, 2 + 1,050 token.create, in order");
    }
}

/// Runs the scimd binary on `database`; its stdout (the test fails when it fails).
fn scimd_at(dir: &std::path::Path, database: &str, args: &[&str]) -> String {
    let output = Command::new(&*scimd_binary())
        .args([&["--database", database][..], args].concat())
        .current_dir(dir)
        .env_remove("SCIMD_DATABASE_URL")
        .output()
        .expect("scimd runs");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Polls until `token` is refused; how long it took. Fails well before the token cache would expire.
async fn refused_within(app: &TestApp, token: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if scim_status(app, token).await == 401 {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "the revoked token was still accepted after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn postgres_app() -> Option<TestApp> {
    TestApp::builder(Db::Postgres).config(|c| c.auth.token_cache_seconds = LONG_CACHE).start().await
}

both_databases_with! {
    |c| c.auth.token_cache_seconds = LONG_CACHE,
    // PostgreSQL notifies the server; on SQLite the server polls the count of revoked tokens.
    async fn a_cli_revoke_reaches_a_running_server(app: TestApp) {
        a_cli_revoke_is_refused_at_once(app).await;
    }
}

async fn a_cli_revoke_is_refused_at_once(app: TestApp) {
    scimd_binary(); // built now, so that the build's time does not run down the cache entry below
    let created = app
        .send(app.admin(Method::POST, "/tokens").json(&json!({"role": "scim", "client": "entra"})))
        .await
        .expect(201)
        .body;
    let (id, secret) = (created["id"].as_str().unwrap(), created["token"].as_str().unwrap());
    assert_eq!(scim_status(&app, secret).await, 200, "accepted, and cached for a minute");
    let cached = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let out = scimd_at(dir.path(), app.database_url(), &["token", "revoke", id, "--tenant", "acme"]);
    assert!(out.contains("revoked scim token") && out.contains("refuses it now"), "{out}");
    refused_within(&app, secret, Duration::from_secs(5)).await;
    assert!(cached.elapsed() < Duration::from_secs(LONG_CACHE / 2), "refused long before the cache entry expired");
    assert_eq!(scim_status(&app, &app.token).await, 200, "only that token was dropped");
    let events =
        app.send(app.admin(Method::GET, &format!("/audit?resourceId={id}&action=token.revoke"))).await.expect(200).body;
    assert_eq!(events["Resources"][0]["source"], "cli");
}

#[tokio::test]
async fn postgres_a_lost_listener_connection_clears_the_token_cache() {
    let Some(app) = postgres_app().await else { return };
    let created = app.send(app.admin(Method::POST, "/tokens").json(&json!({"role": "scim"}))).await.expect(201).body;
    let (id, secret) = (created["id"].as_str().unwrap(), created["token"].as_str().unwrap());
    assert_eq!(scim_status(&app, secret).await, 200);
    // Revoked behind the server's back, without a notification: the cache still holds the token.
    let mut db = sqlx::PgConnection::connect(app.database_url()).await.unwrap();
    sqlx::query("UPDATE tokens SET revoked = 'now' WHERE id = $1").bind(id).execute(&mut db).await.unwrap();
    assert_eq!(scim_status(&app, secret).await, 200, "cached");
    // The listener's connection drops; once it listens again it cannot know what it missed.
    let killed: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(killed, [(true,)], "one listener");
    refused_within(&app, secret, Duration::from_secs(10)).await;
}
