//! Google Admin SDK Directory API: `users.list`, `groups.list`, `members.list` and the OAuth
//! token endpoint of a service account with domain-wide delegation, which checks the JWT
//! assertion's signature against the account's public key and its `iss`, `sub`, `aud`, `scope`,
//! `iat`/`exp`. The directory is stateful (tests change it between runs) and faults can be aimed
//! at a route and page: quota errors (403 `rateLimitExceeded`, 429), 5xx, a token that expired.

mod account;
mod directory;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinHandle;

pub use account::{GRANTED_SCOPES, ServiceAccount};
pub use directory::{CUSTOMER_ID, Directory};

/// The administrator the service account may act as.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const CLIENT_EMAIL: &str = "scimd-sync@scimd-fake.iam.gserviceaccount.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Token,
    Users,
    Groups,
    Members,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// 403 with reason `rateLimitExceeded`.
    RateLimited,
    /// 403 with reason `userRateLimitExceeded`.
    UserRateLimited,
    /// 429, with a `Retry-After` if given.
    TooManyRequests {
        retry_after_seconds: Option<u32>,
    },
    ServerError(u16),
    /// 403 `forbidden`: not allowed, not to be retried.
    Forbidden,
    /// The bearer token is treated as expired: 401, and it stays invalid.
    ExpireToken,
}

/// A fault for the next `times` requests of `route` on page `page` (0-based; None: any page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub route: Route,
    pub page: Option<usize>,
    pub kind: FaultKind,
    pub times: u32,
}

/// What the handlers share.
pub(crate) struct Shared {
    account: ServiceAccount,
    admin_email: String,
    token_uri: String,
    directory: Mutex<Directory>,
    faults: Mutex<Vec<Fault>>,
    tokens: Mutex<HashMap<String, Instant>>,
    issued: AtomicU64,
    counts: Mutex<HashMap<Route, usize>>,
    latency: Mutex<Duration>,
    members_in_flight: AtomicUsize,
    most_members_in_flight: AtomicUsize,
}

impl Shared {
    /// Consumes one use of the first fault aimed at this request.
    fn take_fault(&self, route: Route, page: usize) -> Option<FaultKind> {
        let mut faults = self.faults.lock().expect("faults");
        let at = faults.iter().position(|f| f.route == route && f.page.is_none_or(|p| p == page) && f.times > 0)?;
        faults[at].times -= 1;
        let kind = faults[at].kind;
        if faults[at].times == 0 {
            faults.remove(at);
        }
        Some(kind)
    }
}

/// A running fake, served until dropped.
pub struct FakeGoogle {
    /// Where the Directory API is (the connector's `baseUrl`).
    pub base_url: String,
    pub token_uri: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeGoogle {
    /// Serves `directory` on `listen` (port 0 picks one) with a new service account.
    pub async fn start(listen: SocketAddr, directory: Directory) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let token_uri = format!("http://{address}/token");
        let shared = Arc::new(Shared {
            account: ServiceAccount::generate(CLIENT_EMAIL)?,
            admin_email: ADMIN_EMAIL.to_owned(),
            token_uri: token_uri.clone(),
            directory: Mutex::new(directory),
            faults: Mutex::default(),
            tokens: Mutex::default(),
            issued: AtomicU64::new(0),
            counts: Mutex::default(),
            latency: Mutex::new(Duration::ZERO),
            members_in_flight: AtomicUsize::new(0),
            most_members_in_flight: AtomicUsize::new(0),
        });
        let app = routes::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("the fake Google server stopped: {error}");
            }
        });
        Ok(Self { base_url: format!("http://{address}/admin/directory/v1"), token_uri, shared, server })
    }

    /// The service account's JSON key, as downloaded from Google.
    pub fn key_json(&self) -> Value {
        self.shared.account.key_json(&self.token_uri)
    }

    pub fn write_key(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(&self.key_json())?)?;
        Ok(())
    }

    /// The directory, to read or change between runs.
    pub fn directory(&self) -> MutexGuard<'_, Directory> {
        self.shared.directory.lock().expect("directory")
    }

    pub fn inject(&self, fault: Fault) {
        self.shared.faults.lock().expect("faults").push(fault);
    }

    /// Faults injected and not yet served.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.lock().expect("faults").clone()
    }

    /// Every access token issued so far stops working (401).
    pub fn expire_tokens(&self) {
        self.shared.tokens.lock().expect("tokens").clear();
    }

    /// Requests received on `route`, faults and refusals included.
    pub fn requests(&self, route: Route) -> usize {
        self.shared.counts.lock().expect("counts").get(&route).copied().unwrap_or(0)
    }

    /// Access tokens issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.issued.load(Ordering::SeqCst)
    }

    /// Each list request waits this long first, like a distant server.
    pub fn set_latency(&self, latency: Duration) {
        *self.shared.latency.lock().expect("latency") = latency;
    }

    /// The most members.list requests served at the same time.
    pub fn most_members_in_flight(&self) -> usize {
        self.shared.most_members_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
    }
}
