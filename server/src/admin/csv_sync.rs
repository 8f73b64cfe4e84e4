//! `POST /admin/v1/csv-sync`: a CSV upload, streamed to disk, checked whole, queued as a job (202);
//! and the template file.

use std::path::Path;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::IntoParams;

use super::jobs::job_json;
use super::{Admin, AdminResult, bad_request};
use crate::http::AppState;
use crate::sync::JobError;
use crate::sync::csv::{Actor, CsvRequest, check_file_name, check_lock, check_missing_policy, new_upload, queue};

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// What happens to the users absent from the file: `deactivate` or `keep`.
    #[param(required = true)]
    missing: Option<String>,
    /// Check and report what would change, writing nothing (default false).
    dry_run: Option<bool>,
    /// The file's name (ending in `.csv`) when the body is the raw `text/csv` file.
    filename: Option<String>,
}

fn upload_required() -> JobError {
    JobError::new(
        400,
        2700,
        "CSV_FILE_UPLOAD_REQUIRED",
        "no CSV file in the request: send it as the multipart field `file`, or as a text/csv body with ?filename=NAME.csv",
    )
}

fn too_large(limit: u64) -> JobError {
    JobError::new(
        413,
        2706,
        "CSV_FILE_SIZE_LIMIT_EXCEEDED",
        format!("the file is larger than {} MB; split it into smaller files and upload each", limit / (1024 * 1024)),
    )
}

/// Writes `chunks` to `path`, refusing more than `limit` bytes. Returns the size.
async fn save<S, E>(path: &Path, mut chunks: S, limit: u64) -> Result<u64, JobError>
where
    S: Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(path = %path.display(), error = %e, "upload not saved");
        JobError::new(500, 2708, "CSV_FILE_SAVE_FAILED", "the file could not be saved; try again later")
    };
    let mut file = tokio::fs::File::create(path).await.map_err(|e| failed(&e))?;
    let mut size = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| bad_upload(&e))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        file.write_all(&chunk).await.map_err(|e| failed(&e))?;
    }
    file.flush().await.map_err(|e| failed(&e))?;
    Ok(size)
}

fn bad_upload(e: &dyn std::fmt::Display) -> JobError {
    JobError::new(
        400,
        2700,
        "CSV_FILE_UPLOAD_REQUIRED",
        format!("the upload was cut off or malformed ({e}); send it again"),
    )
}

/// `POST /admin/v1/csv-sync?missing=deactivate|keep[&dryRun=true]`, the file as multipart field
/// `file` or a raw `text/csv` body with `?filename=`. Answers 202 with the queued job.
#[utoipa::path(
    post,
    path = "/admin/v1/csv-sync",
    operation_id = "uploadCsvSync",
    tag = "csv-sync",
    summary = "Upload a CSV sync",
    description = "The file (columns `UserName,Email,UserId,GroupIdList,ActiveStatus`) is streamed to \
        disk and checked whole, then queued as a job. A file that cannot be used is refused whole; bad \
        rows fail alone and are listed in the job's `errors.csv`. One CSV sync runs per tenant at a time.",
    params(UploadParams),
    request_body(
        description = "The CSV file, as the multipart field `file`, or as the raw body with `?filename=`",
        content(
            (ref("#/components/schemas/CsvUpload") = "multipart/form-data"),
            (String = "text/csv"),
        ),
    ),
    responses(
        (status = 202, description = "The queued job", body = ref("#/components/schemas/Job"),
            headers(("Location" = String, description = "The job: `/admin/v1/jobs/{id}`"))),
        (status = 400, description = "`INVALID_PARAMETER`: `missing` is absent or not a policy; \
            `2700 CSV_FILE_UPLOAD_REQUIRED`: no file, or the upload was cut off; \
            `2701 CSV_PARSE_ERROR`; `2702 CSV_ENCODING_UNSUPPORTED`; `2703 CSV_HEADER_MISMATCH`; \
            `2705 CSV_FILE_EMPTY`; `2711 CSV_FILE_INVALID_TYPE`: the name does not end in `.csv`"),
        (status = 409, description = "`2714 SYNC_JOB_ALREADY_REQUESTED`: another CSV sync of the tenant \
            is queued; `2715 SYNC_JOB_ALREADY_RUNNING`: one is running"),
        (status = 413, description = "`2706 CSV_FILE_SIZE_LIMIT_EXCEEDED`: larger than `sync.csv_max_bytes`"),
        (status = 500, description = "`2708 CSV_FILE_SAVE_FAILED`: the upload could not be stored"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn upload(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(params): Query<UploadParams>,
    request: Request,
) -> AdminResult<Response> {
    let Some(missing) = params.missing.as_deref() else {
        return Err(bad_request(
            "INVALID_PARAMETER",
            "say what happens to users absent from the file: ?missing=deactivate or ?missing=keep",
        ));
    };
    check_missing_policy(missing)?;
    check_lock(&state.jobs, &caller.tenant_id).await?;
    let limit = state.config.sync.csv_max_bytes;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (id, path) = new_upload(&state.jobs)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let saved = async {
        if is_multipart {
            let mut form = Multipart::from_request(request, &state).await.map_err(|e| bad_upload(&e))?;
            while let Some(field) = form.next_field().await.map_err(|e| bad_upload(&e))? {
                if field.name() != Some("file") {
                    continue;
                }
                let name = field.file_name().map(str::to_owned).ok_or_else(upload_required)?;
                check_file_name(&name)?;
                save(&path, field, limit).await?;
                return Ok(name);
            }
            Err(upload_required())
        } else {
            let name = params.filename.clone().ok_or_else(upload_required)?;
            check_file_name(&name)?;
            save(&path, request.into_body().into_data_stream(), limit).await?;
            Ok(name)
        }
    }
    .await;
    let file_name = match saved {
        Ok(name) => name,
        Err(e) => {
            crate::sync::discard_dir(&dir);
            return Err(e.into());
        }
    };
    let actor = Actor { trigger: "api", token_id: Some(&caller.token_id), name: caller.client.as_deref() };
    let request = CsvRequest {
        tenant_id: &caller.tenant_id,
        file_name: &file_name,
        missing,
        dry_run: params.dry_run.unwrap_or(false),
        actor,
    };
    let job = queue(&state.jobs, &id, &request).await?;
    let location = format!("/admin/v1/jobs/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(job_json(&job))).into_response())
}

/// `GET /admin/v1/csv-sync/template`
#[utoipa::path(
    get,
    path = "/admin/v1/csv-sync/template",
    operation_id = "getCsvSyncTemplate",
    tag = "csv-sync",
    summary = "Download the CSV template",
    description = "A CSV file with the columns a CSV sync reads.",
    responses(
        (status = 200, description = "The template", content_type = "text/csv", body = String),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn template(Admin(_): Admin) -> Response {
    let disposition = "attachment; filename=\"users-template.csv\"";
    let body = Body::from(scimd_connectors::csv::template());
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}
