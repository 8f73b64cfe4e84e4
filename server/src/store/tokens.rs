//! Listing and revoking API tokens, and telling every process about a revocation.
//!
//! A server caches validated tokens (`auth.token_cache_seconds`), so a revocation must reach the
//! caches too. On PostgreSQL the revoking transaction notifies the channel `scimd_token_revoked`
//! with the token's hash (delivered at commit, from any process: a server or the CLI), and every
//! server listens. SQLite serves one process, which evicts its own cache when it revokes.

use serde_json::json;
use sqlx::postgres::PgListener;

use super::audit::{AppendAudit, AuditContext, AuditEvent};
use super::tenants::{Role, Tenant, now};
use super::{Backend, Store, StoreError, StoreResult, read, write};

/// The PostgreSQL channel revocations are announced on; the payload is the token's hash.
pub const TOKEN_REVOKED_CHANNEL: &str = "scimd_token_revoked";

/// A token as its tenant's admins see it: never its secret or hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: String,
    pub role: String,
    pub client: Option<String>,
    pub created: String,
    /// When it was revoked; None while it is live.
    pub revoked: Option<String>,
}

/// Which of a tenant's tokens a list holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenFilter {
    pub role: Option<Role>,
    /// Revoked tokens too, not only live ones.
    pub include_revoked: bool,
}

/// What `revoke_token` did.
#[derive(Debug, Clone)]
pub enum Revoked {
    /// Revoked now; `hash` is the key to evict from token caches.
    Now { token: TokenInfo, hash: String },
    /// It was revoked before (at `token.revoked`); nothing changed and nothing was recorded.
    Already(TokenInfo),
}

const COLUMNS: &str = "id, role, client, created, revoked";

impl Store {
    pub async fn tenant_by_id(&self, id: &str) -> StoreResult<Tenant> {
        let sql = self.sql("SELECT id, name, created FROM tenants WHERE id = $1");
        read!(self, pool => sqlx::query_as::<_, Tenant>(sql).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// Live tokens per tenant id, for `scimd tenant list`.
    pub async fn live_token_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let sql = self.sql("SELECT tenant_id, count(*) FROM tokens WHERE revoked IS NULL GROUP BY tenant_id");
        Ok(read!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
    }

    /// Up to `limit` of the tenant's tokens after the id `after` (ids are UUIDv7: creation order).
    pub async fn list_tokens(
        &self,
        tenant: &str,
        filter: TokenFilter,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<TokenInfo>> {
        let mut condition = String::from("tenant_id = $1 AND id > $2");
        if !filter.include_revoked {
            condition.push_str(" AND revoked IS NULL");
        }
        if filter.role.is_some() {
            condition.push_str(" AND role = $3");
        }
        let sql =
            self.sql(&format!("SELECT {COLUMNS} FROM tokens WHERE {condition} ORDER BY id LIMIT {}", limit.max(0)));
        let role = filter.role.map(Role::as_str);
        Ok(read!(self, pool => {
            let query = sqlx::query_as::<_, TokenInfo>(sql).bind(tenant).bind(after.unwrap_or(""));
            match role {
                Some(role) => query.bind(role).fetch_all(pool).await,
                None => query.fetch_all(pool).await,
            }
        })?)
    }

    /// One of the tenant's tokens; NotFound for another tenant's, so ids do not leak across tenants.
    pub async fn token_info(&self, tenant: &str, id: &str) -> StoreResult<TokenInfo> {
        let sql = self.sql(&format!("SELECT {COLUMNS} FROM tokens WHERE tenant_id = $1 AND id = $2"));
        read!(self, pool => sqlx::query_as::<_, TokenInfo>(sql).bind(tenant).bind(id).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    /// Revokes one of the tenant's tokens, recording `token.revoke` in the same transaction; on
    /// PostgreSQL the transaction also notifies every server, at commit. Revoking a revoked token
    /// changes nothing (`Revoked::Already`); another tenant's or an unknown id is NotFound.
    pub async fn revoke_token(&self, tenant: &str, id: &str, ctx: &AuditContext) -> StoreResult<Revoked> {
        let revoke = self.sql(&format!(
            "UPDATE tokens SET revoked = $3 WHERE tenant_id = $1 AND id = $2 AND revoked IS NULL \
             RETURNING {COLUMNS}, hash"
        ));
        let notify = self.sql("SELECT pg_notify($1, $2)");
        let postgres = matches!(&*self.backend, Backend::Postgres(_));
        let revoked: Option<RevokedRow> = write!(self, pool => {
            let mut tx = pool.begin().await?;
            let row: Option<RevokedRow> =
                sqlx::query_as(revoke).bind(tenant).bind(id).bind(now()).fetch_optional(&mut *tx).await?;
            if let Some(row) = &row {
                let changes = json!({ "revoked": { "old": null, "new": row.revoked } });
                let event = AuditEvent::new("token.revoke", "Token", id, changes);
                tx.append_audit(tenant, ctx, std::slice::from_ref(&event)).await?;
                if postgres {
                    sqlx::query(notify).bind(TOKEN_REVOKED_CHANNEL).bind(&row.hash).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            StoreResult::Ok(row)
        })?;
        match revoked {
            Some(row) => {
                let (token, hash) = row.split();
                Ok(Revoked::Now { token, hash })
            }
            None => Ok(Revoked::Already(self.token_info(tenant, id).await?)),
        }
    }

    /// A listener for token revocations by any process on this database (the CLI included).
    pub async fn listen_revocations(&self) -> StoreResult<RevocationListener> {
        let listener = match &*self.backend {
            Backend::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(TOKEN_REVOKED_CHANNEL).await?;
                Listener::Postgres(listener)
            }
            Backend::Sqlite { .. } => Listener::Sqlite { store: self.clone(), revoked: None },
        };
        Ok(RevocationListener(listener))
    }

    /// How many tokens were ever revoked: it grows with each revocation, by any process.
    async fn revoked_tokens(&self) -> StoreResult<i64> {
        let sql = "SELECT count(*) FROM tokens WHERE revoked IS NOT NULL";
        let (count,): (i64,) = read!(self, pool => sqlx::query_as(sql).fetch_one(pool).await)?;
        Ok(count)
    }
}

#[derive(sqlx::FromRow)]
struct RevokedRow {
    id: String,
    role: String,
    client: Option<String>,
    created: String,
    revoked: Option<String>,
    hash: String,
}

impl RevokedRow {
    fn split(self) -> (TokenInfo, String) {
        let RevokedRow { id, role, client, created, revoked, hash } = self;
        (TokenInfo { id, role, client, created, revoked }, hash)
    }
}

/// What a `RevocationListener` heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The token with this hash was revoked.
    Token(String),
    /// The connection was lost and re-established: revocations in between were not heard.
    Missed,
    /// Tokens were revoked; which ones is not known (SQLite).
    Unnamed,
}

/// Hears of token revocations made by any process on the database.
pub struct RevocationListener(Listener);

enum Listener {
    /// `LISTEN scimd_token_revoked` on a connection of its own (taken from the pool).
    Postgres(PgListener),
    /// SQLite has no notifications: the count of revoked tokens, read every `SQLITE_POLL`. None
    /// until the first read, which reports `Unnamed`: revocations before it were not counted.
    Sqlite { store: Store, revoked: Option<i64> },
}

/// How often a server on SQLite looks for revocations by other processes (`scimd token revoke`).
const SQLITE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl RevocationListener {
    /// Waits for the next revocation. An error means the listener is unusable: make a new one.
    pub async fn next(&mut self) -> StoreResult<Revocation> {
        match &mut self.0 {
            Listener::Postgres(listener) => Ok(match listener.try_recv().await? {
                Some(notification) => Revocation::Token(notification.payload().to_owned()),
                None => Revocation::Missed,
            }),
            Listener::Sqlite { store, revoked } => loop {
                tokio::time::sleep(SQLITE_POLL).await;
                let now = Some(store.revoked_tokens().await?);
                if now != *revoked {
                    *revoked = now;
                    return Ok(Revocation::Unnamed);
                }
            },
        }
    }
}
