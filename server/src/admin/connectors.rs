//! `/admin/v1/connectors`: the tenant's configured sources (LDAP, …) and their runs. A run is a
//! job like a CSV sync: its history, outcomes and progress are under `/admin/v1/jobs`.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::jobs::job_json;
use super::{Admin, AdminResult, Reader};
use crate::http::AppState;
use crate::store::{ConnectorRow, ConnectorSettings, JobFilter, StoreError};
use crate::sync::JobError;
use crate::sync::connector::{RunOptions, RunRequest, check_settings, lock_key, queue_run, run_settings};
use crate::sync::csv::Actor;

/// A connector's settings. On `PUT`, the kind cannot change, and an absent `missingPolicy` or run
/// option keeps its current value; `null` puts a run option back to the server's `sync.*` default.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorBody {
    /// Unique in the tenant.
    name: String,
    /// `ldap`, `azure` or `google`; required on create.
    kind: Option<String>,
    /// The kind's settings (see the README's connector sections).
    config: Value,
    /// What a full run does to the users the source no longer has: `deactivate` (the default on
    /// create), `keep` or `delete`.
    missing_policy: Option<String>,
    // The run options (`RunOptions`), listed here so that unknown keys are refused by name.
    /// A cron expression (five fields, or six with seconds first), or null for none.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    schedule: Option<Value>,
    /// Whether scheduled and manual runs happen.
    enabled: Option<bool>,
    /// Retries after a failed run, 0 to 20.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 20)]
    retry_attempts: Option<Value>,
    /// The first retry's delay, doubled for each next one, 1 to 86400.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 86400)]
    retry_backoff_seconds: Option<Value>,
    /// The mass-deprovision guard: a run that would deactivate or delete more than this share of
    /// the connector's users (0 to 100) waits for approval.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100)]
    guard_percent: Option<Value>,
    /// The guard's count: more than this many users deactivated or deleted waits for approval.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<i64>, minimum = 0)]
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

/// How to run a connector now.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunBody {
    /// Read everything and apply the missing policy, not only what changed since the last run
    /// (a connector's first run is always full).
    #[serde(default)]
    full: bool,
    /// Report what would change, writing nothing.
    #[serde(default)]
    dry_run: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only connectors of this kind, such as `ldap`.
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
#[utoipa::path(
    post,
    path = "/admin/v1/connectors",
    operation_id = "createConnector",
    tag = "connectors",
    summary = "Create a connector",
    description = "A source (LDAP, Microsoft Graph, Google Workspace) of the tenant, with its optional \
        schedule, retries and mass-deprovision guard.",
    request_body = ConnectorBody,
    responses(
        (status = 201, description = "The connector", body = ref("#/components/schemas/Connector"),
            headers(("Location" = String, description = "`/admin/v1/connectors/{id}`"))),
        (status = 400, description = "`CONNECTOR_CONFIG_INVALID`: the body, kind, configuration, \
            missing policy or a run option is not valid; the message names what"),
        (status = 409, description = "`CONNECTOR_NAME_TAKEN`: a connector of the tenant has this name"),
    ),
    security(("bearer" = ["admin"])),
)]
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
#[utoipa::path(
    get,
    path = "/admin/v1/connectors",
    operation_id = "listConnectors",
    tag = "connectors",
    summary = "List connectors",
    description = "The tenant's connectors (the CSV source included once it has had an upload).",
    params(ListParams),
    responses(
        (status = 200, description = "The connectors", body = ref("#/components/schemas/ConnectorList")),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
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
#[utoipa::path(
    get,
    path = "/admin/v1/connectors/{id}",
    operation_id = "getConnector",
    tag = "connectors",
    summary = "Get a connector",
    params(("id" = String, Path, format = Uuid, description = "The connector id")),
    responses(
        (status = 200, description = "The connector", body = ref("#/components/schemas/Connector")),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: no such connector in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
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
#[utoipa::path(
    put,
    path = "/admin/v1/connectors/{id}",
    operation_id = "replaceConnector",
    tag = "connectors",
    summary = "Replace a connector's settings",
    description = "A new name and configuration; the kind stays, and so do the missing policy and the \
        run options the body leaves out.",
    params(("id" = String, Path, format = Uuid, description = "The connector id")),
    request_body = ConnectorBody,
    responses(
        (status = 200, description = "The connector", body = ref("#/components/schemas/Connector")),
        (status = 400, description = "`CONNECTOR_CONFIG_INVALID`: the body, configuration, missing policy \
            or a run option is not valid, or the kind differs"),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: no such connector in the tenant"),
        (status = 409, description = "`CONNECTOR_NAME_TAKEN`: another connector of the tenant has this name"),
    ),
    security(("bearer" = ["admin"])),
)]
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
#[utoipa::path(
    delete,
    path = "/admin/v1/connectors/{id}",
    operation_id = "deleteConnector",
    tag = "connectors",
    summary = "Delete a connector",
    description = "The connector goes with its links and run history; the users and groups it managed \
        become local.",
    params(("id" = String, Path, format = Uuid, description = "The connector id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: no such connector in the tenant"),
        (status = 409, description = "`2715 SYNC_JOB_ALREADY_RUNNING`: a run of the connector is queued or \
            running; delete it after the run ends"),
    ),
    security(("bearer" = ["admin"])),
)]
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
#[utoipa::path(
    get,
    path = "/admin/v1/connectors/{id}/runs",
    operation_id = "listConnectorRuns",
    tag = "connectors",
    summary = "List a connector's runs",
    description = "The connector's last 100 runs, newest first, skipped scheduled runs and retries \
        included. `totalResults` counts them all.",
    params(("id" = String, Path, format = Uuid, description = "The connector id")),
    responses(
        (status = 200, description = "The runs", body = ref("#/components/schemas/RunList")),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: no such connector in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
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
#[utoipa::path(
    post,
    path = "/admin/v1/connectors/{id}/runs",
    operation_id = "runConnector",
    tag = "connectors",
    summary = "Run a connector now",
    description = "Queues a run; the body is optional.",
    params(("id" = String, Path, format = Uuid, description = "The connector id")),
    request_body(
        content = ref("#/components/schemas/RunBody"),
        content_type = "application/json",
        description = "Optional; no body runs as `{}` does: incremental and applied",
    ),
    responses(
        (status = 202, description = "The queued run", body = ref("#/components/schemas/Job"),
            headers(("Location" = String, description = "The run: `/admin/v1/jobs/{id}`"))),
        (status = 404, description = "`CONNECTOR_NOT_FOUND`: no such connector in the tenant"),
        (status = 409, description = "`CONNECTOR_DISABLED`: the connector is disabled; \
            `2714 SYNC_JOB_ALREADY_REQUESTED`: a run of it is queued; \
            `2715 SYNC_JOB_ALREADY_RUNNING`: a run of it is running"),
    ),
    security(("bearer" = ["admin"])),
)]
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
