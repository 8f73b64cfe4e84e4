//! Job history: the list, one job with its progress, and its files.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AdminResult, Reader, bad_request};
use crate::http::AppState;
use crate::store::{JobFilter, JobRow};
use crate::sync::{JobError, original_file, parse_job_id, report};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    kind: Option<String>,
    status: Option<String>,
    since: Option<String>,
    until: Option<String>,
    start_index: Option<u64>,
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
pub async fn result_csv(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok(csv_download("result.csv", report::stream(state.store.clone(), job.id, report::Kind::Result)))
}

/// `GET /admin/v1/jobs/{id}/errors.csv`
pub async fn errors_csv(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let job = load(&state, &caller.tenant_id, &id).await?;
    Ok(csv_download("errors.csv", report::stream(state.store.clone(), job.id, report::Kind::Errors)))
}
