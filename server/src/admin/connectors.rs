//! `/admin/v1/connectors`: the tenant's configured sources (LDAP, …) and their runs. A run is a
//! job like a CSV sync: its history, outcomes and progress are under `/admin/v1/jobs`.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::jobs::job_json;
use super::{Admin, AdminResult, Reader};
use crate::http::AppState;
use crate::store::{ConnectorRow, ConnectorSettings, JobFilter, StoreError};
use crate::sync::JobError;
use crate::sync::connector::{RunOptions, RunRequest, check_settings, lock_key, queue_run, run_settings};
use crate::sync::csv::Actor;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorBody {
    name: String,
    kind: Option<String>,
    config: Value,
    missing_policy: Option<String>,
    // The run options (`RunOptions`), listed here so that unknown keys are refused by name.
    #[serde(default, deserialize_with = "some")]
    schedule: Option<Value>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "some")]
    retry_attempts: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    retry_backoff_seconds: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    guard_percent: Option<Value>,
    #[serde(default, deserialize_with = "some")]
    guard_count: Option<Value>,
}

/// A present key, null included (`Some(Value::Null)`).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ConnectorBody {
    /// The run options; a value of the wrong type is `CONNECTOR_CONFIG_INVALID` naming its key.
    fn run_options(&self) -> AdminResult<RunOptions> {
        let mut options = serde_json::Map::new();
        for (key, value) in [
            ("schedule", &self.schedule),
            ("retryAttempts", &self.retry_attempts),
            ("retryBackoffSeconds", &self.retry_backoff_seconds),
            ("guardPercent", &self.guard_percent),
            ("guardCount", &self.guard_count),
        ] {
            if let Some(value) = value {
                options.insert(key.to_owned(), value.clone());
            }
        }
        if let Some(enabled) = self.enabled {
            options.insert("enabled".to_owned(), Value::Bool(enabled));
        }
        serde_path_to_error::deserialize(Value::Object(options))
            .map_err(|e| super::bad_request("CONNECTOR_CONFIG_INVALID", format!("{}: {}", e.path(), e.inner())))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    full: bool,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize)]
pub struct ListParams {
    kind: Option<String>,
}

fn not_found(id: &str) -> JobError {
    JobError::new(
        404,
        0,
        "CONNECTOR_NOT_FOUND",
        format!("no connector {id:?} in this tenant; list them with GET /admin/v1/connectors"),
    )
}

fn name_taken(name: &str) -> JobError {
    JobError::new(409, 0, "CONNECTOR_NAME_TAKEN", format!("a connector named {name:?} exists; choose another name"))
}

fn connector_json(connector: &ConnectorRow) -> Value {
    json!({
        "id": connector.id,
        "name": connector.name,
        "kind": connector.kind,
        "config": serde_json::from_str::<Value>(&connector.config).unwrap_or(Value::Null),
        "missingPolicy": connector.missing_policy,
        "cursor": connector.cursor,
        "created": connector.created,
        "schedule": connector.schedule,
        "nextRun": connector.next_run,
        "enabled": connector.enabled,
        "retryAttempts": connector.retry_attempts,
        "retryBackoffSeconds": connector.retry_backoff_seconds,
        "guardPercent": connector.guard_percent,
        "guardCount": connector.guard_count,
        "location": format!("/admin/v1/connectors/{}", connector.id),
    })
}

fn body_of(
    payload: Result<axum::Json<ConnectorBody>, axum::extract::rejection::JsonRejection>,
) -> AdminResult<ConnectorBody> {
    payload.map(|axum::Json(body)| body).map_err(|e| {
        super::bad_request(
            "CONNECTOR_CONFIG_INVALID",
            format!("{}; send {{\"name\", \"kind\", \"config\", \"missingPolicy\"}} as JSON", e.body_text()),
        )
    })
}

async fn load(state: &AppState, tenant: &str, id: &str) -> AdminResult<ConnectorRow> {
    let found = match uuid::Uuid::parse_str(id) {
        Ok(_) => state.store.connector_by_id(tenant, id).await?,
        Err(_) => None,
    };
    Ok(found.ok_or_else(|| not_found(id))?)
}

fn stored(result: Result<ConnectorRow, StoreError>, name: &str) -> AdminResult<ConnectorRow> {
    match result {
        Err(StoreError::Conflict(_)) => Err(name_taken(name).into()),
        other => Ok(other?),
    }
}

/// `POST /admin/v1/connectors` with `{name, kind, config, missingPolicy}` and optionally `schedule`,
/// `enabled`, `retryAttempts`, `retryBackoffSeconds`, `guardPercent`, `guardCount`.
pub async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    payload: Result<axum::Json<ConnectorBody>, axum::extract::rejection::JsonRejection>,
) -> AdminResult<Response> {
    let body = body_of(payload)?;
    let kind = body.kind.as_deref().unwrap_or_default();
    let missing_policy = body.missing_policy.as_deref().unwrap_or("deactivate");
    let config = check_settings(kind, &body.config, missing_policy)?;
    let run = run_settings(&body.run_options()?, None)?;
    let settings = ConnectorSettings { name: &body.name, kind, config: &config, missing_policy, run: &run };
    let connector =
        stored(state.store.create_connector(&caller.tenant_id, &settings, &caller.audit("admin")).await, &body.name)?;
    let location = format!("/admin/v1/connectors/{}", connector.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(connector_json(&connector))).into_response())
}

/// `GET /admin/v1/connectors[?kind=ldap]`
pub async fn list(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Query(params): Query<ListParams>,
) -> AdminResult<Response> {
    let connectors = state.store.list_connectors(&caller.tenant_id, params.kind.as_deref()).await?;
    let resources: Vec<Value> = connectors.iter().map(connector_json).collect();
    Ok(axum::Json(json!({ "totalResults": resources.len(), "Resources": resources })).into_response())
}

/// `GET /admin/v1/connectors/{id}`
pub async fn get(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let connector = load(&state, &caller.tenant_id, &id).await?;
    Ok(axum::Json(connector_json(&connector)).into_response())
}

/// `PUT /admin/v1/connectors/{id}`: a new name and configuration; the kind stays, and so do the
/// missing policy and run options the body leaves out.
pub async fn replace(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    payload: Result<axum::Json<ConnectorBody>, axum::extract::rejection::JsonRejection>,
) -> AdminResult<Response> {
    let current = load(&state, &caller.tenant_id, &id).await?;
    let body = body_of(payload)?;
    if body.kind.as_deref().is_some_and(|kind| kind != current.kind) {
        return Err(super::bad_request(
            "CONNECTOR_CONFIG_INVALID",
            format!("a connector's kind cannot change (it is {:?}); create a new connector instead", current.kind),
        ));
    }
    let missing_policy = body.missing_policy.as_deref().unwrap_or(&current.missing_policy);
    let config = check_settings(&current.kind, &body.config, missing_policy)?;
    let run = run_settings(&body.run_options()?, Some(&current))?;
    let settings =
        ConnectorSettings { name: &body.name, kind: &current.kind, config: &config, missing_policy, run: &run };
    let connector = stored(
        state.store.update_connector(&caller.tenant_id, &id, &settings, &caller.audit("admin")).await,
        &body.name,
    )?;
    Ok(axum::Json(connector_json(&connector)).into_response())
}

/// `DELETE /admin/v1/connectors/{id}`: with its links and run history; what it managed becomes
/// local. Refused while a run is queued or running.
pub async fn delete(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let connector = load(&state, &caller.tenant_id, &id).await?;
    if let Some(job) = state.store.lock_holder(&caller.tenant_id, &lock_key(&connector.id)).await? {
        return Err(JobError::new(
            409,
            2715,
            "SYNC_JOB_ALREADY_RUNNING",
            format!("run {} of this connector is {}; delete the connector after it ends", job.id, job.status),
        )
        .into());
    }
    state.store.delete_connector(&caller.tenant_id, &connector, &caller.audit("admin")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/v1/connectors/{id}/runs`: the connector's run history, newest first (skipped
/// scheduled runs and retries included).
pub async fn runs(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let connector = load(&state, &caller.tenant_id, &id).await?;
    let filter = JobFilter { connector_id: Some(&connector.id), ..JobFilter::default() };
    let (total, jobs) = state.store.list_jobs(&caller.tenant_id, &filter, 0, 100).await?;
    let resources: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(axum::Json(json!({ "totalResults": total, "Resources": resources })).into_response())
}

/// `POST /admin/v1/connectors/{id}/runs` with `{"full": bool, "dryRun": bool}` (both optional):
/// 202 with the queued job.
pub async fn run(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    payload: Option<axum::Json<RunBody>>,
) -> AdminResult<Response> {
    let connector = load(&state, &caller.tenant_id, &id).await?;
    let body = payload.map(|axum::Json(body)| body).unwrap_or_default();
    let actor = Actor { trigger: "api", token_id: Some(&caller.token_id), name: caller.client.as_deref() };
    let request = RunRequest { connector: &connector, full: body.full, dry_run: body.dry_run, actor };
    let job = queue_run(&state.jobs, &request).await?;
    let location = format!("/admin/v1/jobs/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(job_json(&job))).into_response())
}
