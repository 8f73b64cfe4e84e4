//! Discovery endpoints (RFC 7644 §4): what this server supports, its resource types and schemas.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use scimd_schemas::ScimError;
use scimd_schemas::schema::{ResourceKind, ResourceSchema, SchemaDef};
use serde_json::{Value, json};

use super::BaseUrl;
use super::error::ApiResult;
use super::json::{scim_response, scim_text_response};
use super::list::list_response;
use crate::http::AppState;

pub async fn service_provider_config(State(state): State<AppState>, BaseUrl(base): BaseUrl) -> Response {
    let scim = &state.config.scim;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": scim.bulk.max_operations,
            "maxPayloadSize": scim.bulk.max_payload_bytes
        },
        "filter": {"supported": true, "maxResults": scim.max_page_size},
        "changePassword": {"supported": true},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": scim.default_page_size,
            "maxPageSize": scim.max_page_size,
            "cursorTimeout": scim.cursor_timeout_seconds
        },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token created by `scimd token create`",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    });
    scim_response(StatusCode::OK, &body)
}

fn resource_type(schema: &ResourceSchema, base: &str) -> Value {
    let kind = schema.kind;
    let extensions: Vec<Value> = schema.extensions.iter().map(|e| json!({"schema": e.id, "required": false})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": match kind { ResourceKind::User => "User Account", ResourceKind::Group => "Group" },
        "schema": schema.core.id,
        "schemaExtensions": extensions,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name())}
    })
}

pub async fn resource_types(State(state): State<AppState>, BaseUrl(base): BaseUrl) -> Response {
    let items = [&state.registry.user, &state.registry.group].map(|s| resource_type(s, &base)).to_vec();
    let total = items.len() as u64;
    scim_text_response(StatusCode::OK, list_response(&texts(&items), total, 1))
}

pub async fn resource_type_by_id(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let schema = [&state.registry.user, &state.registry.group]
        .into_iter()
        .find(|s| s.kind.name().eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {id:?}: see /ResourceTypes")))?;
    Ok(scim_response(StatusCode::OK, &resource_type(schema, &base)))
}

fn schema_resource(schema: &SchemaDef, base: &str) -> Value {
    let mut value = serde_json::to_value(schema).expect("schemas serialise");
    value["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]);
    value["meta"] = json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{}", schema.id)});
    value
}

pub async fn schemas(State(state): State<AppState>, BaseUrl(base): BaseUrl) -> Response {
    let items: Vec<Value> = state.registry.all_schemas().map(|s| schema_resource(s, &base)).collect();
    let total = items.len() as u64;
    scim_text_response(StatusCode::OK, list_response(&texts(&items), total, 1))
}

pub async fn schema_by_id(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let schema = state
        .registry
        .all_schemas()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}: see /Schemas")))?;
    Ok(scim_response(StatusCode::OK, &schema_resource(schema, &base)))
}

fn texts(items: &[Value]) -> Vec<String> {
    items.iter().map(Value::to_string).collect()
}
