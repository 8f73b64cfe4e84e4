//! Sync jobs: queueing them (with their lock), running them through the engine, and the worker
//! that every `scimd serve` runs to claim queued jobs and interrupt abandoned ones.

pub mod connector;
pub mod csv;
pub mod engine;
mod groups;
mod plan;
mod references;
pub mod report;
mod retry;
pub mod schedule;
pub mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use scimd_schemas::schema::{Registry, ResourceKind};

use crate::config::Config;
use crate::store::{AuditContext, ConnectorRow, JobRow, MissingScope, Store};
use engine::{Ended, EngineError, Guard, Run};
use plan::Writer;
use scimd_connectors::Connector;

/// An error of the documented job and CSV interface (DESIGN.md §7): `{code, name, message}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {name}: {message}")]
pub struct JobError {
    /// The HTTP status the admin API answers with.
    pub status: u16,
    pub code: u16,
    pub name: &'static str,
    pub message: String,
}

impl JobError {
    pub fn new(status: u16, code: u16, name: &'static str, message: impl Into<String>) -> Self {
        JobError { status, code, name, message: message.into() }
    }

    pub fn not_found(id: &str) -> Self {
        JobError::new(
            404,
            2712,
            "SYNC_JOB_NOT_FOUND",
            format!("no job {id:?} in this tenant; list jobs with GET /admin/v1/jobs"),
        )
    }

    pub fn bad_id(id: &str) -> Self {
        JobError::new(
            400,
            2713,
            "SYNC_JOB_ID_FORMAT_INVALID",
            format!("{id:?} is not a job id (a UUID such as 0192f0c4-…)"),
        )
    }

    pub fn lock_held(held: &crate::store::LockHeld) -> Self {
        match held {
            crate::store::LockHeld::Running(id) => JobError::new(
                409,
                2715,
                "SYNC_JOB_ALREADY_RUNNING",
                format!("job {id} is running for this tenant; wait until it completes (GET /admin/v1/jobs/{id})"),
            ),
            crate::store::LockHeld::Requested(id) => JobError::new(
                409,
                2714,
                "SYNC_JOB_ALREADY_REQUESTED",
                format!("another request queued job {id} first; wait until it completes"),
            ),
        }
    }
}

/// Where a job's files live.
pub fn job_dir(config: &Config, job_id: &str) -> PathBuf {
    config.sync.files_dir.join(job_id)
}

pub fn original_file(config: &Config, job_id: &str) -> PathBuf {
    job_dir(config, job_id).join("original.csv")
}

/// Checks the text of a job id; `Err` is the documented 2713.
pub fn parse_job_id(id: &str) -> Result<(), JobError> {
    uuid::Uuid::parse_str(id).map(|_| ()).map_err(|_| JobError::bad_id(id))
}

/// Runs a job this process has claimed, renewing its lease meanwhile, and records how it ended.
pub async fn run_claimed(store: &Store, registry: &Registry, config: &Config, job: JobRow, owner: &str) -> JobRow {
    run_claimed_from(store, registry, config, job, owner, None).await
}

/// `run_claimed`, reading `source` instead of the connector's configured source when given
/// (tests drive the engine with sources of their own this way).
pub async fn run_claimed_from(
    store: &Store,
    registry: &Registry,
    config: &Config,
    job: JobRow,
    owner: &str,
    source: Option<Box<dyn Connector>>,
) -> JobRow {
    let lease = config.sync.lease_seconds;
    let renew = {
        let (store, id, owner) = (store.clone(), job.id.clone(), owner.to_owned());
        tokio::spawn(async move {
            let period = std::time::Duration::from_secs((lease / 3).max(1));
            loop {
                tokio::time::sleep(period).await;
                match store.renew_lease(&id, &owner, lease).await {
                    Ok(true) => {}
                    // The job ended, or another replica took it over after the lease expired.
                    Ok(false) => return,
                    // A passing database error: the lease still runs for two more periods.
                    Err(e) => tracing::warn!(job = %id, error = %e, "could not renew the job's lease; trying again"),
                }
            }
        })
    };
    let result = execute(store, registry, config, &job, owner, source).await;
    renew.abort();
    let (status, error) = match result {
        Ok(Execution::Done) => match store.job(&job.tenant_id, &job.id).await {
            Ok(Some(done)) if done.not_registered_count + done.invalid_count > 0 => ("partial", None),
            _ => ("completed", None),
        },
        Ok(Execution::Held(cursor)) => {
            if let Err(e) = store.hold_job(&job.id, owner, cursor.as_deref()).await {
                tracing::error!(job = %job.id, error = %e, "could not record that the job awaits approval");
            }
            ("awaiting_approval", None)
        }
        Err(Failure::Cancelled) => ("cancelled", Some(EngineError::Cancelled.to_string())),
        Err(Failure::Failed(message)) => {
            tracing::error!(job = %job.id, error = %message, "job failed");
            ("failed", Some(message))
        }
    };
    if status != "awaiting_approval"
        && let Err(e) = store.finish_job(&job.id, owner, status, error.as_deref()).await
    {
        tracing::error!(job = %job.id, error = %e, "could not record the end of the job");
    }
    if status == "failed" {
        retry::queue_retry(store, config, &job).await;
    }
    match store.job(&job.tenant_id, &job.id).await {
        Ok(Some(done)) => done,
        _ => job,
    }
}

/// How executing a job ended, when it did not fail.
enum Execution {
    Done,
    /// Stopped by the guard, with the cursor the run ended with.
    Held(Option<String>),
}

enum Failure {
    Cancelled,
    Failed(String),
}

impl<E: ToString> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Failed(e.to_string())
    }
}

fn engine_failure(e: EngineError) -> Failure {
    match e {
        EngineError::Cancelled => Failure::Cancelled,
        other => Failure::Failed(other.to_string()),
    }
}

async fn execute(
    store: &Store,
    registry: &Registry,
    config: &Config,
    job: &JobRow,
    owner: &str,
    source: Option<Box<dyn Connector>>,
) -> Result<Execution, Failure> {
    let connector = store
        .connector_by_id(&job.tenant_id, &job.connector_id)
        .await?
        .ok_or_else(|| Failure::Failed("the job's connector was deleted".to_owned()))?;
    let managing_entity = format!("connector:{}", connector.name);
    let approved = job.approval.as_deref() == Some("approved");
    let guard = Guard {
        percent: connector.guard_percent.unwrap_or(i64::from(config.sync.guard_percent)),
        count: connector.guard_count.or(config.sync.guard_count.map(|n| n as i64)),
    };
    let audit = job_audit(job, &connector);
    let run = Run {
        store,
        audit: &audit,
        schema: registry.of(ResourceKind::User),
        group_schema: registry.of(ResourceKind::Group),
        job,
        writer: Writer {
            connector_id: &connector.id,
            managing_entity: &managing_entity,
            deactivation_reason: deactivation_reason(&connector),
        },
        lease_owner: owner,
        lease_seconds: config.sync.lease_seconds,
        batch_size: config.sync.batch_size.max(1),
        missing_scope: missing_scope(&connector, &managing_entity),
        cursor: if job.full_run { None } else { connector.cursor.as_deref() },
        guard: (!approved).then_some(guard),
    };
    let cursor = if approved {
        run.apply_approved().await.map_err(engine_failure)?;
        job.pending_cursor.clone()
    } else {
        let mut source = match source {
            Some(source) => source,
            None => connector::open_source(config, &connector, job)?,
        };
        let ended = run.execute(source.as_mut()).await.map_err(engine_failure)?;
        if ended == Ended::Held {
            return Ok(Execution::Held(source.next_cursor()));
        }
        source.next_cursor()
    };
    // Only now is everything the cursor covers committed; a failed run keeps the previous one.
    if !job.dry_run
        && let Some(cursor) = cursor
    {
        store.set_connector_cursor(&connector.id, Some(&cursor)).await?;
    }
    Ok(Execution::Done)
}

/// The audit actor of a job's writes: the token or CLI user that queued it (`system` for a
/// schedule), the job, and the source (`csv` or `connector:<name>`). Only admin tokens queue jobs
/// through the API.
fn job_audit(job: &JobRow, connector: &ConnectorRow) -> AuditContext {
    let actor = match (&job.actor_token, job.trigger.as_str()) {
        (Some(token), _) => token.clone(),
        (None, "cli") => "cli".to_owned(),
        (None, _) => "system".to_owned(),
    };
    AuditContext {
        actor,
        role: job.actor_token.as_ref().map(|_| "admin".to_owned()),
        name: job.actor_name.clone(),
        job_id: Some(job.id.clone()),
        source: if connector.kind == "csv" { "csv".to_owned() } else { format!("connector:{}", connector.name) },
        request_id: None,
    }
}

fn deactivation_reason(connector: &ConnectorRow) -> &'static str {
    if connector.kind == "csv" { "CSV_SYNC" } else { "CONNECTOR_SYNC" }
}

/// CSV deactivates the local users an admin created too (the console's "users not in the file");
/// other connectors only what they linked.
fn missing_scope<'a>(connector: &'a ConnectorRow, managing_entity: &'a str) -> MissingScope<'a> {
    if connector.kind == "csv" {
        MissingScope::ManagedOrLocal { managing_entity }
    } else {
        MissingScope::Linked { connector_id: &connector.id }
    }
}

/// Everything a job runner needs, shared by the server's worker and the CLI.
#[derive(Clone)]
pub struct Jobs {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub config: Arc<Config>,
    /// Wakes the worker when a job is queued.
    pub queued: Arc<tokio::sync::Notify>,
}

/// Removes a job's folder after a failed queueing; a leftover is only disk space, so it is logged.
pub fn discard_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a discarded upload");
    }
}
