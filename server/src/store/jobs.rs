//! Sync jobs as rows (DESIGN.md §4): the lock is a partial unique index, a job is
//! claimed by an UPDATE that only one writer can win, and a lease that stops being renewed (its
//! process died) turns the job `interrupted` and frees the lock.

use chrono::{Duration, Utc};

use super::tenants::now;
use super::{Store, StoreError, StoreResult, read, write};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    /// `csv_sync` or `connector_sync`.
    pub kind: String,
    pub connector_id: String,
    #[serde(skip)]
    pub lock_key: String,
    /// `api`, `cli`, `schedule` or `retry`.
    pub trigger: String,
    pub actor_token: Option<String>,
    pub actor_name: Option<String>,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`, `interrupted`, `awaiting_approval`,
    /// `rejected` or `skipped`.
    pub status: String,
    pub dry_run: bool,
    pub full_run: bool,
    pub missing_policy: String,
    pub file_name: Option<String>,
    pub total: Option<i64>,
    pub processed: i64,
    pub created_count: i64,
    pub updated_count: i64,
    pub unchanged_count: i64,
    pub deactivated_count: i64,
    pub deleted_count: i64,
    pub maintained_count: i64,
    pub not_registered_count: i64,
    pub invalid_count: i64,
    pub error: Option<String>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_expires: Option<String>,
    pub requested: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// The due time of a scheduled run (or skip).
    pub scheduled_for: Option<String>,
    /// The failed job a retry repeats.
    pub retry_of: Option<String>,
    /// 1 for a first run, n for the (n-1)th retry.
    pub attempt: i64,
    /// A retry waits until then (its backoff).
    pub not_before: Option<String>,
    pub cancel_requested: bool,
    /// `approved` or `rejected` once an admin decided on a run the guard stopped.
    pub approval: Option<String>,
    /// The cursor a run stopped by the guard ended with, stored for the connector if approved.
    #[serde(skip)]
    pub pending_cursor: Option<String>,
}

impl JobRow {
    /// Whether the job holds no lock any more (it ended, or was skipped).
    pub fn is_done(&self) -> bool {
        !matches!(self.status.as_str(), "pending" | "running" | "awaiting_approval")
    }
}

/// A job to queue.
pub struct NewJob<'a> {
    /// Chosen by the caller, so that files can be stored under it before the job is queued.
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub kind: &'a str,
    pub connector_id: &'a str,
    pub lock_key: &'a str,
    pub trigger: &'a str,
    pub actor_token: Option<&'a str>,
    pub actor_name: Option<&'a str>,
    pub dry_run: bool,
    pub full_run: bool,
    pub missing_policy: &'a str,
    pub file_name: Option<&'a str>,
    pub total: Option<i64>,
    /// The due time, for a scheduled run.
    pub scheduled_for: Option<&'a str>,
    /// The failed job, for a retry.
    pub retry_of: Option<&'a str>,
    pub attempt: i64,
    pub not_before: Option<&'a str>,
}

impl<'a> NewJob<'a> {
    /// A run of connector `connector_id`, started by `trigger`, with no actor, not a dry run, first
    /// attempt, due at once; callers set what differs.
    pub fn connector_run(
        id: &'a str,
        tenant_id: &'a str,
        connector_id: &'a str,
        lock_key: &'a str,
        trigger: &'a str,
        missing_policy: &'a str,
        full_run: bool,
    ) -> Self {
        NewJob {
            id,
            tenant_id,
            kind: "connector_sync",
            connector_id,
            lock_key,
            trigger,
            actor_token: None,
            actor_name: None,
            dry_run: false,
            full_run,
            missing_policy,
            file_name: None,
            total: None,
            scheduled_for: None,
            retry_of: None,
            attempt: 1,
            not_before: None,
        }
    }
}

/// Why a job could not be queued: its lock is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockHeld {
    /// Another job holding the lock is still waiting to start (or won the race to queue).
    Requested(String),
    /// Another job holding the lock is running.
    Running(String),
}

/// Filters of the job list.
#[derive(Debug, Default)]
pub struct JobFilter<'a> {
    pub connector_id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub status: Option<&'a str>,
    /// `requested` at or after (RFC 3339).
    pub since: Option<&'a str>,
    /// `requested` before (RFC 3339).
    pub until: Option<&'a str>,
}

const JOB_COLUMNS: &str = "id, tenant_id, kind, connector_id, lock_key, trigger, actor_token, actor_name, status, \
     dry_run, full_run, missing_policy, file_name, total, processed, created_count, updated_count, unchanged_count, \
     deactivated_count, deleted_count, maintained_count, not_registered_count, invalid_count, error, lease_owner, \
     lease_expires, requested, started, finished, scheduled_for, retry_of, attempt, not_before, cancel_requested, \
     approval, pending_cursor";

/// Inserts a `NewJob` with the given status (binds `$1`…`$19`); a clash with the lock or with
/// the due time's job inserts nothing.
pub(super) const INSERT_JOB: &str = "INSERT INTO sync_jobs (id, tenant_id, kind, connector_id, lock_key, trigger, actor_token, \
     actor_name, status, dry_run, full_run, missing_policy, file_name, total, requested, scheduled_for, retry_of, \
     attempt, not_before, error, finished) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
     ON CONFLICT DO NOTHING";

/// Binds a `NewJob` to `INSERT_JOB` with its status, error and end time.
macro_rules! bind_job {
    ($sql:expr, $job:expr, $status:expr, $error:expr, $finished:expr) => {{
        let job = $job;
        sqlx::query($sql)
            .bind(job.id)
            .bind(job.tenant_id)
            .bind(job.kind)
            .bind(job.connector_id)
            .bind(job.lock_key)
            .bind(job.trigger)
            .bind(job.actor_token)
            .bind(job.actor_name)
            .bind($status)
            .bind(job.dry_run)
            .bind(job.full_run)
            .bind(job.missing_policy)
            .bind(job.file_name)
            .bind(job.total)
            .bind(now())
            .bind(job.scheduled_for)
            .bind(job.retry_of)
            .bind(job.attempt)
            .bind(job.not_before)
            .bind($error)
            .bind($finished)
    }};
}
pub(super) use bind_job;

/// What asking a job to stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// It had not started: it is `cancelled` now.
    Now,
    /// It is running: it stops after its current batch.
    AfterBatch,
    /// It had already ended (or waits for approval: reject it instead).
    NotActive,
}

/// Who holds a lock a job could not take. The holder may already have finished: the request still
/// lost the race.
pub(super) fn lock_held_by(holder: Option<JobRow>) -> LockHeld {
    match holder {
        Some(holder) if holder.status == "running" => LockHeld::Running(holder.id),
        holder => LockHeld::Requested(holder.map(|h| h.id).unwrap_or_default()),
    }
}

/// A pending job whose backoff (if any) is over; `$3` is now.
const READY: &str = "status = 'pending' AND (not_before IS NULL OR not_before <= $3)";

/// When a lease taken now for `lease_seconds` runs out, in the format of `now()`.
pub fn lease_until(lease_seconds: u64) -> String {
    (Utc::now() + Duration::seconds(lease_seconds as i64)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// The job holding `lock_key` in the tenant, if any.
    pub async fn lock_holder(&self, tenant: &str, lock_key: &str) -> StoreResult<Option<JobRow>> {
        let sql = self.sql(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE tenant_id = $1 AND lock_key = $2 AND status IN ('pending', 'running')"
        ));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(lock_key).fetch_optional(pool).await)?)
    }

    /// Queues a job as `pending`, or says who holds its lock. The unique index decides races:
    /// of two requests at once exactly one row goes in.
    pub async fn queue_job(&self, job: &NewJob<'_>) -> StoreResult<Result<JobRow, LockHeld>> {
        let sql = self.sql(INSERT_JOB);
        let none: Option<&str> = None;
        let inserted = write!(self, pool => bind_job!(sql, job, "pending", none, none).execute(pool).await.map(|r| r.rows_affected()))?;
        if inserted == 1 {
            return Ok(Ok(self.job(job.tenant_id, job.id).await?.ok_or(StoreError::NotFound)?));
        }
        let holder = self.lock_holder(job.tenant_id, job.lock_key).await?;
        Ok(Err(lock_held_by(holder)))
    }

    /// A job by id alone, for the scheduler and the worker (which act for every tenant).
    pub async fn job_by_id(&self, id: &str) -> StoreResult<Option<JobRow>> {
        let sql = self.sql(&format!("SELECT {JOB_COLUMNS} FROM sync_jobs WHERE id = $1"));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
    }

    pub async fn job(&self, tenant: &str, id: &str) -> StoreResult<Option<JobRow>> {
        let sql = self.sql(&format!("SELECT {JOB_COLUMNS} FROM sync_jobs WHERE tenant_id = $1 AND id = $2"));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(id).fetch_optional(pool).await)?)
    }

    /// A page of the tenant's jobs, newest first, and how many match.
    pub async fn list_jobs(
        &self,
        tenant: &str,
        filter: &JobFilter<'_>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(u64, Vec<JobRow>)> {
        let mut condition = String::from("tenant_id = $1");
        let mut params = vec![tenant.to_owned()];
        for (column, op, value) in [
            ("connector_id", "=", filter.connector_id),
            ("kind", "=", filter.kind),
            ("status", "=", filter.status),
            ("requested", ">=", filter.since),
            ("requested", "<", filter.until),
        ] {
            if let Some(value) = value {
                params.push(value.to_owned());
                condition.push_str(&format!(" AND {column} {op} ${}", params.len()));
            }
        }
        let count = self.sql(&format!("SELECT COUNT(*) FROM sync_jobs WHERE {condition}"));
        let page = self.sql(&format!(
            "SELECT {JOB_COLUMNS} FROM sync_jobs WHERE {condition} ORDER BY requested DESC, id DESC LIMIT {limit} OFFSET {offset}"
        ));
        read!(self, pool => {
            let mut count = sqlx::query_as::<_, (i64,)>(count);
            let mut page = sqlx::query_as::<_, JobRow>(page);
            for param in &params {
                count = count.bind(param.clone());
                page = page.bind(param.clone());
            }
            let (total,) = count.fetch_one(pool).await?;
            Ok((total.max(0) as u64, page.fetch_all(pool).await?))
        })
    }

    /// Claims a pending job for `owner`: the given one, or else the oldest. Only one claimer wins.
    pub async fn claim_job(&self, id: Option<&str>, owner: &str, lease_seconds: u64) -> StoreResult<Option<JobRow>> {
        let pick = match (id, self.dialect()) {
            (Some(_), _) => "$4".to_owned(),
            (None, super::Dialect::Sqlite) => {
                format!("(SELECT id FROM sync_jobs WHERE {READY} ORDER BY requested LIMIT 1)")
            }
            (None, super::Dialect::Postgres) => {
                format!("(SELECT id FROM sync_jobs WHERE {READY} ORDER BY requested LIMIT 1 FOR UPDATE SKIP LOCKED)")
            }
        };
        let sql = self.sql(&format!(
            "UPDATE sync_jobs SET status = 'running', lease_owner = $1, lease_expires = $2, started = $3 \
             WHERE id = {pick} AND {READY} RETURNING {JOB_COLUMNS}"
        ));
        let until = lease_until(lease_seconds);
        Ok(write!(self, pool => {
            let mut query = sqlx::query_as::<_, JobRow>(sql).bind(owner).bind(&until).bind(now());
            if let Some(id) = id {
                query = query.bind(id);
            }
            query.fetch_optional(pool).await
        })?)
    }

    /// Extends a running job's lease; false if `owner` no longer holds the job.
    pub async fn renew_lease(&self, job_id: &str, owner: &str, lease_seconds: u64) -> StoreResult<bool> {
        let sql = self
            .sql("UPDATE sync_jobs SET lease_expires = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'");
        let until = lease_until(lease_seconds);
        let updated = write!(self, pool => sqlx::query(sql).bind(job_id).bind(owner).bind(&until).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Records that a run queued as incremental read everything (its source could not continue
    /// from the cursor), so its history says full run.
    pub async fn mark_full_run(&self, job_id: &str) -> StoreResult<()> {
        let sql = self.sql("UPDATE sync_jobs SET full_run = $2 WHERE id = $1");
        write!(self, pool => sqlx::query(sql).bind(job_id).bind(true).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Ends a running job with its final status; false if `owner` no longer held it.
    pub async fn finish_job(&self, job_id: &str, owner: &str, status: &str, error: Option<&str>) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE sync_jobs SET status = $3, error = $4, finished = $5, lease_owner = NULL, lease_expires = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        );
        let updated = write!(self, pool => sqlx::query(sql).bind(job_id).bind(owner).bind(status).bind(error)
            .bind(now()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Fails a job that never started (its file could not be read): frees the lock.
    pub async fn fail_pending_job(&self, job_id: &str, error: &str) -> StoreResult<()> {
        let sql = self.sql(
            "UPDATE sync_jobs SET status = 'failed', error = $2, finished = $3 WHERE id = $1 AND status = 'pending'",
        );
        write!(self, pool => sqlx::query(sql).bind(job_id).bind(error).bind(now()).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Marks running jobs whose lease has expired `interrupted`, releasing their locks. Returns them.
    pub async fn interrupt_expired_jobs(&self) -> StoreResult<Vec<JobRow>> {
        let sql = self.sql(&format!(
            "UPDATE sync_jobs SET status = 'interrupted', finished = $1, lease_owner = NULL, lease_expires = NULL, \
             error = 'the process running the job stopped (lease expired); run it again to converge' \
             WHERE status = 'running' AND lease_expires < $1 RETURNING {JOB_COLUMNS}"
        ));
        Ok(write!(self, pool => sqlx::query_as(sql).bind(now()).fetch_all(pool).await)?)
    }

    /// Asks a job to stop: a pending one is cancelled at once, a running one after its batch.
    pub async fn cancel_job(&self, tenant: &str, id: &str) -> StoreResult<Cancelled> {
        let pending = self.sql(
            "UPDATE sync_jobs SET status = 'cancelled', finished = $3, error = 'cancelled before it started' \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        );
        let running = self.sql(
            "UPDATE sync_jobs SET cancel_requested = TRUE WHERE tenant_id = $1 AND id = $2 AND status = 'running'",
        );
        write!(self, pool => {
            if sqlx::query(pending).bind(tenant).bind(id).bind(now()).execute(pool).await?.rows_affected() == 1 {
                return Ok(Cancelled::Now);
            }
            let requested = sqlx::query(running).bind(tenant).bind(id).execute(pool).await?.rows_affected();
            Ok(if requested == 1 { Cancelled::AfterBatch } else { Cancelled::NotActive })
        })
    }

    /// Whether someone asked the job to stop.
    pub async fn cancel_requested(&self, job_id: &str) -> StoreResult<bool> {
        let sql = self.sql("SELECT cancel_requested FROM sync_jobs WHERE id = $1");
        let requested: Option<(bool,)> =
            read!(self, pool => sqlx::query_as(sql).bind(job_id).fetch_optional(pool).await)?;
        Ok(requested.is_some_and(|(requested,)| requested))
    }

    /// Ends a running job stopped by the mass-deprovision guard: it keeps the connector's lock
    /// until an admin decides, with the cursor the run ended with.
    pub async fn hold_job(&self, job_id: &str, owner: &str, cursor: Option<&str>) -> StoreResult<bool> {
        let sql = self.sql(
            "UPDATE sync_jobs SET status = 'awaiting_approval', pending_cursor = $3, finished = $4, lease_owner = NULL, \
             lease_expires = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        );
        let updated = write!(self, pool => sqlx::query(sql).bind(job_id).bind(owner).bind(cursor).bind(now())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// An admin's decision on a job awaiting approval: approved, it is queued again to apply the
    /// held list; rejected, it ends applying nothing. False if the job was not awaiting approval.
    pub async fn decide_job(&self, tenant: &str, id: &str, approve: bool) -> StoreResult<bool> {
        let sql = self.sql(if approve {
            "UPDATE sync_jobs SET status = 'pending', approval = 'approved', finished = NULL, cancel_requested = FALSE \
             WHERE tenant_id = $1 AND id = $2 AND status = 'awaiting_approval'"
        } else {
            "UPDATE sync_jobs SET status = 'rejected', approval = 'rejected', finished = $3 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'awaiting_approval'"
        });
        let updated = write!(self, pool => sqlx::query(sql).bind(tenant).bind(id).bind(now())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }
}
