//! The audit log (DESIGN.md §5): an event per change from every writer, in the change's
//! transaction; append-only tables; the hash chain and `scimd audit verify`; the API with its
//! filters, paging and exports; auditors who read and never write; provenance.

use reqwest::Method;
use scimd::store::{ChainCheck, Role};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::both_databases;
use crate::fixture::{PATCH_OP, Reply, TestApp, scimd_binary};

/// GET /admin/v1/audit with `query`, as the admin.
async fn audit(app: &TestApp, query: &[(&str, &str)]) -> Reply {
    app.send(app.admin(Method::GET, "/audit").query(query)).await
}

/// Every event matching `query`, walking the pages.
async fn events(app: &TestApp, query: &[(&str, &str)]) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = query.to_vec();
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let page = audit(app, &query).await.expect(200).body;
        all.extend(page["Resources"].as_array().expect("Resources").iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

/// Runs raw SQL on the server's database; the database's error text on failure.
async fn execute(app: &TestApp, sql: &str) -> Result<(), String> {
    execute_on(app.database_url(), sql).await
}

/// Runs `sql` (one or more statements) on the database at `url`.
async fn execute_on(url: &str, sql: &str) -> Result<(), String> {
    let result = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.map(drop)
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("open");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.map(drop)
    };
    result.map_err(|e| e.to_string())
}

fn only<'a>(events: &'a [Value], action: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["action"] == action).collect()
}

both_databases! {
    async fn every_scim_and_admin_write_records_its_event(app: TestApp) {
        let setup = events(&app, &[]).await;
        assert_eq!(setup.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
            ["tenant.create", "token.create", "token.create"]);
        assert_eq!(setup[0]["actor"], "cli");
        assert_eq!(setup[0]["source"], "cli");
        assert_eq!(setup[1]["changes"], json!({"role": {"new": "scim"}, "client": {"new": "okta"}}));

        // POST: every attribute new, the password redacted, the request id of the HTTP layer.
        let created = app.post("/Users", &json!({"userName": "ann", "title": "clerk", "password": "Secr3t!pass"})).await.expect(201);
        let user = created.body["id"].as_str().unwrap().to_owned();
        let event = events(&app, &[("action", "user.create")]).await.pop().expect("user.create");
        assert_eq!(event["resourceType"], "User");
        assert_eq!(event["resourceId"], user.as_str());
        assert_eq!(event["source"], "scim");
        assert_eq!(event["actorRole"], "scim");
        assert_eq!(event["actorName"], "okta");
        assert_eq!(event["requestId"].as_str(), created.header("x-request-id"));
        assert_eq!(event["changes"]["userName"], json!({"new": "ann"}));
        assert_eq!(event["changes"]["password"], json!({"new": "[redacted]"}));
        assert!(!event.to_string().contains("Secr3t"), "{event}");

        // PATCH and PUT: old → new of what changed only.
        app.patch_ops(&format!("/Users/{user}"), json!([{"op": "replace", "path": "title", "value": "boss"}])).await.expect(200);
        let event = events(&app, &[("action", "user.patch")]).await.pop().expect("user.patch");
        assert_eq!(event["changes"], json!({"title": {"old": "clerk", "new": "boss"}}));
        app.put(&format!("/Users/{user}"), &json!({"userName": "ann", "nickName": "A"})).await.expect(200);
        let event = events(&app, &[("action", "user.replace")]).await.pop().expect("user.replace");
        assert_eq!(event["changes"], json!({"title": {"old": "boss"}, "nickName": {"new": "A"}}));

        // Groups and members.
        let group = app.group(json!({"displayName": "staff", "members": [{"value": user}]})).await;
        let event = events(&app, &[("action", "group.create")]).await.pop().expect("group.create");
        assert_eq!(event["changes"]["members"], json!({"added": [user]}));
        let other = app.user(json!({"userName": "bob"})).await;
        app.patch_ops(&format!("/Groups/{group}"), json!([{"op": "add", "path": "members", "value": [{"value": other}]}])).await;
        let event = events(&app, &[("action", "member.add")]).await.pop().expect("member.add");
        assert_eq!((event["resourceId"].as_str(), &event["changes"]), (Some(group.as_str()), &json!({"members": {"added": [other]}})));
        app.patch_ops(&format!("/Groups/{group}"), json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])).await;
        let event = events(&app, &[("action", "member.remove")]).await.pop().expect("member.remove");
        assert_eq!(event["changes"], json!({"members": {"removed": [user]}}));

        // A failed request writes nothing; a successful DELETE writes its event.
        let before = events(&app, &[]).await.len();
        app.post("/Users", &json!({"userName": "ANN"})).await.expect_error(409, Some("uniqueness"));
        app.put(&format!("/Users/{user}"), &json!({"userName": "bob"})).await.expect_error(409, Some("uniqueness"));
        let stale = app.client.delete(app.url(&format!("/Users/{other}"))).bearer_auth(&app.token).header("if-match", "W/\"999\"");
        app.send(stale).await.expect(412);
        assert_eq!(events(&app, &[]).await.len(), before, "failed requests leave no event");
        app.delete(&format!("/Users/{other}")).await.expect(204);
        let deleted = events(&app, &[("action", "user.delete"), ("resourceId", &other)]).await;
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0]["changes"]["userName"]["old"], "bob", "a deletion records the old values");
        assert!(deleted[0]["changes"]["userName"].get("new").is_none());

        // /Bulk writes its batched creates with their events.
        let ops: Vec<Value> = (0..3).map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": {"userName": format!("bulk{i}")}})).collect();
        app.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})).await.expect(200);
        let bulk = events(&app, &[("action", "user.create")]).await;
        assert_eq!(bulk.iter().filter(|e| e["changes"]["userName"]["new"].as_str().is_some_and(|n| n.starts_with("bulk"))).count(), 3);

        // Admin API: a connector's settings (secrets redacted), its deletion.
        let body = json!({"name": "corp", "kind": "ldap", "config": {"url": "ldap://127.0.0.1:1", "users": {"base": "ou=people,dc=x"}, "bindDn": "cn=a", "bindPasswordEnv": "LDAP_PW"}});
        let connector = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201).body;
        let event = events(&app, &[("action", "connector.create")]).await.pop().expect("connector.create");
        assert_eq!(event["source"], "admin");
        assert_eq!(event["actorName"], "alice");
        assert_eq!(event["changes"]["config"]["new"]["bindPasswordEnv"], "[redacted]");
        app.send(app.admin(Method::DELETE, &format!("/connectors/{}", connector["id"].as_str().unwrap()))).await.expect(204);
        assert_eq!(events(&app, &[("action", "connector.delete")]).await.len(), 1);
    }
}

both_databases! {
    async fn csv_syncs_record_their_job_and_source(app: TestApp) {
        let header = "UserName,Email,UserId,GroupIdList,ActiveStatus\n";
        let job = app.csv_sync(&format!("{header}Ann,ann@acme.com,ann@acme.com,,\nBob,bob@acme.com,bob@acme.com,,\n"), "missing=keep").await;
        assert_eq!(job["status"], "completed", "{job:#}");
        let job_id = job["id"].as_str().unwrap();
        let created = events(&app, &[("jobId", job_id)]).await;
        assert_eq!(created.len(), 2, "{created:#?}");
        for event in &created {
            assert_eq!(event["action"], "sync.user.create");
            assert_eq!(event["source"], "csv");
            assert_eq!(event["actorRole"], "admin");
            assert_eq!(event["actorName"], "alice");
        }
        let job = app.csv_sync(&format!("{header}Ann,ann@acme.com,ann@acme.com,,\n"), "missing=deactivate").await;
        assert_eq!(job["status"], "completed", "{job:#}");
        let changed = events(&app, &[("jobId", job["id"].as_str().unwrap())]).await;
        assert_eq!(changed.len(), 1, "{changed:#?}");
        assert_eq!(changed[0]["action"], "sync.user.deactivate");
        assert_eq!(changed[0]["changes"]["active"], json!({"old": true, "new": false}));
        assert_eq!(changed[0]["changes"]["deactivationReason"], json!({"old": null, "new": "CSV_SYNC"}));

        // Provenance: the CSV set userName; an admin's PATCH set title later.
        let ann = changed_user(&app, "ann@acme.com").await;
        let scim = app.send(app.client.patch(app.url(&format!("/Users/{ann}"))).bearer_auth(&app.admin_token)
            .json(&json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "cto"}]}))).await;
        scim.expect(200);
        let provenance = app.send(app.admin(Method::GET, &format!("/users/{ann}/provenance"))).await.expect(200).body;
        let by_attr = |name: &str| provenance["attributes"].as_array().unwrap().iter().find(|a| a["attribute"] == name).cloned().unwrap_or(Value::Null);
        assert_eq!(by_attr("userName")["source"], "csv", "{provenance:#}");
        assert_eq!(by_attr("title")["source"], "scim", "{provenance:#}");
        assert!(by_attr("title")["time"].as_str().is_some());
        let missing = app.send(app.admin(Method::GET, "/users/00000000-0000-0000-0000-000000000000/provenance")).await;
        assert_eq!((missing.status.as_u16(), &missing.body["name"]), (404, &json!("RESOURCE_NOT_FOUND")));
    }
}

async fn changed_user(app: &TestApp, user_name: &str) -> String {
    let reply = app.list("/Users", &[("filter", &format!("userName eq \"{user_name}\""))]).await.expect(200);
    reply.body["Resources"][0]["id"].as_str().expect("user").to_owned()
}

both_databases! {
    async fn the_audit_table_refuses_update_and_delete(app: TestApp) {
        let update = execute(&app, "UPDATE audit_events SET action = 'x'").await;
        assert!(update.as_ref().is_err_and(|e| e.contains("append-only")), "{update:?}");
        let delete = execute(&app, "DELETE FROM audit_events").await;
        assert!(delete.as_ref().is_err_and(|e| e.contains("append-only")), "{delete:?}");
        assert_eq!(events(&app, &[]).await.len(), 3, "nothing changed");
    }
}

fn verify(app: &TestApp) -> std::process::Output {
    std::process::Command::new(&*scimd_binary())
        .args(["--database", app.database_url(), "--config", "/dev/null", "audit", "verify", "--tenant", "acme"])
        .env_remove("SCIMD_DATABASE_URL")
        .output()
        .expect("scimd runs")
}

both_databases! {
    async fn verify_finds_the_first_tampered_event(app: TestApp) {
        for i in 0..4 {
            app.user(json!({"userName": format!("u{i}")})).await;
        }
        let ok = verify(&app);
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "7 events, chain intact");

        let (drop_trigger, tamper) = if app.database_url().starts_with("sqlite:") {
            ("DROP TRIGGER audit_events_no_update", "UPDATE audit_events SET changes = '{\"userName\":{\"new\":\"mallory\"}}' WHERE id & 1099511627775 = 5")
        } else {
            ("DROP TRIGGER audit_events_no_update ON audit_events", "UPDATE audit_events SET changes = '{\"userName\":{\"new\":\"mallory\"}}' WHERE id & 1099511627775 = 5")
        };
        execute(&app, drop_trigger).await.expect("drop the trigger");
        execute(&app, tamper).await.expect("tamper");
        let broken = verify(&app);
        assert!(!broken.status.success());
        let message = String::from_utf8_lossy(&broken.stderr);
        assert!(message.contains("broken at event 5") && message.contains("changed after it was written"), "{message}");
    }
}

both_databases! {
    async fn verify_finds_a_rewritten_hash_and_removed_events(app: TestApp) {
        app.user(json!({"userName": "u0"})).await;
        app.user(json!({"userName": "u1"})).await;
        let (drop_triggers, rehash, remove_last) = if app.database_url().starts_with("sqlite:") {
            (
                "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete",
                "UPDATE audit_events SET hash = zeroblob(32) WHERE id & 1099511627775 = 2",
                "DELETE FROM audit_events WHERE id & 1099511627775 = 5",
            )
        } else {
            (
                "DROP TRIGGER audit_events_no_update ON audit_events",
                "UPDATE audit_events SET hash = decode(repeat('00', 32), 'hex') WHERE id & 1099511627775 = 2",
                "DELETE FROM audit_events WHERE id & 1099511627775 = 5",
            )
        };
        execute(&app, drop_triggers).await.expect("drop the triggers");
        // The last event removed: the head still names it.
        execute(&app, remove_last).await.expect("remove");
        let message = String::from_utf8_lossy(&verify(&app).stderr).into_owned();
        assert!(message.contains("broken at event 5") && message.contains("events were removed"), "{message}");
        // A hash rewritten to hide an edit: the event fails its own check first.
        execute(&app, rehash).await.expect("rehash");
        let message = String::from_utf8_lossy(&verify(&app).stderr).into_owned();
        assert!(message.contains("broken at event 2"), "{message}");
        // The API shows each event's prevHash as the hash of the row before it.
        let events = events(&app, &[]).await;
        assert_eq!(events[2]["prevHash"], events[1]["hash"]);
        assert_eq!(events[0]["prevHash"], "0".repeat(64));
    }
}

both_databases! {
    async fn audit_heads_cannot_be_removed_or_given_to_another_tenant(app: TestApp) {
        let delete = execute(&app, "DELETE FROM audit_heads").await;
        assert!(delete.as_ref().is_err_and(|e| e.contains("audit_heads")), "{delete:?}");
        let rechain = execute(&app, "UPDATE audit_heads SET chain = chain + 100").await;
        assert!(rechain.as_ref().is_err_and(|e| e.contains("audit_heads") || e.contains("audit head")), "{rechain:?}");
        let retenant = execute(&app, "UPDATE audit_heads SET tenant_id = 'other'").await;
        assert!(retenant.is_err(), "{retenant:?}");
        assert_eq!(events(&app, &[]).await.len(), 3, "nothing changed");
    }
}

/// Databases made before migration 9 (the compact audit log) keep every event, seq and hash, and
/// their chains still verify.
mod compact_log_migration {
    use scimd::config::DatabaseUrl;
    use scimd::store::{EventContent, GENESIS, Store};
    use sqlx::migrate::Migrator;

    use super::*;
    use crate::fixture::{Db, TestDb};

    static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
    static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

    /// The INSERTs of `events` (tenant, seq, action) in the form of migration 8, chained per tenant.
    fn old_rows(events: &[(&str, i64, &str)]) -> (String, Vec<(String, String)>) {
        let mut sql = String::new();
        let mut heads: Vec<(String, i64, String)> = Vec::new();
        let mut hashes = Vec::new();
        for &(tenant, seq, action) in events {
            let prev = heads.iter().find(|h| h.0 == tenant).map_or(hex::encode(GENESIS), |h| h.2.clone());
            let changes = format!(r#"{{"n":{{"new":{seq}}}}}"#);
            let content = EventContent {
                tenant,
                seq,
                time: "2026-01-01T00:00:00.000000Z",
                actor: "cli",
                role: None,
                name: None,
                job_id: None,
                action,
                resource_type: Some("User"),
                resource_id: Some("u1"),
                changes: &changes,
                request_id: None,
                source: "cli",
            };
            let mut prev_bytes = GENESIS;
            hex::decode_to_slice(&prev, &mut prev_bytes).expect("hex");
            let hash = hex::encode(content.hash(&prev_bytes));
            sql.push_str(&format!(
                "INSERT INTO audit_events (tenant_id, seq, event_time, actor, action, resource_type, resource_id, changes, \
                 source, prev_hash, hash) VALUES ('{tenant}', {seq}, '{}', 'cli', '{action}', 'User', 'u1', '{changes}', \
                 'cli', '{prev}', '{hash}');\n",
                content.time
            ));
            hashes.push((tenant.to_owned(), hash.clone()));
            match heads.iter_mut().find(|h| h.0 == tenant) {
                Some(head) => *head = (tenant.to_owned(), seq, hash),
                None => heads.push((tenant.to_owned(), seq, hash)),
            }
        }
        // Tenant c's head is missing, as if someone removed it.
        for (tenant, seq, hash) in heads.iter().filter(|h| h.0 != "c") {
            sql.push_str(&format!(
                "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ('{tenant}', {seq}, '{hash}');\n"
            ));
        }
        (sql, hashes)
    }

    async fn run(db: Db) {
        let Some(test_db) = TestDb::new(db).await else { return };
        let url = &test_db.url;
        match db {
            Db::Sqlite => {
                let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("url").create_if_missing(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options).await.expect("open");
                SQLITE.run_to(8, &mut conn).await.expect("migrations 1-8");
            }
            Db::Postgres => {
                let mut conn = sqlx::PgConnection::connect(url).await.expect("open");
                POSTGRES.run_to(8, &mut conn).await.expect("migrations 1-8");
            }
        }
        let events = [
            ("a", 1, "user.create"),
            ("b", 1, "user.create"),
            ("a", 2, "user.replace"),
            ("c", 1, "user.create"),
            ("a", 3, "user.delete"),
        ];
        let (sql, hashes) = old_rows(&events);
        execute_on(url, &sql).await.expect("events in the old form");

        let store = Store::open(&DatabaseUrl::new(url)).await.expect("migration 9");
        assert_eq!(store.verify_audit("a").await.expect("verify"), ChainCheck::Intact { events: 3 });
        assert_eq!(store.verify_audit("b").await.expect("verify"), ChainCheck::Intact { events: 1 });
        let c = store.verify_audit("c").await.expect("verify");
        assert!(
            matches!(&c, ChainCheck::Broken { reason, .. } if reason.contains("head")),
            "no head: reported ({c:?})"
        );

        let rows = store.audit_events("a", &Default::default(), 0, 10).await.expect("read");
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        let old: Vec<&String> = hashes.iter().filter(|(t, _)| t == "a").map(|(_, h)| h).collect();
        assert_eq!(rows.iter().map(|r| &r.hash).collect::<Vec<_>>(), old, "hashes kept");
        assert_eq!(rows[0].prev_hash, hex::encode(GENESIS));
        assert_eq!(&rows[1].prev_hash, old[0]);
        assert_eq!(
            rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["user.create", "user.replace", "user.delete"]
        );
        let later = store.audit_events("a", &Default::default(), 2, 10).await.expect("read after seq 2");
        assert_eq!(later.iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
        assert_eq!(store.audit_events("c", &Default::default(), 0, 10).await.expect("read").len(), 1);
    }

    #[tokio::test]
    async fn sqlite() {
        run(Db::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        run(Db::Postgres).await;
    }
}

both_databases! {
    async fn filters_cursor_pages_and_exports(app: TestApp) {
        let ids: Vec<String> = futures_util::future::join_all((0..5).map(|i| app.user(json!({"userName": format!("p{i}")})))).await;
        let all = events(&app, &[]).await;
        let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=8).collect::<Vec<_>>(), "numbered without gaps, oldest first");
        // Concurrent writers appended in turn: the chain holds.
        let tenant = app.store.tenant_by_name("acme").await.expect("tenant");
        assert_eq!(app.store.verify_audit(&tenant.id).await.expect("verify"), ChainCheck::Intact { events: 8 });

        // Pages of two, joined by opaque cursors.
        let first = audit(&app, &[("count", "2")]).await.expect(200).body;
        assert_eq!(first["itemsPerPage"], 2);
        let cursor = first["nextCursor"].as_str().expect("more pages");
        let second = audit(&app, &[("count", "2"), ("cursor", cursor)]).await.expect(200).body;
        assert_eq!(second["Resources"][0]["seq"], 3);
        let bad = audit(&app, &[("cursor", "garbage")]).await;
        assert_eq!((bad.status.as_u16(), &bad.body["name"]), (400, &json!("INVALID_CURSOR")));
        let bad = audit(&app, &[("since", "yesterday")]).await;
        assert_eq!((bad.status.as_u16(), &bad.body["name"]), (400, &json!("INVALID_PARAMETER")));
        assert!(bad.body["code"].is_number() && bad.body["message"].is_string());

        // Filters, alone and together.
        let scim_actor = only(&all, "user.create")[0]["actor"].as_str().unwrap().to_owned();
        assert_eq!(events(&app, &[("actor", &scim_actor)]).await.len(), 5);
        assert_eq!(events(&app, &[("resourceId", &ids[2])]).await.len(), 1);
        assert_eq!(events(&app, &[("resourceType", "Token")]).await.len(), 2);
        assert_eq!(events(&app, &[("source", "cli"), ("action", "token.create")]).await.len(), 2);
        assert_eq!(events(&app, &[("jobId", "none")]).await.len(), 0);
        let third = all[2]["time"].as_str().unwrap();
        let since: Vec<i64> = events(&app, &[("since", third)]).await.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(since.first(), Some(&3));
        let until = events(&app, &[("until", third)]).await;
        assert!(until.iter().all(|e| e["seq"].as_i64().unwrap() < 3) && !until.is_empty());
        let future = events(&app, &[("since", "2999-01-01T00:00:00+02:00")]).await;
        assert!(future.is_empty());

        // Exports stream the same events with the same filters.
        let (status, jsonl) = app.admin_text("/audit/export?format=jsonl&action=user.create").await;
        assert_eq!(status, 200);
        let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(lines, only(&all, "user.create").into_iter().cloned().collect::<Vec<_>>());
        let (status, csv) = app.admin_text("/audit/export?format=csv&resourceType=User").await;
        assert_eq!(status, 200);
        let mut rows = csv.lines();
        assert!(rows.next().unwrap().starts_with("seq,time,actor,"));
        assert_eq!(rows.count(), 5);
        let (status, _) = app.admin_text("/audit/export?format=xml").await;
        assert_eq!(status, 400);
    }
}

both_databases! {
    async fn auditors_read_jobs_and_audit_but_never_write(app: TestApp) {
        let auditor = app.tenant_token("acme", Role::Auditor, None).await;
        let id = "00000000-0000-0000-0000-000000000000";
        let mut refused = Vec::new();
        for path in scimd::admin::route_paths() {
            let path = path.replace("{id}", id).replace("{connector}", "corp");
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let url = format!("{}/admin/v1{path}", app.base);
                let reply = app.send(app.client.request(method.clone(), url).bearer_auth(&auditor).json(&json!({}))).await;
                match reply.status.as_u16() {
                    403 => {
                        assert_eq!(reply.body["name"], "FORBIDDEN", "{method} {path}");
                        refused.push(format!("{method} {path}"));
                    }
                    405 => {}
                    other => panic!("{method} {path}: an auditor got {other}: {}", reply.body),
                }
            }
        }
        let token = format!("DELETE /tokens/{id}");
        for write in ["POST /connectors", "POST /csv-sync", "POST /jobs/{id}/cancel", "POST /tokens", token.as_str()] {
            let write = write.replace("{id}", id);
            assert!(refused.contains(&write), "{write} is refused: {refused:?}");
        }
        for path in ["/Users", "/Groups", "/Bulk"] {
            let reply = app.send(app.client.post(app.url(path)).bearer_auth(&auditor).json(&json!({"userName": "x"}))).await;
            reply.expect_error(403, None);
        }
        app.send(app.client.get(app.url("/Users")).bearer_auth(&auditor)).await.expect_error(403, None);
        for path in ["/jobs", "/audit", "/audit/export?format=csv", "/tokens", "/tenant"] {
            let reply = app.client.get(format!("{}/admin/v1{path}", app.base)).bearer_auth(&auditor).send().await.expect("reply");
            assert_eq!(reply.status(), 200, "{path}");
        }
        // SCIM tokens read neither.
        let reply = app.client.get(format!("{}/admin/v1/audit", app.base)).bearer_auth(&app.token).send().await.expect("reply");
        assert_eq!(reply.status(), 403);
    }
}

both_databases! {
    async fn writes_that_fail_in_a_shared_commit_leave_no_event(app: TestApp) {
        // Forty concurrent POSTs, every other one a userName taken already: on SQLite they share
        // group commits, where the refused writes are undone inside the batch.
        let taken = app.user(json!({"userName": "taken"})).await;
        let group = app.post("/Groups", &json!({"displayName": "g"})).await.expect(201).body["id"].as_str().unwrap().to_owned();
        let replies = futures_util::future::join_all((0..40).map(|i| {
            let name = if i % 2 == 0 { format!("n{i}") } else { "TAKEN".to_owned() };
            let app = &app;
            async move { app.post("/Users", &json!({"userName": name})).await }
        }))
        .await;
        let created: Vec<String> = replies.iter().filter(|r| r.status.as_u16() == 201)
            .map(|r| r.body["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(created.len(), 20);
        assert!(replies.iter().filter(|r| r.status.as_u16() != 201).all(|r| r.status.as_u16() == 409));
        // Concurrent membership changes, some naming a user that does not exist.
        futures_util::future::join_all(created.iter().enumerate().map(|(i, id)| {
            let value = if i % 4 == 3 { "00000000-0000-0000-0000-000000000000".to_owned() } else { id.clone() };
            let (app, group) = (&app, &group);
            async move {
                app.patch_ops(&format!("/Groups/{group}"), json!([{"op": "add", "path": "members", "value": [{"value": value}]}])).await
            }
        }))
        .await;

        let all = events(&app, &[]).await;
        let mut logged: Vec<String> = only(&all, "user.create").iter()
            .map(|e| e["resourceId"].as_str().unwrap().to_owned()).collect();
        let mut expected = [vec![taken], created].concat();
        logged.sort();
        expected.sort();
        assert_eq!(logged, expected, "one event per created user, none for the refused ones");
        let added: Vec<&str> = only(&all, "member.add").iter()
            .flat_map(|e| e["changes"]["members"]["added"].as_array().unwrap().iter().map(|v| v.as_str().unwrap())).collect();
        assert_eq!(added.len(), 15, "the adds of the unknown user record nothing");
        assert!(!added.contains(&"00000000-0000-0000-0000-000000000000"));
        let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>(), "numbered without gaps");
        let tenant = app.store.tenant_by_name("acme").await.expect("tenant");
        assert_eq!(app.store.verify_audit(&tenant.id).await.expect("verify"), ChainCheck::Intact { events: all.len() as u64 });
    }
}
