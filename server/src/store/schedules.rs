//! Connector schedules as rows (DESIGN.md §4). Every replica's scheduler claims due schedules in
//! one transaction per claim: the rows are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! replicas never wait for each other; SQLite has a single writer), `next_run` moves past now, and
//! the run is queued, or recorded as skipped when another run of the connector holds its lock.
//! A due time missed while no replica ran is one run: `next_run` is the next time after now, not
//! after the missed one.

use super::jobs::{INSERT_JOB, bind_job, lock_held_by};
use super::tenants::now;
use super::{Dialect, JobRow, NewJob, Store, StoreResult, write};
use crate::store::LockHeld;

/// Schedules claimed per transaction; more wait for the next round.
const CLAIM_LIMIT: i64 = 50;

/// A schedule claimed as due.
#[derive(Debug, Clone, sqlx::FromRow)]
struct DueSchedule {
    connector_id: String,
    tenant_id: String,
    cron: String,
    next_run: String,
    missing_policy: String,
    /// Whether the connector has a cursor (else its run is full).
    has_cursor: bool,
}

/// What became of a due schedule.
#[derive(Debug, Clone)]
pub enum ScheduledRun {
    Queued(JobRow),
    /// Another run held the connector's lock: the `skipped` job that records it.
    Skipped {
        job: JobRow,
        held: LockHeld,
    },
}

impl Store {
    /// Claims the due schedules of enabled connectors: each gets its next due time from `next`
    /// (the cron expression's first time after now; None: no further run) and one job, queued or
    /// skipped, in the same transaction. `lock_key` names a connector's lock.
    pub async fn claim_due_schedules(
        &self,
        next: &(dyn Fn(&str) -> Option<String> + Sync),
        lock_key: fn(&str) -> String,
    ) -> StoreResult<Vec<ScheduledRun>> {
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE OF s SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let due = self.sql(&format!(
            "SELECT s.connector_id, s.tenant_id, s.cron, s.next_run, c.missing_policy, c.cursor IS NOT NULL AS has_cursor \
             FROM connector_schedules s JOIN connectors c ON c.id = s.connector_id \
             WHERE c.enabled = TRUE AND s.next_run <= $1 ORDER BY s.next_run LIMIT {CLAIM_LIMIT}{lock}"
        ));
        let d = self.dialect();
        let advance =
            d.placeholders("UPDATE connector_schedules SET next_run = $3 WHERE connector_id = $1 AND next_run = $2");
        let insert = d.placeholders(INSERT_JOB);
        let none: Option<&str> = None;
        // (job id, skipped) of each claimed schedule.
        let claimed: Vec<(String, bool)> = write!(self, pool => {
            let mut tx = pool.begin().await?;
            let schedules: Vec<DueSchedule> = sqlx::query_as(due).bind(now()).fetch_all(&mut *tx).await?;
            let mut claimed = Vec::new();
            for schedule in &schedules {
                // A schedule with no further occurrence is parked far in the future.
                let next_run = next(&schedule.cron).unwrap_or_else(|| NEVER.to_owned());
                let advanced = sqlx::query(sqlx::AssertSqlSafe(advance.clone())).bind(&schedule.connector_id).bind(&schedule.next_run)
                    .bind(&next_run).execute(&mut *tx).await?.rows_affected();
                if advanced == 0 {
                    continue;
                }
                let job = OwnedJob::due(schedule, lock_key(&schedule.connector_id));
                let queued = bind_job!(sqlx::AssertSqlSafe(insert.clone()), &job.as_new(), "pending", none, none)
                    .execute(&mut *tx).await?.rows_affected();
                if queued == 0 {
                    bind_job!(sqlx::AssertSqlSafe(insert.clone()), &job.as_new(), "skipped", Some(SKIPPED), Some(now()))
                        .execute(&mut *tx).await?;
                }
                claimed.push((job.id, queued == 0));
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(claimed)
        })?;
        let mut runs = Vec::with_capacity(claimed.len());
        for (id, skipped) in claimed {
            let Some(job) = self.job_by_id(&id).await? else { continue };
            runs.push(if skipped {
                let holder = self.lock_holder(&job.tenant_id, &job.lock_key).await?;
                ScheduledRun::Skipped { job, held: lock_held_by(holder) }
            } else {
                ScheduledRun::Queued(job)
            });
        }
        Ok(runs)
    }
}

/// The due time of a schedule whose cron expression has no further occurrence.
const NEVER: &str = "9999-12-31T00:00:00.000000Z";
const SKIPPED: &str = "skipped: another run of this connector held its lock when this run was due";

/// The job of a due schedule.
#[derive(Debug, Clone)]
struct OwnedJob {
    id: String,
    tenant_id: String,
    connector_id: String,
    lock_key: String,
    full_run: bool,
    missing_policy: String,
    scheduled_for: String,
}

impl OwnedJob {
    fn due(schedule: &DueSchedule, lock_key: String) -> Self {
        OwnedJob {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: schedule.tenant_id.clone(),
            connector_id: schedule.connector_id.clone(),
            lock_key,
            full_run: !schedule.has_cursor,
            missing_policy: schedule.missing_policy.clone(),
            scheduled_for: schedule.next_run.clone(),
        }
    }

    fn as_new(&self) -> NewJob<'_> {
        NewJob {
            actor_name: Some("scheduler"),
            scheduled_for: Some(&self.scheduled_for),
            ..NewJob::connector_run(
                &self.id,
                &self.tenant_id,
                &self.connector_id,
                &self.lock_key,
                "schedule",
                &self.missing_policy,
                self.full_run,
            )
        }
    }
}
