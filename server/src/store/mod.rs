//! Storage on SQLite or PostgreSQL through sqlx.
//!
//! One implementation serves both databases: the SQL text differs only where the dialects do
//! (placeholders, JSON functions), and `Dialect` writes those parts; every query is then run through
//! `read!`/`write!`, which expand the same code once per backend. The backend is chosen once, from the
//! database URL, when the store opens.

mod audit;
mod audit_events;
mod audit_read;
mod batch;
mod checkpoint;
mod connectors;
mod dialect;
mod filter_sql;
mod guard;
mod insert;
mod jobs;
mod keyset;
mod member_write;
mod params;
mod point_read;
mod resources;
mod schedules;
mod secrets;
mod sync_batch;
mod sync_groups;
mod tenants;
mod tokens;
mod writer_handle;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseUrl;

pub use audit::{AuditContext, AuditEvent, EventContent, GENESIS, canonical};
pub use audit_read::{AuditFilter, AuditRow, ChainCheck, Provenance};
pub use connectors::{ConnectorRow, ConnectorSettings, RunSettings};
pub use dialect::Dialect;
pub use filter_sql::{SortOrder, compile_filter, compile_sort};
pub use insert::new_id;
pub use jobs::{Cancelled, JobFilter, JobRow, LockHeld, NewJob, lease_until};
pub use keyset::{KeysetPage, KeysetQuery, Position};
pub use params::Param;
pub use resources::email_lower;
pub use resources::{
    ChangeAudit, ListQuery, MemberDelta, MemberRow, ResourceChange, ResourceRow, ResourceWrite, user_name_taken,
};
pub use schedules::ScheduledRun;
pub use sync_batch::{
    BatchJob, Candidates, GroupKey, HELD, LinkAction, LinkMark, LinkWrite, MissingScope, Outcome, OutcomeRow,
    PlannedWrite, RecordPlan, SyncUser, UserKey, UserMembership,
};
pub use sync_groups::{GroupKeyColumn, GroupMembership, GroupPlan, LinkBy, LinkedResource, SyncGroup};
pub use tenants::{NewToken, Role, Tenant, TokenRow, hash_token};
pub use tokens::{Revocation, RevocationListener, Revoked, TOKEN_REVOKED_CHANNEL, TokenFilter, TokenInfo};

/// SQLite's page cache per connection, in KiB (negative: a size, not a page count). Each connection
/// has its own, so the sizes are set per role to keep the sum well under 200 MiB: the writer and the
/// point readers (GET, token and unique-key lookups, the hot paths) get the most; the pool for
/// scans and pages less, since a walk through a million rows fills any cache (measured: four
/// 16 MiB pool caches full after deep cursor paging); the checkpointer copies WAL frames and needs
/// almost none.
const SQLITE_CACHE_KIB: &str = "-16384";
const SQLITE_SCAN_CACHE_KIB: &str = "-8192";
const SQLITE_CHECKPOINT_CACHE_KIB: &str = "-1024";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("the store is shut down")]
    Closed,
    #[error("the resource was changed by another request; retry")]
    VersionMismatch,
    #[error("the job's lease was lost: another process took it over or marked it interrupted")]
    LeaseLost,
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Scim(#[from] scimd_schemas::ScimError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The grouped transaction a write was part of failed as a whole (see `batch`).
    #[error("database error: {0}")]
    Batch(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

enum Backend {
    /// Readers share a pool; writes go through a pool of one connection, so SQLite's single writer
    /// is a queue in the process rather than busy-wait retries.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// Small writes (creates, membership changes), committed in batches (see `batch`).
        writes: batch::WriteQueue,
        /// Indexed single-row reads on the calling thread; None for an in-memory database.
        points: Option<Arc<point_read::PointReader>>,
    },
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// Group member rows read so far, so tests and /metrics can see when members are (not) loaded.
    member_rows_read: Arc<std::sync::atomic::AtomicU64>,
}

/// Runs `$body` with `$pool` bound to the read pool of whichever backend the store uses.
macro_rules! read {
    ($store:expr, $pool:ident => $body:expr) => {
        match &*$store.backend {
            $crate::store::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the write pool of whichever backend the store uses.
macro_rules! write {
    ($store:expr, $pool:ident => $body:expr) => {
        match &*$store.backend {
            $crate::store::Backend::Sqlite { write: $pool, .. } => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}

pub(crate) use {read, write};

impl Store {
    /// Opens (and for SQLite creates) the database and applies pending migrations.
    pub async fn open(url: &DatabaseUrl) -> StoreResult<Store> {
        let raw = url.expose();
        let backend = if raw.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(raw)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("cache_size", SQLITE_CACHE_KIB)
                // A backstop only: checkpoints run in the background (see `checkpoint`).
                .pragma("wal_autocheckpoint", "65536");
            let in_memory = raw.contains(":memory:");
            let filename = options.get_filename().to_owned();
            let write = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
            if !in_memory {
                let own = options.clone().pragma("cache_size", SQLITE_CHECKPOINT_CACHE_KIB);
                let own = SqlitePoolOptions::new().max_connections(1).connect_with(own).await?;
                checkpoint::start(own, write.clone());
            }
            let read = if in_memory {
                // Each connection to :memory: is its own database: share the one connection.
                write.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .min_connections(1)
                    .connect_with(options.read_only(true).pragma("cache_size", SQLITE_SCAN_CACHE_KIB))
                    .await?
            };
            SQLITE_MIGRATIONS.run(&write).await?;
            let writes = batch::WriteQueue::start(write.clone());

            let points = (!in_memory).then(|| Arc::new(point_read::PointReader::new(filename)));
            Backend::Sqlite { read, write, writes, points }
        } else if raw.starts_with("postgres:") || raw.starts_with("postgresql:") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect(raw).await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.redacted()));
        };
        Ok(Store { backend: Arc::new(backend), member_rows_read: Arc::default() })
    }

    pub fn member_rows_read(&self) -> u64 {
        self.member_rows_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn dialect(&self) -> Dialect {
        match &*self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Readiness: a round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        read!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    /// SQL written with `$1`-style placeholders, in this store's dialect.
    fn sql(&self, text: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(self.dialect().placeholders(text))
    }
}

/// Maps a unique-constraint violation to `Conflict` with a message saying what clashed.
fn conflict_or(err: sqlx::Error, message: impl FnOnce(&str) -> String) -> StoreError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => {
            let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
            StoreError::Conflict(message(&constraint))
        }
        _ => StoreError::Database(err),
    }
}
