//! The job worker of a `scimd serve` process: claims queued jobs (each exactly once, however many
//! replicas run) and marks jobs whose process died `interrupted`, releasing their locks.

use std::time::Duration;

use super::{Jobs, run_claimed};

/// How often the worker looks for work it was not told about (jobs queued by the CLI or by
/// another replica, expired leases).
const POLL: Duration = Duration::from_secs(2);

/// Runs until the process stops.
pub async fn run(jobs: Jobs) {
    let owner = format!("scimd-{}", uuid::Uuid::new_v4());
    loop {
        match jobs.store.interrupt_expired_jobs().await {
            Ok(interrupted) => {
                for job in interrupted {
                    tracing::warn!(job = %job.id, kind = %job.kind, "job interrupted: its process stopped renewing the lease");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not check for abandoned jobs"),
        }
        loop {
            match jobs.store.claim_job(None, &owner, jobs.config.sync.lease_seconds).await {
                Ok(Some(job)) => {
                    let (jobs, owner) = (jobs.clone(), owner.clone());
                    tokio::spawn(async move {
                        tracing::info!(job = %job.id, kind = %job.kind, "job started");
                        let done = run_claimed(&jobs.store, &jobs.registry, &jobs.config, job, &owner).await;
                        tracing::info!(job = %done.id, status = %done.status, processed = done.processed, "job ended");
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a job");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(POLL, jobs.queued.notified()).await;
    }
}
