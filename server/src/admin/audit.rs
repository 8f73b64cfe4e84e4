//! `/admin/v1/audit`: the audit log for admin and auditor tokens (tenant from the token), a page at
//! a time or exported as CSV or JSON Lines; and per-attribute provenance of a user or group.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{StreamExt, stream};
use scimd_schemas::schema::ResourceKind;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::{AdminError, AdminResult, Reader, bad_request};
use crate::audit::export::{self, Format, event_json};
use crate::http::AppState;
use crate::store::AuditFilter;
use crate::sync::JobError;

const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1000;

/// The list's and the export's parameters: the filters, then paging (list) and format (export).
#[derive(Deserialize, Default, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Events at or after this RFC 3339 time.
    #[param(format = DateTime)]
    since: Option<String>,
    /// Events before this RFC 3339 time.
    #[param(format = DateTime)]
    until: Option<String>,
    /// Who acted: a token id, `cli` or `system`.
    actor: Option<String>,
    /// The kind of resource changed, such as `User` or `Group`.
    resource_type: Option<String>,
    resource_id: Option<String>,
    /// Such as `user.create`, `user.patch`, `group.delete`.
    action: Option<String>,
    /// The writer: `scim`, `admin`, `cli`, `csv` or `connector:<name>`.
    source: Option<String>,
    /// Events written by this job.
    job_id: Option<String>,
    /// The list only: the `nextCursor` of the previous page.
    cursor: Option<String>,
    /// The list only: events per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    count: Option<i64>,
    /// The export only: `jsonl` (the default) or `csv`.
    format: Option<String>,
}

impl AuditParams {
    fn filter(&self) -> AdminResult<AuditFilter> {
        for (name, value) in [("since", &self.since), ("until", &self.until)] {
            if let Some(v) = value
                && chrono::DateTime::parse_from_rfc3339(v).is_err()
            {
                return Err(bad_request(
                    "INVALID_PARAMETER",
                    format!("{name}={v:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z"),
                ));
            }
        }
        Ok(AuditFilter {
            since: self.since.clone(),
            until: self.until.clone(),
            actor: self.actor.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            action: self.action.clone(),
            source: self.source.clone(),
            job_id: self.job_id.clone(),
        })
    }
}

/// A list's or an export's parameters, with their filter checked.
pub struct AuditQuery {
    params: AuditParams,
    filter: AuditFilter,
}

impl FromRequestParts<AppState> for AuditQuery {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<AuditParams>::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_request("INVALID_PARAMETER", e.body_text()))?;
        let filter = params.filter()?;
        Ok(AuditQuery { params, filter })
    }
}

/// The opaque cursor of the position after `seq`.
fn cursor_after(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit:{seq}"))
}

fn seq_of(cursor: &str) -> AdminResult<i64> {
    let invalid = || bad_request("INVALID_CURSOR", "the cursor is not one this API returned; start again without it");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    text.strip_prefix("audit:").and_then(|seq| seq.parse().ok()).ok_or_else(invalid)
}

/// `GET /admin/v1/audit?since=&until=&actor=&resourceType=&resourceId=&action=&source=&jobId=&count=&cursor=`:
/// events oldest first; `nextCursor` while more match.
#[utoipa::path(
    get,
    path = "/admin/v1/audit",
    operation_id = "listAuditEvents",
    tag = "audit",
    summary = "List audit events",
    description = "The tenant's audit events that match the filters, oldest first, a page at a time: \
        `nextCursor` is set while more match.",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of events", body = ref("#/components/schemas/AuditPage")),
        (status = 400, description = "`INVALID_PARAMETER`: an unknown parameter, or a time that is not \
            RFC 3339; `INVALID_CURSOR`: a cursor this API did not return"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn list(
    State(state): State<AppState>,
    Reader(caller): Reader,
    AuditQuery { params, filter }: AuditQuery,
) -> AdminResult<Response> {
    let count = params.count.unwrap_or(DEFAULT_COUNT).clamp(1, MAX_COUNT);
    let after = params.cursor.as_deref().map(seq_of).transpose()?.unwrap_or(0);
    let mut rows = state.store.audit_events(&caller.tenant_id, &filter, after, count + 1).await?;
    let more = rows.len() as i64 > count;
    rows.truncate(count as usize);
    let next = rows.last().filter(|_| more).map(|row| cursor_after(row.seq));
    let resources: Vec<Value> = rows.iter().map(event_json).collect();
    Ok(axum::Json(json!({ "itemsPerPage": resources.len(), "nextCursor": next, "Resources": resources }))
        .into_response())
}

/// `GET /admin/v1/audit/export?format=csv|jsonl` with the filters of the list: every matching
/// event, read a page at a time while the response streams.
#[utoipa::path(
    get,
    path = "/admin/v1/audit/export",
    operation_id = "exportAuditEvents",
    tag = "audit",
    summary = "Export audit events",
    description = "Every matching event, oldest first, as JSON Lines (one event object a line) or CSV, \
        streamed.",
    params(AuditParams),
    responses(
        (status = 200, description = "The events, streamed", content(
            (ref("#/components/schemas/AuditEvent") = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`INVALID_PARAMETER`: an unknown parameter or format, or a time \
            that is not RFC 3339"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn export(
    State(state): State<AppState>,
    Reader(caller): Reader,
    AuditQuery { params, filter }: AuditQuery,
) -> AdminResult<Response> {
    let requested = params.format.as_deref().unwrap_or("jsonl");
    let format = Format::parse(requested).ok_or_else(|| {
        bad_request(
            "INVALID_PARAMETER",
            format!("format={requested:?} is not an export format; use format=csv or format=jsonl"),
        )
    })?;
    let header = stream::iter(Some(format.header().to_vec()).filter(|h| !h.is_empty()).map(Ok));
    let events = export::pages(state.store.clone(), caller.tenant_id.clone(), filter).map(move |page| {
        page.map(|rows| format.render(&rows)).map_err(|e| {
            tracing::error!(error = %e, "audit export cut short");
            std::io::Error::other(e.to_string())
        })
    });
    let disposition = format!("attachment; filename=\"audit.{}\"", format.extension());
    Ok((
        [(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(header.chain(events)),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/admin/v1/users/{id}/provenance",
    operation_id = "getUserProvenance",
    tag = "users",
    summary = "A user's provenance",
    description = "Per top-level attribute of the user, the source, time and event that last set it.",
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "The user's provenance", body = ref("#/components/schemas/ProvenanceReport")),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: no such user in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn user_provenance(state: State<AppState>, reader: Reader, id: Path<String>) -> AdminResult<Response> {
    provenance(ResourceKind::User, state, reader, id).await
}

#[utoipa::path(
    get,
    path = "/admin/v1/groups/{id}/provenance",
    operation_id = "getGroupProvenance",
    tag = "groups",
    summary = "A group's provenance",
    description = "Per top-level attribute of the group, the source, time and event that last set it.",
    params(("id" = String, Path, description = "The group id")),
    responses(
        (status = 200, description = "The group's provenance", body = ref("#/components/schemas/ProvenanceReport")),
        (status = 404, description = "`RESOURCE_NOT_FOUND`: no such group in the tenant"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn group_provenance(state: State<AppState>, reader: Reader, id: Path<String>) -> AdminResult<Response> {
    provenance(ResourceKind::Group, state, reader, id).await
}

/// `GET /admin/v1/users/{id}/provenance` (and groups): per top-level attribute, the source, time
/// and event that last set it.
async fn provenance(
    kind: ResourceKind,
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    if state.store.get_resource(kind, &caller.tenant_id, &id).await?.is_none() {
        return Err(JobError::new(
            404,
            0,
            "RESOURCE_NOT_FOUND",
            format!("no {} {id:?} in this tenant", kind.name().to_ascii_lowercase()),
        )
        .into());
    }
    let attributes = state.store.provenance(&caller.tenant_id, &id).await?;
    Ok(axum::Json(json!({ "id": id, "resourceType": kind.name(), "attributes": attributes })).into_response())
}
