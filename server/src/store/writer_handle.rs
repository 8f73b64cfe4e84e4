//! The SQLite writer's handle, borrowed from sqlx for one synchronous piece of work. sqlx runs each
//! SQLite connection on a thread of its own, so every statement crosses threads twice; measured
//! with perf, those hand-overs were most of the cost of a write of several statements, and both
//! threads sat idle in between. Borrowing the handle runs the whole transaction on the calling
//! thread instead (membership changes, grouped inserts).

use rusqlite::Connection;
use sqlx::{SqliteConnection, SqlitePool};

use super::StoreResult;

/// Runs `work` on the write pool's connection, on this thread; no other writer runs meanwhile.
pub(super) async fn with_writer<T>(
    pool: &SqlitePool,
    work: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut conn = pool.acquire().await?;
    with_handle(&mut conn, work).await
}

/// Runs `work` on `conn`'s handle, on this thread, inside whatever transaction `conn` has open.
pub(super) async fn with_handle<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: until `handle` drops, sqlx's thread makes no call on this connection; the wrapper
    // does not close the handle it borrows.
    #[expect(unsafe_code, reason = "sqlx's documented way to reach its SQLite handle (lock_handle)")]
    let db = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr()) }?;
    work(&db)
}
