//! Test fixtures: a real scimd server on a free loopback port, on SQLite (always) or on a fresh
//! PostgreSQL database (when SCIMD_TEST_POSTGRES_URL is set), with tenants and tokens made through
//! the same store code the CLI uses.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Once, OnceLock};

use reqwest::StatusCode;
use scimd::config::{Config, DatabaseUrl};
use scimd::store::{AuditContext, Role, Store};
use serde_json::Value;
use sqlx::Connection;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const POSTGRES_ENV: &str = "SCIMD_TEST_POSTGRES_URL";
pub const PUBLIC_URL: &str = "http://scimd.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server URL, or None (after saying so once) when PostgreSQL tests are skipped.
/// In CI (`CI` set) a missing URL is an error, so skipped tests cannot pass unnoticed.
pub fn postgres_url() -> Option<String> {
    static SKIP_NOTICE: Once = Once::new();
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI requires {POSTGRES_ENV} (PostgreSQL tests are mandatory there)")
        }
        _ => {
            SKIP_NOTICE.call_once(|| {
                eprintln!("note: PostgreSQL tests skipped: set {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test to run them")
            });
            None
        }
    }
}

/// A database of its own for one test; PostgreSQL databases are dropped when it goes out of scope.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(db: Db) -> Option<TestDb> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("scimd.db").display());
                Some(TestDb { url, _dir: Some(dir), pg: None })
            }
            Db::Postgres => {
                let server = postgres_url()?;
                let name = format!("scimd_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::postgres::PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {POSTGRES_ENV}={server}: {e}"));
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at {POSTGRES_ENV} is unreachable or refuses CREATE DATABASE: {e}")
                    });
                let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
                Some(TestDb { url: format!("{base}/{name}"), _dir: None, pg: Some((server, name)) })
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((server, name)) = self.pg.take() {
            // Drop runs outside async: a short-lived runtime on a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    if let Ok(mut admin) = sqlx::postgres::PgConnection::connect(&server).await {
                        let _ =
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                                .execute(&mut admin)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The actor of what fixtures set up, as the CLI would be.
pub fn cli() -> AuditContext {
    AuditContext::cli(Some("fixture".to_owned()))
}

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A running server with one tenant ("acme") and a scim token for client "okta".
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
    pub store: Store,
    /// An admin token of the same tenant (client name `alice`).
    pub admin_token: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _db: TestDb,
    _files: tempfile::TempDir,
}

type Configure = Box<dyn FnOnce(&mut Config)>;

pub struct Builder {
    db: Db,
    configure: Vec<Configure>,
}

impl Builder {
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// None when this database's tests are skipped.
    pub async fn start(self) -> Option<TestApp> {
        let test_db = TestDb::new(self.db).await?;
        let mut config = Config::load(Some(std::path::Path::new("/dev/null")), Some(&test_db.url)).expect("config");
        config.database_url = DatabaseUrl::new(&test_db.url);
        config.server.public_url = Some(PUBLIC_URL.to_owned());
        config.log.level = "warn".into();
        let files = tempfile::tempdir().expect("temp dir");
        config.sync.files_dir = files.path().to_path_buf();
        // The mass-deprovision guard is off unless a test turns it on: most tests remove a third of
        // a tiny directory on purpose. `schedules.rs` tests the guard.
        config.sync.guard_percent = 100;
        for f in self.configure {
            f(&mut config);
        }
        let state = scimd::serve::state(config).await.expect("server state");
        let store = state.store.clone();
        let tenant = store.create_tenant("acme", &cli()).await.expect("tenant");
        let token = store.create_token(&tenant.id, Role::Scim, Some("okta"), &cli()).await.expect("token").token;
        let admin_token =
            store.create_token(&tenant.id, Role::Admin, Some("alice"), &cli()).await.expect("token").token;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(async move {
            scimd::serve::serve_on(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Some(TestApp {
            base,
            client: reqwest::Client::new(),
            token,
            store,
            admin_token,
            shutdown: Some(tx),
            server: Some(server),
            _db: test_db,
            _files: files,
        })
    }
}

/// A response: status, headers and the body as JSON (Null when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {:#}", self.body);
        self
    }

    /// Asserts an RFC 7644 error with this status and scimType.
    #[track_caller]
    pub fn expect_error(self, status: u16, scim_type: Option<&str>) -> Self {
        let reply = self.expect(status);
        assert_eq!(reply.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{:#}", reply.body);
        assert_eq!(reply.body["status"], status.to_string());
        assert_eq!(reply.body["scimType"].as_str(), scim_type, "{:#}", reply.body);
        reply
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub fn builder(db: Db) -> Builder {
        Builder { db, configure: Vec::new() }
    }

    pub async fn start(db: Db) -> Option<TestApp> {
        Self::builder(db).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/scim/v2{path}", self.base)
    }

    /// The database the server runs on, for tests that reach past the API.
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    /// A token of another tenant, created on the fly.
    pub async fn tenant_token(&self, tenant: &str, role: Role, client: Option<&str>) -> String {
        let tenant = match self.store.tenant_by_name(tenant).await {
            Ok(t) => t,
            Err(_) => self.store.create_tenant(tenant, &cli()).await.expect("tenant"),
        };
        self.store.create_token(&tenant.id, role, client, &cli()).await.expect("token").token
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body }
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.bearer_auth(&self.token)
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.authed(self.client.get(self.url(path)))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.authed(self.client.delete(self.url(path)))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.authed(self.client.post(self.url(path))).json(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.authed(self.client.put(self.url(path))).json(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(self.authed(self.client.patch(self.url(path))).json(body)).await
    }

    /// PATCH with a PatchOp body of these `Operations`.
    pub async fn patch_ops(&self, path: &str, operations: Value) -> Reply {
        self.patch(path, &serde_json::json!({"schemas": [PATCH_OP], "Operations": operations})).await
    }

    /// A request to the admin API with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}/admin/v1{path}", self.base)).bearer_auth(&self.admin_token)
    }

    /// GET on the admin API; the body as text.
    pub async fn admin_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.admin(reqwest::Method::GET, path).send().await.expect("request reaches the server");
        (response.status(), response.text().await.expect("body"))
    }

    /// Uploads a CSV file (multipart field `file`) with `query` (e.g. `missing=keep`).
    pub async fn upload_csv(&self, name: &str, content: &str, query: &str) -> Reply {
        let part = reqwest::multipart::Part::bytes(content.as_bytes().to_vec()).file_name(name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        self.send(self.admin(reqwest::Method::POST, &format!("/csv-sync?{query}")).multipart(form)).await
    }

    /// Waits until a job has ended and returns it.
    pub async fn wait_job(&self, id: &str) -> Value {
        for _ in 0..600 {
            let job = self.send(self.admin(reqwest::Method::GET, &format!("/jobs/{id}"))).await.expect(200).body;
            if !matches!(job["status"].as_str(), Some("pending" | "running")) {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("job {id} did not end within 30 s");
    }

    /// Uploads a CSV file and waits for its job to end.
    pub async fn csv_sync(&self, content: &str, query: &str) -> Value {
        let reply = self.upload_csv("users.csv", content, query).await.expect(202);
        self.wait_job(reply.body["id"].as_str().expect("job id")).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, body: Value) -> String {
        let reply = self.post("/Users", &body).await.expect(201);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group and returns its id.
    pub async fn group(&self, body: Value) -> String {
        let reply = self.post("/Groups", &body).await.expect(201);
        reply.body["id"].as_str().expect("id").to_owned()
    }

    /// GET with a query string built from pairs (values are URL-encoded).
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.authed(self.client.get(self.url(path)).query(query))).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The `scimd` executable, built once per test run (the tests crate cannot depend on a binary).
pub fn scimd_binary() -> Arc<std::path::PathBuf> {
    static BINARY: OnceLock<Arc<std::path::PathBuf>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let mut cargo = std::process::Command::new(env!("CARGO"));
            cargo
                .args(["build", "-p", "scimd", "--bin", "scimd", "--message-format=json-render-diagnostics"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // Cargo describes the test's own package to it in CARGO_PKG_* and CARGO_MANIFEST_*;
            // `ring`'s build script reruns when those change, so passed on they rebuilt ring and
            // everything above it here, and again in the next `cargo test`.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_MANIFEST_") {
                    cargo.env_remove(&*name);
                }
            }
            let output = cargo.output().expect("cargo runs");
            assert!(output.status.success(), "building scimd failed: {}", String::from_utf8_lossy(&output.stderr));
            let path = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter_map(|msg| msg["executable"].as_str().map(std::path::PathBuf::from))
                .next_back()
                .expect("cargo reports the scimd executable");
            Arc::new(path)
        })
        .clone()
}

/// A `scimd serve` process on a free loopback port, killed (SIGKILL) when dropped.
pub struct ScimdProcess {
    pub child: std::process::Child,
    pub base: String,
}

impl ScimdProcess {
    /// Starts `scimd serve` in `dir` on `database` with these `SCIMD_*` settings; its log (stderr)
    /// goes to the file `log`, or nowhere.
    pub fn start(dir: &Path, database: &str, env: &[(&str, &str)], log: Option<&Path>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let listen = format!("127.0.0.1:{port}");
        let stderr = log.map_or_else(Stdio::null, |path| std::fs::File::create(path).expect("log file").into());
        let child = Command::new(&*scimd_binary())
            .args(["--database", database, "serve", "--listen", &listen])
            .current_dir(dir)
            .envs(env.iter().copied())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        ScimdProcess { child, base: format!("http://{listen}") }
    }
}

impl Drop for ScimdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `scimd` command in `dir` on `database`; the last line it printed.
pub fn scimd_cli(dir: &Path, database: &str, args: &[&str]) -> String {
    let output = Command::new(&*scimd_binary())
        .args(["--database", database])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("scimd runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned()
}

/// Polls `probe` until it answers, for at most `seconds`.
pub async fn until<T>(seconds: u64, what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Declares a test that runs once on SQLite and once on PostgreSQL (skipped without a server).
#[macro_export]
macro_rules! both_databases {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::fixture::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::fixture::TestApp::start($crate::fixture::Db::Sqlite).await.expect("sqlite")).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::fixture::TestApp::start($crate::fixture::Db::Postgres).await {
                    run(app).await;
                }
            }
        }
    };
}

/// `both_databases!` with a configuration change: `both_databases_with!(|c| ..., async fn name(app: TestApp) {..})`.
#[macro_export]
macro_rules! both_databases_with {
    ($configure:expr, async fn $name:ident($app:ident: TestApp) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::fixture::TestApp) $body

            async fn start(db: $crate::fixture::Db) -> Option<$crate::fixture::TestApp> {
                $crate::fixture::TestApp::builder(db).config($configure).start().await
            }

            #[tokio::test]
            async fn sqlite() {
                run(start($crate::fixture::Db::Sqlite).await.expect("sqlite")).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = start($crate::fixture::Db::Postgres).await {
                    run(app).await;
                }
            }
        }
    };
}
