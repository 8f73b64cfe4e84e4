//! Run control: cancel a job, and approve or reject a run the mass-deprovision guard stopped. The
//! users such a run would deactivate or delete are its `AWAITING_APPROVAL` outcomes
//! (`/admin/v1/jobs/{id}/result.csv`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::jobs::{job_json, load};
use super::{Admin, AdminResult};
use crate::http::AppState;
use crate::store::{Cancelled, JobRow};
use crate::sync::JobError;

fn not_active(job: &JobRow, what: &str) -> JobError {
    JobError::new(409, 0, "SYNC_JOB_NOT_ACTIVE", format!("job {} is {}; only {what}", job.id, job.status))
}

/// `POST /admin/v1/jobs/{id}/cancel`: a queued job is cancelled at once (200); a running one stops
/// after its current batch, which stays committed (202; its status becomes `cancelled`).
#[utoipa::path(
    post,
    path = "/admin/v1/jobs/{id}/cancel",
    operation_id = "cancelJob",
    tag = "jobs",
    summary = "Cancel a job",
    description = "A pending job is cancelled at once; a running one stops after its current batch, \
        which stays committed, and then becomes `cancelled`.",
    params(("id" = String, Path, format = Uuid, description = "The job id")),
    responses(
        (status = 200, description = "Cancelled at once", body = ref("#/components/schemas/Job")),
        (status = 202, description = "Stops after the current batch", body = ref("#/components/schemas/Job")),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such job in the tenant"),
        (status = 409, description = "`SYNC_JOB_NOT_ACTIVE`: the job is neither pending nor running \
            (reject a run that awaits approval)"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn cancel(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    let status = match state.store.cancel_job(&caller.tenant_id, &job.id).await? {
        Cancelled::Now => StatusCode::OK,
        Cancelled::AfterBatch => StatusCode::ACCEPTED,
        Cancelled::NotActive => {
            let what = "a pending or running job can be cancelled (reject a run that awaits approval)";
            return Err(not_active(&job, what).into());
        }
    };
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok((status, axum::Json(job_json(&job))).into_response())
}

/// `POST /admin/v1/connectors/{id}/runs/{jobId}/approve`: the held users are deactivated or
/// deleted (each re-checked first) by the worker; 202 with the job, queued again.
#[utoipa::path(
    post,
    path = "/admin/v1/connectors/{id}/runs/{job}/approve",
    operation_id = "approveRun",
    tag = "connectors",
    summary = "Approve a held run",
    description = "A run the mass-deprovision guard stopped (`awaiting_approval`) is queued again: the \
        worker deactivates or deletes the held users, each re-checked first. The held users are the \
        run's `AWAITING_APPROVAL` rows in its `result.csv`.",
    params(
        ("id" = String, Path, format = Uuid, description = "The connector id"),
        ("job" = String, Path, format = Uuid, description = "The id of the run (a job)"),
    ),
    responses(
        (status = 202, description = "The run, queued again", body = ref("#/components/schemas/Job")),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the run id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such run of this connector in the tenant"),
        (status = 409, description = "`SYNC_JOB_NOT_ACTIVE`: the run is not awaiting approval"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn approve(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path((connector, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    decide(&state, &caller.tenant_id, &connector, &id, true).await
}

/// `POST /admin/v1/connectors/{id}/runs/{jobId}/reject`: the run ends `rejected`, applying nothing.
#[utoipa::path(
    post,
    path = "/admin/v1/connectors/{id}/runs/{job}/reject",
    operation_id = "rejectRun",
    tag = "connectors",
    summary = "Reject a held run",
    description = "A run the mass-deprovision guard stopped ends `rejected`; none of its held changes \
        are applied.",
    params(
        ("id" = String, Path, format = Uuid, description = "The connector id"),
        ("job" = String, Path, format = Uuid, description = "The id of the run (a job)"),
    ),
    responses(
        (status = 200, description = "The run, rejected", body = ref("#/components/schemas/Job")),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the run id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such run of this connector in the tenant"),
        (status = 409, description = "`SYNC_JOB_NOT_ACTIVE`: the run is not awaiting approval"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn reject(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path((connector, id)): Path<(String, String)>,
) -> AdminResult<Response> {
    decide(&state, &caller.tenant_id, &connector, &id, false).await
}

async fn decide(state: &AppState, tenant: &str, connector: &str, id: &str, approve: bool) -> AdminResult<Response> {
    let job = load(state, tenant, id).await?;
    if job.connector_id != connector {
        return Err(JobError::not_found(id).into());
    }
    if !state.store.decide_job(tenant, &job.id, approve).await? {
        return Err(not_active(&job, "a run awaiting approval can be approved or rejected").into());
    }
    let status = if approve {
        state.jobs.queued.notify_one();
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let job = load(state, tenant, id).await?;
    Ok((status, axum::Json(job_json(&job))).into_response())
}
