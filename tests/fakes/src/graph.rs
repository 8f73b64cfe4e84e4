//! Microsoft Graph and the Microsoft identity platform's token endpoint, as far as scimd's `azure`
//! connector uses them: client credentials, users and groups delta rounds, group members, with
//! Microsoft's JSON shapes (`@odata.nextLink`, `@odata.deltaLink`, `@removed`, `members@delta`,
//! `{"error": {"code", "message"}}`). Tests change the tenant between runs through [`FakeGraph::with`]
//! and inject faults (429 with `Retry-After`, 5xx, 401 for an expired token, expired delta tokens)
//! and latency.

mod delta;
mod directory;
mod server;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use directory::{Directory, MemberKind, generate, guid};
use server::{Credentials, Shared, Tokens, lock};
pub use server::{Fault, GRAPH_SCOPE, Logged};

pub const TENANT: &str = "contoso.example";
pub const CLIENT_ID: &str = "5c1e0f4e-0000-4000-8000-000000000001";
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// How long tokens live unless a test says otherwise.
const TOKEN_LIFETIME_SECONDS: u64 = 3599;

/// A running fake; stops when dropped.
pub struct FakeGraph {
    shared: Arc<Shared>,
    /// `http://127.0.0.1:port`: the authority, and with `/v1.0` the Graph URL.
    pub base_url: String,
    task: JoinHandle<()>,
}

impl FakeGraph {
    /// Serves `directory` on a free port of 127.0.0.1.
    pub async fn start(directory: Directory) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind("127.0.0.1:0").await?, directory).await
    }

    pub async fn serve(listener: TcpListener, directory: Directory) -> std::io::Result<Self> {
        let address: SocketAddr = listener.local_addr()?;
        let base_url = format!("http://{address}");
        let shared = Arc::new(Shared {
            directory: Mutex::new(directory),
            credentials: Credentials {
                tenant: TENANT.to_owned(),
                client_id: CLIENT_ID.to_owned(),
                client_secret: CLIENT_SECRET.to_owned(),
            },
            base: Mutex::new(base_url.clone()),
            tokens: Mutex::new(Tokens { lifetime_seconds: TOKEN_LIFETIME_SECONDS, ..Tokens::default() }),
            faults: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            log: Mutex::new(Vec::new()),
        });
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("fake Graph stopped: {error}");
            }
        });
        Ok(Self { shared, base_url, task })
    }

    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base_url)
    }

    /// Reads or changes the tenant.
    pub fn with<R>(&self, change: impl FnOnce(&mut Directory) -> R) -> R {
        change(&mut lock(&self.shared.directory))
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Makes every answer wait `latency` first (a slow tenant: long runs that can be caught midway).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    pub fn set_token_lifetime(&self, seconds: u64) {
        lock(&self.shared.tokens).lifetime_seconds = seconds;
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        lock(&self.shared.tokens).issued
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.shared.log).clone()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        self.task.abort();
    }
}
