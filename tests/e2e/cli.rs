//! The `scimd` binary as an admin uses it: tenants and tokens without a running server, `serve` with
//! its defaults, graceful shutdown on SIGTERM, help and configuration errors.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::scimd_binary;

fn scimd(dir: &Path, args: &[&str]) -> Output {
    Command::new(&*scimd_binary())
        .args(args)
        .current_dir(dir)
        .env_remove("SCIMD_DATABASE_URL")
        .output()
        .expect("scimd runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn tenant_token_serve_and_graceful_shutdown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = scimd(dir.path(), &["tenant", "create", "acme"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let output = scimd(dir.path(), &["token", "create", "--tenant", "acme", "--role", "scim", "--client", "entra"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output).lines().last().expect("a last line").to_owned();
    assert!(token.starts_with("scimd_") && !token.contains(' '), "the token is alone on the last line: {token:?}");

    // The default database is ./scimd.db, in WAL mode, holding only the token's hash.
    let db = dir.path().join("scimd.db");
    assert!(db.exists());
    let raw = std::fs::read(&db).expect("db file");
    let wal = std::fs::read(dir.path().join("scimd.db-wal")).unwrap_or_default();
    let secret = token.trim_start_matches("scimd_").as_bytes();
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret) && !wal.windows(secret.len()).any(|w| w == secret),
        "the token itself is not stored"
    );
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open");
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&mut conn).await.expect("pragma");
    assert_eq!(mode, "wal");
    drop(conn);

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(&*scimd_binary())
        .args(["serve", "--listen", &listen])
        .current_dir(dir.path())
        .env_remove("SCIMD_DATABASE_URL")
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let client = reqwest::Client::new();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = client
        .post(format!(
            "{base}/scim/v2/Users?attributes=urn:ietf:params:scim:schemas:extension:scimd:2.0:User:managingEntity"
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({"userName": "cli@example.com"}))
        .send()
        .await
        .expect("post");
    assert_eq!(reply.status(), 201);
    let body: serde_json::Value = reply.json().await.expect("json");
    assert_eq!(body["urn:ietf:params:scim:schemas:extension:scimd:2.0:User"]["managingEntity"], "scim:entra");

    // A member id that does not exist is skipped, and the skip is logged with the request's id.
    let reply = client
        .post(format!("{base}/scim/v2/Groups"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"displayName": "cli group"}))
        .send()
        .await
        .expect("post group");
    let group: serde_json::Value = reply.json().await.expect("json");
    let operations = serde_json::json!([{"op": "add", "path": "members", "value": [{"value": "ghost-member-id"}]}]);
    let reply = client
        .patch(format!("{base}/scim/v2/Groups/{}", group["id"].as_str().expect("id")))
        .bearer_auth(&token)
        .header("x-request-id", "skip-test-7f3a")
        .json(&serde_json::json!({"schemas": [crate::fixture::PATCH_OP], "Operations": operations}))
        .send()
        .await
        .expect("patch");
    assert_eq!(reply.status(), 200);

    let terminated = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().expect("kill");
    assert!(terminated.success());
    let status = server.wait().expect("exit");
    assert!(status.success(), "SIGTERM is a clean shutdown, got {status}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().expect("stderr"), &mut logs).expect("logs");
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert!(logs.contains("request_id"), "requests are logged with their id: {logs}");
    let skip = logs.lines().find(|l| l.contains("ghost-member-id")).expect("the skipped member is logged");
    assert!(skip.contains("skip-test-7f3a"), "with the request id: {skip}");
    assert!(!logs.contains('\x1b'), "no colour codes when stderr is not a terminal");
    assert!(!logs.contains(token.trim_start_matches("scimd_")), "logs never hold a token");
}

#[test]
fn every_command_has_help_with_examples() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["tenant", "create", "--help"],
        &["tenant", "list", "--help"],
        &["token", "create", "--help"],
        &["token", "list", "--help"],
        &["token", "revoke", "--help"],
        &["audit", "verify", "--help"],
        &["audit", "export", "--help"],
    ] {
        let output = scimd(dir.path(), args);
        assert!(output.status.success(), "{args:?}");
        assert!(stdout(&output).contains("Example"), "{args:?}: {}", stdout(&output));
    }
}

#[test]
fn errors_say_what_to_do_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = scimd(dir.path(), &["token", "create", "--tenant", "nobody", "--role", "admin"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("scimd tenant create nobody"), "{}", stderr(&output));

    std::fs::write(dir.path().join("scimd.toml"), "[server]\nlisten = \"not an address\"\n").expect("write");
    let output = scimd(dir.path(), &["serve"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("server.listen") && message.contains("scimd.toml"), "{message}");

    std::fs::write(dir.path().join("scimd.toml"), "").expect("write");
    let output = scimd(dir.path(), &["--database", "mysql://x", "tenant", "list"]);
    assert!(stderr(&output).contains("sqlite://"), "{}", stderr(&output));
    let output = scimd(dir.path(), &["--database", "postgres://scimd:hunter2@127.0.0.1:1/x", "tenant", "list"]);
    assert!(!output.status.success());
    assert!(!stderr(&output).contains("hunter2"), "passwords in database URLs are redacted: {}", stderr(&output));
}

#[test]
fn connector_schedule_show_runs_and_jobs_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(scimd(dir.path(), &["tenant", "create", "acme"]).status.success());
    let settings = dir.path().join("corp.json");
    std::fs::write(&settings, r#"{"url": "ldap://127.0.0.1:1", "users": {"base": "dc=example,dc=com"}}"#).unwrap();
    let settings = settings.to_str().unwrap();
    let create = ["connector", "create", "corp", "--tenant", "acme", "--kind", "ldap", "--settings", settings];
    let bad = scimd(dir.path(), &[&create[..], &["--schedule", "whenever"]].concat());
    assert!(!bad.status.success() && stderr(&bad).contains("schedule"), "{}", stderr(&bad));
    let created = scimd(dir.path(), &[&create[..], &["--schedule", "0 */6 * * *", "--guard-percent", "5"]].concat());
    assert!(created.status.success(), "{}", stderr(&created));

    let show = stdout(&scimd(dir.path(), &["connector", "show", "corp", "--tenant", "acme"]));
    assert!(show.contains("schedule: 0 */6 * * * (next run ") && show.contains("guard: 5 %"), "{show}");
    let set = scimd(
        dir.path(),
        &["connector", "set", "corp", "--tenant", "acme", "--schedule", "none", "--enabled", "false"],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(stdout(&set).contains("schedule: none") && stdout(&set).contains("enabled: false"), "{}", stdout(&set));
    let runs = stdout(&scimd(dir.path(), &["connector", "runs", "corp", "--tenant", "acme"]));
    assert!(runs.starts_with("0 runs of corp"), "{runs}");
    let missing = scimd(dir.path(), &["jobs", "show", "0192f0c4-7a1e-7c3a-9f00-1b2c3d4e5f60", "--tenant", "acme"]);
    assert!(!missing.status.success() && stderr(&missing).contains("has no job"), "{}", stderr(&missing));
    for command in
        [&["jobs", "approve", "--help"][..], &["connector", "set", "--help"], &["connector", "runs", "--help"]]
    {
        assert!(stdout(&scimd(dir.path(), command)).contains("Example"), "{command:?}");
    }
}

#[test]
fn tenant_list_token_list_revoke_and_audit_export_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let output = scimd(dir.path(), args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        output
    };
    let empty = run(&["tenant", "list"]);
    assert!(stderr(&empty).contains("scimd tenant create"), "{}", stderr(&empty));
    run(&["tenant", "create", "acme"]);
    let secret = stdout(&run(&["token", "create", "--tenant", "acme", "--role", "scim", "--client", "entra"]))
        .lines()
        .last()
        .expect("the token")
        .to_owned();
    run(&["token", "create", "--tenant", "acme", "--role", "auditor"]);
    let tenants = stdout(&run(&["tenant", "list"]));
    let lines: Vec<&str> = tenants.lines().collect();
    assert_eq!(lines[0], "NAME\tID\tCREATED\tTOKENS");
    assert!(lines[1].starts_with("acme\t") && lines[1].ends_with("\t2"), "{tenants}");

    let listed = stdout(&run(&["token", "list", "--tenant", "acme"]));
    let rows: Vec<Vec<&str>> = listed.lines().skip(1).map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows.iter().map(|r| (r[1], r[2], r[4])).collect::<Vec<_>>(),
        [("scim", "entra", "-"), ("auditor", "-", "-")]
    );
    assert!(!listed.contains(secret.trim_start_matches("scimd_")), "never a secret");
    let id = rows[0][0].to_owned();

    let revoked = stdout(&run(&["token", "revoke", &id, "--tenant", "acme"]));
    assert!(revoked.contains(&format!("revoked scim token {id}")), "{revoked}");
    assert!(revoked.contains("refuses it now"), "{revoked}");
    let again = stdout(&run(&["token", "revoke", &id, "--tenant", "acme"]));
    assert!(again.contains("already revoked at"), "{again}");
    assert_eq!(stdout(&run(&["token", "list", "--tenant", "acme"])).lines().count(), 2, "live tokens only");
    let all = stdout(&run(&["token", "list", "--tenant", "acme", "--all"]));
    let revoked_row = all.lines().find(|l| l.starts_with(&id)).expect("listed with --all");
    assert!(!revoked_row.ends_with("\t-"), "with its revocation time: {revoked_row}");
    assert_eq!(stdout(&run(&["token", "list", "--tenant", "acme", "--all", "--role", "auditor"])).lines().count(), 2);
    assert!(stdout(&run(&["tenant", "list"])).lines().nth(1).unwrap().ends_with("\t1"));

    let unknown = scimd(dir.path(), &["token", "revoke", "00000000-0000-7000-8000-000000000000", "--tenant", "acme"]);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("scimd token list --tenant acme --all"), "{}", stderr(&unknown));
    let nobody = scimd(dir.path(), &["token", "list", "--tenant", "nobody"]);
    assert!(!nobody.status.success() && stderr(&nobody).contains("scimd tenant create nobody"));

    // tenant.create, two token.create, one token.revoke.
    let file = dir.path().join("audit.csv");
    let export = run(&["audit", "export", "--tenant", "acme", "--format", "csv", "--output", file.to_str().unwrap()]);
    assert!(stderr(&export).contains("wrote 4 events"), "{}", stderr(&export));
    let csv = std::fs::read_to_string(&file).expect("the export");
    let actions: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(6).expect("action")).collect();
    assert_eq!(actions, ["tenant.create", "token.create", "token.create", "token.revoke"]);
    assert!(csv.starts_with("seq,time,actor,"));
    let jsonl =
        stdout(&run(&["audit", "export", "--tenant", "acme", "--action", "token.revoke", "--resource-type", "Token"]));
    let events: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (&events[0]["resourceId"], &events[0]["actor"], &events[0]["source"]),
        (&serde_json::json!(id), &serde_json::json!("cli"), &serde_json::json!("cli"))
    );
    let none = run(&["audit", "export", "--tenant", "acme", "--since", "2999-01-01T00:00:00Z"]);
    assert!(stdout(&none).is_empty() && stderr(&none).contains("no events"), "{}", stderr(&none));
    let bad = scimd(dir.path(), &["audit", "export", "--tenant", "acme", "--until", "yesterday"]);
    assert!(!bad.status.success() && stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
    let verify = stdout(&run(&["audit", "verify", "--tenant", "acme"]));
    assert_eq!(verify.trim(), "4 events, chain intact");
}
