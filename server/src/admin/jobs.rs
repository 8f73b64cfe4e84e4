//! Job history: the list, one job with its progress, and its files.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::{AdminResult, Reader, bad_request};
use crate::http::AppState;
use crate::store::{JobFilter, JobRow};
use crate::sync::{JobError, original_file, parse_job_id, report};

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `csv_sync` or `connector_sync`.
    kind: Option<String>,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`, `interrupted`, `awaiting_approval`,
    /// `rejected` or `skipped`.
    status: Option<String>,
    /// Jobs requested at or after this RFC 3339 time.
    #[param(format = DateTime)]
    since: Option<String>,
    /// Jobs requested before this RFC 3339 time.
    #[param(format = DateTime)]
    until: Option<String>,
    /// 1-based index of the first job of the page (default 1).
    #[param(minimum = 1)]
    start_index: Option<u64>,
    /// Jobs per page (default 50, at most 500).
    #[param(maximum = 500)]
    count: Option<u64>,
}

fn check_time(name: &str, value: Option<&str>) -> AdminResult<()> {
    match value {
        Some(v) if chrono::DateTime::parse_from_rfc3339(v).is_err() => Err(bad_request(
            "INVALID_PARAMETER",
            format!("{name}={v:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z"),
        )),
        _ => Ok(()),
    }
}

/// `GET /admin/v1/jobs?kind=&status=&since=&until=&startIndex=&count=`, newest first.
#[utoipa::path(
    get,
    path = "/admin/v1/jobs",
    operation_id = "listJobs",
    tag = "jobs",
    summary = "List jobs",
    description = "The tenant's jobs (CSV syncs and connector runs), newest first.",
    params(ListParams),
    responses(
        (status = 200, description = "A page of jobs", body = ref("#/components/schemas/JobList")),
        (status = 400, description = "`INVALID_PARAMETER`: `since` or `until` is not an RFC 3339 time"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn list(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Query(p): Query<ListParams>,
) -> AdminResult<Response> {
    check_time("since", p.since.as_deref())?;
    check_time("until", p.until.as_deref())?;
    let filter = JobFilter {
        connector_id: None,
        kind: p.kind.as_deref(),
        status: p.status.as_deref(),
        since: p.since.as_deref(),
        until: p.until.as_deref(),
    };
    let start = p.start_index.unwrap_or(1).max(1);
    let count = p.count.unwrap_or(50).min(500);
    let (total, jobs) = state.store.list_jobs(&caller.tenant_id, &filter, start - 1, count).await?;
    let resources: Vec<_> = jobs.iter().map(job_json).collect();
    Ok(axum::Json(
        json!({ "totalResults": total, "startIndex": start, "itemsPerPage": resources.len(), "Resources": resources }),
    )
    .into_response())
}

pub fn job_json(job: &JobRow) -> serde_json::Value {
    let mut value = serde_json::to_value(job).expect("a job serialises");
    value["progress"] = json!({ "processed": job.processed, "total": job.total });
    value
}

pub(super) async fn load(state: &AppState, tenant: &str, id: &str) -> AdminResult<JobRow> {
    parse_job_id(id)?;
    Ok(state.store.job(tenant, id).await?.ok_or_else(|| JobError::not_found(id))?)
}

/// `GET /admin/v1/jobs/{id}`: status, counts and progress.
#[utoipa::path(
    get,
    path = "/admin/v1/jobs/{id}",
    operation_id = "getJob",
    tag = "jobs",
    summary = "Get a job",
    description = "A job's status, counts and progress.",
    params(("id" = String, Path, format = Uuid, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = ref("#/components/schemas/Job")),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such job in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn get(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok(axum::Json(job_json(&job)).into_response())
}

fn csv_download(name: &str, body: Body) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", name.replace('"', ""));
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// `GET /admin/v1/jobs/{id}/original`: the uploaded file as it was sent.
#[utoipa::path(
    get,
    path = "/admin/v1/jobs/{id}/original",
    operation_id = "getJobOriginal",
    tag = "jobs",
    summary = "Download a job's uploaded file",
    description = "The CSV file of a CSV sync exactly as it was uploaded.",
    params(("id" = String, Path, format = Uuid, description = "The job id")),
    responses(
        (status = 200, description = "The uploaded file", content_type = "text/csv", body = String),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such job in the tenant; \
            `2709 CSV_FILE_NOT_FOUND`: the job has no stored file (not an upload, or removed)"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn original(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    let file = tokio::fs::File::open(original_file(&state.config, &job.id)).await.map_err(|_| {
        JobError::new(
            404,
            2709,
            "CSV_FILE_NOT_FOUND",
            "the job's stored file is gone (no upload, or removed from the files folder)",
        )
    })?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(csv_download(job.file_name.as_deref().unwrap_or("original.csv"), body))
}

/// `GET /admin/v1/jobs/{id}/result.csv`
#[utoipa::path(
    get,
    path = "/admin/v1/jobs/{id}/result.csv",
    operation_id = "getJobResult",
    tag = "jobs",
    summary = "Download a job's result.csv",
    description = "Every record of the job with its outcome (`CREATED`, `UPDATED` with `CHANGED_FIELDS`, `UNCHANGED`, `DEACTIVATED`, `DELETED`, `MAINTAINED`, `AWAITING_APPROVAL`), with the values it had in the upload.",
    params(("id" = String, Path, format = Uuid, description = "The job id")),
    responses(
        (status = 200, description = "The report, streamed", content_type = "text/csv", body = String),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such job in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn result_csv(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok(csv_download("result.csv", report::stream(state.store.clone(), job.id, report::Kind::Result)))
}

/// `GET /admin/v1/jobs/{id}/errors.csv`
#[utoipa::path(
    get,
    path = "/admin/v1/jobs/{id}/errors.csv",
    operation_id = "getJobErrors",
    tag = "jobs",
    summary = "Download a job's errors.csv",
    description = "The records that failed, each with its error codes in the `ERROR` column.",
    params(("id" = String, Path, format = Uuid, description = "The job id")),
    responses(
        (status = 200, description = "The report, streamed", content_type = "text/csv", body = String),
        (status = 400, description = "`2713 SYNC_JOB_ID_FORMAT_INVALID`: the id is not a UUID"),
        (status = 404, description = "`2712 SYNC_JOB_NOT_FOUND`: no such job in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn errors_csv(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok(csv_download("errors.csv", report::stream(state.store.clone(), job.id, report::Kind::Errors)))
}
