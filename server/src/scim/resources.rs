//! `/Users` and `/Groups`: one set of handlers, parameterised by resource kind.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scimd_schemas::ScimError;
use scimd_schemas::patch::{apply_patch, check_echoed_id, parse_patch_request};
use scimd_schemas::projection::Projection;
use scimd_schemas::resource::{MemberRef, prepare_write};
use scimd_schemas::schema::{ResourceKind, ResourceSchema};
use serde_json::Value;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::json::{ScimJson, scim_text_response};
use super::list::{ListParams, list_response};
use super::render::{etag, parse_etag, render};
use super::{BaseUrl, cursor_page, wire};
use crate::http::AppState;
use crate::store::{
    ChangeAudit, ListQuery, MemberDelta, MemberRow, ResourceChange, ResourceRow, ResourceWrite, SortOrder,
};
use crate::{audit, password};

type Pairs = Query<Vec<(String, String)>>;

fn not_found(kind: ResourceKind, id: &str) -> ApiError {
    ApiError(ScimError::not_found(format!("{} {id:?} not found", kind.name())))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let value = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    version_of(value)
}

/// An `If-Match` header or a bulk operation's `version`: `None` (or `*`) matches any version.
pub fn version_of(value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some("*") => Ok(None),
        Some(value) => parse_etag(value).map(Some).ok_or_else(|| {
            ApiError(ScimError::new(412, None, format!("the version {value:?} is not an ETag of this server")))
        }),
    }
}

/// Renders rows, loading `groups`/`members` only when the response shows them.
pub(super) async fn render_rows(
    state: &AppState,
    schema: &ResourceSchema,
    base: &str,
    tenant: &str,
    rows: &[ResourceRow],
    projection: &Projection,
) -> ApiResult<Vec<String>> {
    let (related_name, needs) = match schema.kind {
        ResourceKind::User => ("groups", rows.iter().filter(|r| r.in_groups).map(|r| r.id.clone()).collect::<Vec<_>>()),
        ResourceKind::Group => ("members", rows.iter().map(|r| r.id.clone()).collect()),
    };
    let shown = projection.includes(schema, None, related_name);
    let related: Vec<MemberRow> = match (shown, needs.is_empty(), schema.kind) {
        (true, false, ResourceKind::User) => state.store.groups_of(tenant, &needs).await?,
        (true, false, ResourceKind::Group) => state.store.members_of(tenant, &needs).await?,
        _ => Vec::new(),
    };
    let mut by_owner: HashMap<&str, Vec<&MemberRow>> = HashMap::new();
    for row in &related {
        by_owner.entry(row.owner.as_str()).or_default().push(row);
    }
    let as_stored = *projection == Projection::default() && wire::renders_as_stored(schema);
    rows.iter()
        .map(|row| {
            let related = shown.then(|| by_owner.get(row.id.as_str()).map_or(&[][..], Vec::as_slice));
            let mut text = String::with_capacity(row.doc.len() + 512);
            if as_stored && wire::write_resource(&mut text, schema, base, row, related) {
                return Ok(text);
            }
            let mut resource = render(schema, base, row, related)?;
            projection.apply(schema, &mut resource);
            Ok(resource.to_string())
        })
        .collect()
}

fn with_etag(mut response: Response, version: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

pub async fn list(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let params = ListParams::parse(&pairs, &state.config.scim)?;
    list_with(&state, kind, &caller.tenant_id, &base, &params).await
}

/// A `ListResponse` of one resource type: `GET /Users` and `POST /Users/.search`.
pub async fn list_with(
    state: &AppState,
    kind: ResourceKind,
    tenant: &str,
    base: &str,
    params: &ListParams,
) -> ApiResult<Response> {
    if params.cursor.is_some() {
        return cursor_page::list(state, kind, tenant, base, params).await;
    }
    let (total, resources) = list_page(state, kind, tenant, base, params).await?;
    Ok(scim_text_response(StatusCode::OK, list_response(&resources, total, params.start_index)))
}

/// How many resources of this type match, and the rendered page `params` selects.
pub async fn list_page(
    state: &AppState,
    kind: ResourceKind,
    tenant: &str,
    base: &str,
    params: &ListParams,
) -> ApiResult<(u64, Vec<String>)> {
    let schema = state.registry.of(kind);
    let projection = Projection::parse(schema, params.attributes.as_deref(), params.excluded_attributes.as_deref())?;
    let query = ListQuery {
        filter: params.filter.as_ref(),
        sort: params.sort_by.as_ref().map(|path| (path, params.sort_order.unwrap_or(SortOrder::Ascending))),
        start_index: params.start_index,
        count: params.count,
    };
    let (total, rows) = state.store.list_resources(schema, tenant, &query).await?;
    let resources = render_rows(state, schema, base, tenant, &rows, &projection).await?;
    Ok((total, resources))
}

async fn load(state: &AppState, kind: ResourceKind, tenant: &str, id: &str) -> ApiResult<ResourceRow> {
    state.store.get_resource(kind, tenant, id).await?.ok_or_else(|| not_found(kind, id))
}

async fn respond_with(
    state: &AppState,
    kind: ResourceKind,
    base: &str,
    tenant: &str,
    row: ResourceRow,
    pairs: &[(String, String)],
    status: StatusCode,
) -> ApiResult<Response> {
    let schema = state.registry.of(kind);
    let projection = Projection::parse(schema, param(pairs, "attributes"), param(pairs, "excludedAttributes"))?;
    let version = row.version;
    let row_id = row.id.clone();
    let resource = render_rows(state, schema, base, tenant, std::slice::from_ref(&row), &projection)
        .await?
        .pop()
        .expect("one row renders to one resource");
    let mut response = with_etag(scim_text_response(status, resource), version);
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&format!("{base}{}/{}", kind.endpoint(), row_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Pairs,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let row = load(&state, kind, &caller.tenant_id, &id).await?;
    let unchanged = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).and_then(parse_etag);
    if unchanged == Some(row.version) {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), row.version));
    }
    respond_with(&state, kind, &base, &caller.tenant_id, row, &pairs, StatusCode::OK).await
}

fn log_skipped(kind: ResourceKind, id: &str, skipped: &[String]) {
    if !skipped.is_empty() {
        tracing::warn!(resource = kind.name(), id, skipped = ?skipped, "skipped members that do not exist in this tenant");
    }
}

pub async fn create(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Query(pairs): Pairs,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let row = create_resource(&state, &caller, kind, body).await?;
    respond_with(&state, kind, &base, &caller.tenant_id, row, &pairs, StatusCode::CREATED).await
}

/// A validated new resource, its password hashed: what a create writes.
pub struct NewResource {
    pub doc: Value,
    password_hash: Option<String>,
    members: Option<Vec<MemberRef>>,
}

impl NewResource {
    pub fn write<'a>(&'a self, managing_entity: &'a str) -> ResourceWrite<'a> {
        ResourceWrite {
            doc: &self.doc,
            password_hash: self.password_hash.clone(),
            managing_entity,
            members: self.members.as_deref(),
        }
    }
}

/// Validates a POST body; nothing is written.
pub async fn prepare_create(state: &AppState, kind: ResourceKind, body: Value) -> ApiResult<NewResource> {
    let prepared = prepare_write(state.registry.of(kind), body, None)?;
    let password_hash = password::hash_if_given(prepared.password).await?;
    Ok(NewResource { doc: prepared.doc, password_hash, members: prepared.members })
}

/// Writes a prepared resource.
pub async fn insert_resource(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    new: &NewResource,
) -> ApiResult<ResourceRow> {
    let managing_entity = caller.managing_entity();
    let write = new.write(&managing_entity);
    let (row, skipped) = state.store.create_resource(kind, &caller.tenant_id, &write, &caller.audit("scim")).await?;
    log_skipped(kind, &row.id, &skipped);
    Ok(row)
}

/// POST: creates a resource from its body.
pub async fn create_resource(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    body: Value,
) -> ApiResult<ResourceRow> {
    let new = prepare_create(state, kind, body).await?;
    insert_resource(state, caller, kind, &new).await
}

fn parse_doc(row: &ResourceRow) -> ApiResult<Value> {
    serde_json::from_str(&row.doc).map_err(|e| {
        tracing::error!(id = row.id, error = %e, "stored document is not JSON");
        ApiError(ScimError::new(500, None, "internal server error; the server log has the details"))
    })
}

#[expect(clippy::too_many_arguments, reason = "axum extractors")]
pub async fn replace(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Pairs,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let version = if_match(&headers)?;
    let row = replace_resource(&state, &caller, kind, &id, body, version).await?;
    respond_with(&state, kind, &base, &caller.tenant_id, row, &pairs, StatusCode::OK).await
}

/// PUT: replaces a resource with a body; `version` acts as If-Match.
pub async fn replace_resource(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    body: Value,
    version: Option<i64>,
) -> ApiResult<ResourceRow> {
    let schema = state.registry.of(kind);
    let current = parse_doc(&load(state, kind, &caller.tenant_id, id).await?)?;
    let prepared = prepare_write(schema, body, Some(&current))?;
    let password_hash = password::hash_if_given(prepared.password).await?;
    // PUT replaces the whole resource: a group sent without members has none.
    let members = (kind == ResourceKind::Group).then(|| prepared.members.as_deref().unwrap_or(&[]));
    let change = ResourceChange {
        doc: Some(&prepared.doc),
        password_hash,
        members: MemberDelta { replace: members, ..Default::default() },
    };
    let ctx = caller.audit("scim");
    let action = format!("{}.replace", kind.name().to_ascii_lowercase());
    let record = ChangeAudit { ctx: &ctx, action: &action, changes: audit::diff(&current, &prepared.doc) };
    let (row, skipped) = state.store.change_resource(kind, &caller.tenant_id, id, change, version, record).await?;
    log_skipped(kind, id, &skipped);
    Ok(row)
}

#[expect(clippy::too_many_arguments, reason = "axum extractors")]
pub async fn patch(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Pairs,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let version = if_match(&headers)?;
    let row = patch_resource(&state, &caller, kind, &id, body, version).await?;
    if shows_many_members(&state, kind, &caller.tenant_id, &id, &pairs).await? {
        return Ok(with_etag(StatusCode::NO_CONTENT.into_response(), row.version));
    }
    respond_with(&state, kind, &base, &caller.tenant_id, row, &pairs, StatusCode::OK).await
}

/// PATCH: applies a PatchOp body; `version` acts as If-Match.
pub async fn patch_resource(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    body: Value,
    version: Option<i64>,
) -> ApiResult<ResourceRow> {
    let schema = state.registry.of(kind);
    let ops = parse_patch_request(body)?;
    check_echoed_id(&ops, id)?;
    let current = load(state, kind, &caller.tenant_id, id).await?;
    let doc = parse_doc(&current)?;
    let outcome = apply_patch(schema, &doc, &ops)?;
    let password_hash = password::hash_if_given(outcome.password).await?;
    let members = &outcome.members;
    let tenant = &caller.tenant_id;
    let changed_doc = (outcome.doc != doc).then_some(&outcome.doc);
    // With `replace`, apply_patch has already folded later adds and removes into the list.
    let delta = MemberDelta { replace: members.replace.as_deref(), add: &members.add, remove: &members.remove };
    let change = ResourceChange { doc: changed_doc, password_hash, members: delta };
    let ctx = caller.audit("scim");
    let action = format!("{}.patch", kind.name().to_ascii_lowercase());
    let record = ChangeAudit { ctx: &ctx, action: &action, changes: audit::diff(&doc, &outcome.doc) };
    let (row, skipped) = state.store.change_resource(kind, tenant, id, change, version, record).await?;
    log_skipped(kind, id, &skipped);
    Ok(row)
}

/// A PATCH answer would list more members than `scim.large_group_members`: it answers 204 instead,
/// unless the client asked for `attributes`, so a membership change never serialises a large group.
async fn shows_many_members(
    state: &AppState,
    kind: ResourceKind,
    tenant: &str,
    id: &str,
    pairs: &[(String, String)],
) -> ApiResult<bool> {
    if kind != ResourceKind::Group || param(pairs, "attributes").is_some() {
        return Ok(false);
    }
    let schema = state.registry.of(kind);
    if !Projection::parse(schema, None, param(pairs, "excludedAttributes"))?.includes(schema, None, "members") {
        return Ok(false);
    }
    Ok(state.store.has_more_members_than(tenant, id, state.config.scim.large_group_members).await?)
}

pub async fn delete(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let version = if_match(&headers)?;
    delete_resource(&state, &caller, kind, &id, version).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE: removes a resource; `version` acts as If-Match.
pub async fn delete_resource(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    version: Option<i64>,
) -> ApiResult<()> {
    if state.store.delete_resource(kind, &caller.tenant_id, id, version, &caller.audit("scim")).await? {
        Ok(())
    } else {
        Err(not_found(kind, id))
    }
}
