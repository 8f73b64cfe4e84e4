//! Group commit for SQLite inserts. SQLite has one writer, and each commit writes every page it
//! touched (table and index leaves) to the WAL; concurrent creates therefore queue here and are
//! written together, one transaction per batch, so a page shared by a batch is written once.
//! PostgreSQL needs none of this: it commits concurrent transactions in parallel and groups WAL
//! flushes itself.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::params::{Param, bind};
use super::{StoreError, StoreResult};

/// The most inserts one transaction takes, so one batch's latency stays bounded.
const MAX_BATCH: usize = 256;

/// One INSERT and who waits for its outcome; the outcome is sent only after COMMIT.
pub struct Insert {
    pub sql: String,
    pub params: Vec<Param>,
    pub done: oneshot::Sender<Result<(), sqlx::Error>>,
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

    /// Runs one INSERT in the next batch; `Err` carries the statement's own error (e.g. a unique
    /// violation), or the batch's if the batch as a whole failed.
    pub async fn insert(&self, sql: String, params: Vec<Param>) -> StoreResult<Result<(), sqlx::Error>> {
        let (done, outcome) = oneshot::channel();
        self.0.send(Insert { sql, params, done }).await.map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Insert>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write(&pool, &batch).await {
            Ok(outcomes) => {
                for (insert, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = insert.done.send(outcome);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, inserts = batch.len(), "a batch of inserts failed; none was written");
                for insert in batch.drain(..) {
                    let _ = insert.done.send(Err(sqlx::Error::Protocol(format!("batch failed: {err}"))));
                }
            }
        }
    }
}

/// Runs the batch in one transaction. A statement that fails (a unique violation) is undone alone:
/// SQLite aborts the statement, not the transaction.
async fn write(pool: &SqlitePool, batch: &[Insert]) -> Result<Vec<Result<(), sqlx::Error>>, sqlx::Error> {
    if let [single] = batch {
        // Nothing to share a transaction with: one statement commits on its own.
        let outcome = bind!(sqlx::query(sqlx::AssertSqlSafe(single.sql.clone())), &single.params).execute(pool).await;
        return Ok(vec![outcome.map(|_| ())]);
    }
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for insert in batch {
        let query = bind!(sqlx::query(sqlx::AssertSqlSafe(insert.sql.clone())), &insert.params);
        let outcome = query.execute(&mut *tx).await.map(|_| ());
        if let Err(err) = &outcome
            && !err.as_database_error().is_some_and(|db| db.is_unique_violation())
        {
            return Err(outcome.expect_err("checked"));
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}
