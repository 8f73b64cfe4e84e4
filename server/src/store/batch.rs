//! Group commit for small SQLite writes (creates, membership changes). SQLite has one writer, and
//! each commit writes every page it touched (table and index leaves) to the WAL; concurrent writes
//! therefore queue here and run together, one transaction per batch, so a page shared by a batch is
//! written once. Each write runs in a savepoint of its own: one that fails (a unique violation, a
//! missing group) is undone alone, and every waiter hears of its write only after COMMIT. The
//! writes' audit events are appended together before that COMMIT (`BatchAudit`).
//! PostgreSQL needs none of this: it commits concurrent transactions in parallel and groups WAL
//! flushes itself.

use rusqlite::Connection;
use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::audit::BatchAudit;
use super::writer_handle::with_writer;
use super::{StoreError, StoreResult};

/// The most writes one transaction takes, so one batch's latency stays bounded.
const MAX_BATCH: usize = 256;

/// Runs one write inside the batch's transaction; evaluates to what hands its outcome to its waiter
/// once the batch's fate is known (`Some(error)`: the batch failed as a whole).
type Job = Box<dyn FnOnce(&Connection, &mut BatchAudit) -> (bool, Deliver) + Send>;
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

#[derive(Clone)]
pub struct WriteQueue(mpsc::Sender<Job>);

impl WriteQueue {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub fn start(pool: SqlitePool) -> WriteQueue {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, rx));
        WriteQueue(tx)
    }

    /// Runs `work` in the next batch and evaluates to its outcome once the batch has committed. An
    /// `Err` from `work` undoes its own changes and audit events only.
    pub async fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection, &mut BatchAudit) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (done, outcome) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |db, audit| {
            let result = work(db, audit);
            let keep = result.is_ok();
            let deliver: Deliver = Box::new(move |batch_error| {
                let _ = done.send(match batch_error {
                    Some(error) => Err(StoreError::Batch(error.to_owned())),
                    None => result,
                });
            });
            (keep, deliver)
        });
        self.0.send(job).await.map_err(|_| StoreError::Closed)?;
        outcome.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = batch.len();
        let mut delivers = Vec::with_capacity(jobs);
        let outcome = with_writer(&pool, |db| write(db, batch.drain(..), &mut delivers)).await;
        let error = outcome.err().map(|err| {
            tracing::error!(error = %err, writes = jobs, "a batch of writes failed; none was written");
            err.to_string()
        });
        for deliver in delivers {
            deliver(error.as_deref());
        }
        // Jobs a failed batch did not reach are dropped: their waiters hear `Closed`.
        batch.clear();
    }
}

fn write(db: &Connection, jobs: impl Iterator<Item = Job>, delivers: &mut Vec<Deliver>) -> StoreResult<()> {
    let tx = db.unchecked_transaction()?;
    let mut audit = BatchAudit::default();
    for job in jobs {
        tx.execute_batch("SAVEPOINT write")?;
        let mark = audit.mark();
        let (keep, deliver) = job(&tx, &mut audit);
        delivers.push(deliver);
        if !keep {
            tx.execute_batch("ROLLBACK TO write")?;
            audit.undo_to(mark);
        }
        tx.execute_batch("RELEASE write")?;
    }
    audit.append(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Whether a statement failed on a unique constraint (a taken userName or group name).
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _)
        if matches!(failure.extended_code, SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;
    use crate::store::{AuditContext, AuditEvent};

    fn event(id: &str) -> Vec<AuditEvent> {
        vec![AuditEvent::new("user.create", "User", id, json!({"userName": {"new": id}}))]
    }

    #[tokio::test]
    async fn a_write_that_fails_takes_its_audit_events_with_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let options = SqliteConnectOptions::new().filename(dir.path().join("t.db")).create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.expect("open");
        super::super::SQLITE_MIGRATIONS.run(&pool).await.expect("migrate");
        let queue = WriteQueue::start(pool.clone());
        let record = |id: &'static str, fail: bool| {
            queue.submit(move |_, audit| {
                audit.record("t".to_owned(), AuditContext::cli(None), event(id));
                if fail { Err(StoreError::NotFound) } else { Ok(()) }
            })
        };
        let (a, b, c) = tokio::join!(record("u1", false), record("u2", true), record("u3", false));
        assert!(a.is_ok() && matches!(b, Err(StoreError::NotFound)) && c.is_ok());

        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id & 1099511627775 AS seq, resource_id FROM audit_events ORDER BY id")
                .fetch_all(&pool)
                .await
                .expect("read");
        assert_eq!(rows, [(1, "u1".to_owned()), (2, "u3".to_owned())]);
        let head: (i64,) =
            sqlx::query_as("SELECT seq FROM audit_heads WHERE tenant_id = 't'").fetch_one(&pool).await.expect("head");
        assert_eq!(head, (2,));
    }
}
