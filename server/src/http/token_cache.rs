//! Validated tokens, remembered for `auth.token_cache_seconds` so that a request does not read the
//! database to authenticate (GET by id runs at ~20k req/s). A revocation evicts its token at once:
//! this process's revocations directly, other processes' through PostgreSQL notifications, or on
//! SQLite by polling the count of revoked tokens every 200 ms (`follow_revocations`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::{Revocation, RevocationListener, Store, TokenRow};

/// Longest wait between attempts to listen again after the listener failed.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Tokens by the hash of their secret (never the secret itself).
#[derive(Clone)]
pub struct TokenCache {
    cache: moka::sync::Cache<String, TokenRow>,
    /// Counts evictions. A request that read a token from the database caches it only if no
    /// eviction happened meanwhile: otherwise a read from before a revocation could be cached
    /// after the revocation evicted the token, and outlive it.
    evictions: Arc<AtomicU64>,
    enabled: bool,
}

/// Where the eviction count stood before a database read (`TokenCache::before_read`).
pub struct ReadMark(u64);

impl TokenCache {
    pub fn new(ttl_seconds: u64) -> TokenCache {
        TokenCache {
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(ttl_seconds))
                .build(),
            evictions: Arc::default(),
            enabled: ttl_seconds > 0,
        }
    }

    pub fn get(&self, hash: &str) -> Option<TokenRow> {
        self.cache.get(hash)
    }

    /// Call before reading a token from the database; pass the mark to `insert`.
    pub fn before_read(&self) -> ReadMark {
        ReadMark(self.evictions.load(Ordering::Acquire))
    }

    /// Remembers a token read from the database, unless a token was evicted since `mark`.
    pub fn insert(&self, hash: String, row: TokenRow, mark: ReadMark) {
        if self.enabled && self.evictions.load(Ordering::Acquire) == mark.0 {
            self.cache.insert(hash, row);
        }
    }

    /// Forgets a revoked token.
    pub fn evict(&self, hash: &str) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(hash);
    }

    /// Forgets every token (revocations may have been missed).
    pub fn clear(&self) {
        self.evictions.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }
}

/// Starts evicting the tokens other processes revoke. On PostgreSQL the first `LISTEN` is in place
/// when this returns; on SQLite the first count, 200 ms later, clears the cache once, so no
/// revocation after start-up goes unheard either way.
pub async fn follow_revocations(store: Store, tokens: TokenCache) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = store.listen_revocations().await?;
    Ok(tokio::spawn(listen(store, tokens, listener)))
}

async fn listen(store: Store, tokens: TokenCache, mut listener: RevocationListener) {
    loop {
        loop {
            match listener.next().await {
                Ok(Revocation::Token(hash)) => tokens.evict(&hash),
                Ok(Revocation::Unnamed) => tokens.clear(),
                Ok(Revocation::Missed) => {
                    tracing::warn!(
                        "token revocation listener reconnected; revocations may have been missed, token cache cleared"
                    );
                    tokens.clear();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "token revocation listener failed; token cache cleared, listening again");
                    tokens.clear();
                    break;
                }
            }
        }
        let mut wait = Duration::from_millis(250);
        listener = loop {
            tokio::time::sleep(wait).await;
            match store.listen_revocations().await {
                Ok(listener) => break listener,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?wait, "cannot listen for token revocations");
                    wait = (wait * 2).min(MAX_RETRY);
                }
            }
        };
        // Revocations between the failure and the new LISTEN were not heard.
        tokens.clear();
    }
}
