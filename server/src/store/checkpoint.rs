//! Background WAL checkpoints for SQLite. Left to itself, SQLite checkpoints inside the commit that
//! crosses the WAL size limit: that commit (and, with group commit, every request in its batch)
//! waits while pages are copied into the database and synced. Measured at 1M users, that was the
//! p99 of POST. Checkpointing from a connection of its own, a PASSIVE checkpoint every 100 ms, moves
//! that work off the write path; the writer's own auto-checkpoint stays as a backstop far above it.
//!
//! Why so often: a checkpoint ends with an fsync, and while the file system commits it the writer's
//! own WAL writes wait (seen with strace: fsyncs of up to 30 ms on the checkpointer's thread). The
//! stall grows with the pages copied since the last checkpoint. Group PATCH p99 at 200,000 users with
//! the audit log (BENCHMARKS.md): every 5 s 170–209 ms, every 1 s 29–46 ms, every 250 ms 7.2–9.9 ms,
//! every 100 ms 7.0–8.5 ms, at the same throughput. A checkpoint with nothing new to copy returns
//! without syncing.

use std::time::Duration;

use sqlx::SqlitePool;

const EVERY: Duration = Duration::from_millis(100);

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
