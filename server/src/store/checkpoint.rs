//! Background WAL checkpoints for SQLite. Left to itself, SQLite checkpoints inside the commit that
//! crosses the WAL size limit: that commit (and, with group commit, every request in its batch)
//! waits while pages are copied into the database and synced. Measured at 1M users, that was the
//! p99 of POST. Checkpointing from a connection of its own, a PASSIVE checkpoint every second, moves
//! that work off the write path; the writer's own auto-checkpoint stays as a backstop far above it.

use std::time::Duration;

use sqlx::SqlitePool;

const EVERY: Duration = Duration::from_secs(1);

/// Checkpoints through `own` (a pool of one connection) until the store's `writer` pool closes.
pub fn start(own: SqlitePool, writer: SqlitePool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !writer.is_closed() {
            tick.tick().await;
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&own).await
                && !writer.is_closed()
            {
                tracing::warn!(error = %err, "background WAL checkpoint failed; SQLite's own checkpoints still run");
            }
        }
        own.close().await;
    });
}
