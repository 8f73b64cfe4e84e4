//! Group commit for SQLite inserts. SQLite has one writer, and each commit writes every page it
//! touched (table and index leaves) to the WAL; concurrent creates therefore queue here and are
//! written together, one transaction per batch, so a page shared by a batch is written once.
//! PostgreSQL needs none of this: it commits concurrent transactions in parallel and groups WAL
//! flushes itself.

use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
use rusqlite::{Connection, params_from_iter};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::params::Param;
use super::writer_handle::with_writer;
use super::{StoreError, StoreResult};

/// The most inserts one transaction takes, so one batch's latency stays bounded.
const MAX_BATCH: usize = 256;

/// What became of one INSERT.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    Yes,
    /// A unique constraint refused the row; the message names the constraint.
    Conflict(String),
}

/// One INSERT and who waits for its outcome; the outcome is sent only after COMMIT.
pub struct Insert {
    pub sql: String,
    pub params: Vec<Param>,
    pub done: oneshot::Sender<StoreResult<Inserted>>,
}

#[derive(Clone)]
pub struct InsertQueue(mpsc::Sender<Insert>);

impl InsertQueue {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub fn start(pool: SqlitePool) -> InsertQueue {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, rx));
        InsertQueue(tx)
    }

    /// Runs one INSERT in the next batch; `Err` if the batch as a whole failed.
    pub async fn insert(&self, sql: String, params: Vec<Param>) -> StoreResult<Inserted> {
        let (done, outcome) = oneshot::channel();
        self.0.send(Insert { sql, params, done }).await.map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Insert>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match with_writer(&pool, |db| write(db, &batch)).await {
            Ok(outcomes) => {
                for (insert, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = insert.done.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, inserts = batch.len(), "a batch of inserts failed; none was written");
                let message = err.to_string();
                for insert in batch.drain(..) {
                    let _ = insert.done.send(Err(StoreError::Batch(message.clone())));
                }
            }
        }
    }
}

/// Runs the batch in one transaction, on this thread. A statement that fails on a unique
/// constraint is undone alone: SQLite aborts the statement, not the transaction.
fn write(db: &Connection, batch: &[Insert]) -> StoreResult<Vec<Inserted>> {
    let tx = db.unchecked_transaction()?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for insert in batch {
        let outcome = tx.prepare_cached(&insert.sql)?.execute(params_from_iter(&insert.params));
        outcomes.push(match outcome {
            Ok(_) => Inserted::Yes,
            Err(rusqlite::Error::SqliteFailure(failure, message))
                if matches!(failure.extended_code, SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY) =>
            {
                Inserted::Conflict(message.unwrap_or_else(|| failure.to_string()))
            }
            Err(err) => return Err(err.into()),
        });
    }
    tx.commit()?;
    Ok(outcomes)
}
