//! CSV bulk registration jobs: an upload is checked as a whole before it is queued (file errors
//! 2700–2711 reject it and nothing changes), then runs through the engine like any connector.

use std::path::Path;

use scimd_connectors::csv::{CsvSource, inspect};
use scimd_connectors::{Connector, ConnectorError};

use super::{JobError, Jobs, discard_dir, job_dir, original_file};
use crate::store::{JobRow, NewJob};

/// The lock every CSV sync of a tenant takes: one at a time.
pub const LOCK_KEY: &str = "csv";

/// Who asked for a job, for its history.
pub struct Actor<'a> {
    pub trigger: &'a str,
    pub token_id: Option<&'a str>,
    pub name: Option<&'a str>,
}

pub struct CsvRequest<'a> {
    pub tenant_id: &'a str,
    pub file_name: &'a str,
    pub missing: &'a str,
    pub dry_run: bool,
    pub actor: Actor<'a>,
}

pub fn check_missing_policy(missing: &str) -> Result<(), JobError> {
    match missing {
        "deactivate" | "keep" => Ok(()),
        other => Err(JobError::new(
            400,
            0,
            "INVALID_PARAMETER",
            format!("missing={other:?} is not a policy; use missing=deactivate or missing=keep"),
        )),
    }
}

/// `2711` unless the name ends in `.csv`.
pub fn check_file_name(name: &str) -> Result<(), JobError> {
    if name.to_ascii_lowercase().ends_with(".csv") && name.len() > 4 {
        Ok(())
    } else {
        Err(JobError::new(
            400,
            2711,
            "CSV_FILE_INVALID_TYPE",
            format!("{name:?} is not a .csv file; save it as CSV (UTF-8) and upload it again"),
        ))
    }
}

/// Refuses early (before an upload is stored) when a CSV sync already holds the tenant's lock.
pub async fn check_lock(jobs: &Jobs, tenant_id: &str) -> Result<(), JobError> {
    match jobs.store.lock_holder(tenant_id, LOCK_KEY).await {
        Ok(Some(holder)) => Err(JobError::lock_held(&if holder.status == "running" {
            crate::store::LockHeld::Running(holder.id)
        } else {
            crate::store::LockHeld::Requested(holder.id)
        })),
        Ok(None) => Ok(()),
        Err(e) => Err(system_error(e)),
    }
}

fn system_error(e: impl std::fmt::Display) -> JobError {
    tracing::error!(error = %e, "CSV sync could not be queued");
    JobError::new(500, 2708, "CSV_FILE_SAVE_FAILED", "the upload could not be stored; try again later")
}

/// A new job id and the folder its upload goes to.
pub fn new_upload(jobs: &Jobs) -> Result<(String, std::path::PathBuf), JobError> {
    let id = uuid::Uuid::now_v7().to_string();
    let path = original_file(&jobs.config, &id);
    std::fs::create_dir_all(job_dir(&jobs.config, &id)).map_err(system_error)?;
    Ok((id, path))
}

/// Queues the CSV sync of an upload stored at `original_file(id)`: checks the whole file, then
/// takes the lock. On any error the upload is removed and nothing else changes.
pub async fn queue(jobs: &Jobs, id: &str, request: &CsvRequest<'_>) -> Result<JobRow, JobError> {
    let dir = job_dir(&jobs.config, id);
    let result = queue_stored(jobs, id, request).await;
    if result.is_err() {
        discard_dir(&dir);
    }
    result
}

async fn queue_stored(jobs: &Jobs, id: &str, request: &CsvRequest<'_>) -> Result<JobRow, JobError> {
    check_file_name(request.file_name)?;
    check_missing_policy(request.missing)?;
    let path = original_file(&jobs.config, id);
    let summary = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || inspect(&path)).await.map_err(system_error)?
    };
    let summary = summary.map_err(file_error)?;
    let connector = jobs.store.ensure_connector(request.tenant_id, "csv", "csv").await.map_err(system_error)?;
    let job = NewJob {
        id,
        tenant_id: request.tenant_id,
        kind: "csv_sync",
        connector_id: &connector.id,
        lock_key: LOCK_KEY,
        trigger: request.actor.trigger,
        actor_token: request.actor.token_id,
        actor_name: request.actor.name,
        dry_run: request.dry_run,
        full_run: true,
        missing_policy: request.missing,
        file_name: Some(request.file_name),
        total: Some(summary.rows as i64),
        scheduled_for: None,
        retry_of: None,
        attempt: 1,
        not_before: None,
    };
    match jobs.store.queue_job(&job).await.map_err(system_error)? {
        Ok(job) => {
            jobs.queued.notify_one();
            Ok(job)
        }
        Err(held) => Err(JobError::lock_held(&held)),
    }
}

/// A file-level error of the connector as the documented code.
pub fn file_error(e: ConnectorError) -> JobError {
    match e {
        ConnectorError::File { code, name, message } => JobError::new(400, code, name, message),
        other => system_error(other),
    }
}

/// The connector reading a stored upload.
pub fn open_source(path: &Path) -> Result<Box<dyn Connector>, JobError> {
    if !path.exists() {
        return Err(JobError::new(404, 2709, "CSV_FILE_NOT_FOUND", "the uploaded file is gone; upload it again"));
    }
    Ok(Box::new(CsvSource::new(path.to_path_buf())))
}
