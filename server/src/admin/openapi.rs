//! The OpenAPI 3.1 document of the admin API, served without a token (it is public documentation)
//! at `GET /admin/v1/openapi.json`, and its Scalar reference page at `GET /admin/v1/docs` (whose
//! script scimd serves too: `scalar`).
//!
//! Each operation is the `#[utoipa::path]` of its handler. The bodies the handlers build with
//! `json!` are described here as JSON Schema; the end-to-end tests hold the document to the router
//! (every route documented, nothing else), to the roles the handlers accept, and to real responses.

use std::sync::LazyLock;

use axum::Json;
use axum::response::Html;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

use super::{audit, connectors, csv_sync, jobs, runs, scalar, tokens, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimd admin API",
        description = "Jobs, CSV syncs, connectors and their runs, user exports, provenance, the \
            audit log and the API tokens of one tenant: the tenant is the token's. Send `Authorization: Bearer <token>` with \
            an `admin` token, or an `auditor` token where an operation says so. Errors are \
            `{\"code\", \"name\", \"message\"}` with the documented codes (2700–2715); `code` is 0 where \
            the documentation has no number. Beyond `auth.rate_limit_per_second`, requests get 429 with \
            `Retry-After`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        jobs::list,
        jobs::get,
        runs::cancel,
        jobs::original,
        jobs::result_csv,
        jobs::errors_csv,
        csv_sync::upload,
        csv_sync::template,
        users::export_csv,
        users::unlink,
        audit::user_provenance,
        audit::group_provenance,
        connectors::list,
        connectors::create,
        connectors::get,
        connectors::replace,
        connectors::delete,
        connectors::runs,
        connectors::run,
        runs::approve,
        runs::reject,
        audit::list,
        audit::export,
        tokens::tenant,
        tokens::list,
        tokens::create,
        tokens::get,
        tokens::revoke,
        openapi_json,
        docs,
        scalar::script,
    ),
    components(schemas(
        crate::store::JobRow,
        crate::store::Provenance,
        crate::store::Role,
        connectors::ConnectorBody,
        connectors::RunBody,
        tokens::CreateBody,
    )),
    modifiers(&Described),
    tags(
        (name = "jobs", description = "CSV syncs and connector runs: status, progress and their files"),
        (name = "csv-sync", description = "Register users from a CSV file"),
        (name = "connectors", description = "Sources (LDAP, Microsoft Graph, Google Workspace), their runs, \
            and the approval of runs the mass-deprovision guard held"),
        (name = "users", description = "Export, unlink and provenance of users"),
        (name = "groups", description = "Provenance of groups"),
        (name = "audit", description = "The append-only audit log"),
        (name = "tenant", description = "The token's own tenant"),
        (name = "tokens", description = "The tenant's API tokens: admins create and revoke them, auditors \
            read them"),
        (name = "documentation", description = "This document and its reference page; no token needed"),
    ),
)]
struct AdminApi;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        let mut document = serde_json::to_value(AdminApi::openapi()).expect("the OpenAPI document serialises");
        let components = &mut document["components"]["schemas"];
        for (name, schema) in schemas() {
            components[name] = schema;
        }
        document
    });
    &DOCUMENT
}

#[utoipa::path(
    get,
    path = "/admin/v1/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "documentation",
    summary = "This OpenAPI document",
    description = "The OpenAPI 3.1 document of the admin API. Public: no token needed.",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Json<&'static Value> {
    Json(document())
}

#[utoipa::path(
    get,
    path = "/admin/v1/docs",
    operation_id = "getApiReference",
    tag = "documentation",
    summary = "The API reference page",
    description = "This document rendered by Scalar. Public: no token needed. The page has the document \
        inside it and loads Scalar's script from this server (`getApiReferenceScript`), nothing from \
        elsewhere, so it works without internet access.",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)),
)]
pub async fn docs() -> Html<&'static str> {
    static PAGE: LazyLock<String> =
        LazyLock::new(|| utoipa_scalar::Scalar::new(document().clone()).custom_html(scalar::PAGE).to_html());
    Html(PAGE.as_str())
}

/// Adds what the handlers' annotations leave to one place: the bearer scheme, the error body on
/// every error response, and for each operation that needs a token its 401 and 403 and the roles
/// (its security requirement's scopes) in its description.
struct Described;

impl utoipa::Modify for Described {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = Http::builder()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token of the tenant (`scimd token create`); its role is in each operation."))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        for item in api.paths.paths.values_mut() {
            for operation in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                describe(operation);
            }
        }
    }
}

fn describe(operation: &mut Operation) {
    let roles = roles(operation);
    if !roles.is_empty() {
        let line = match roles.as_slice() {
            [role] => format!("Role: {role}."),
            _ => format!("Roles: {}.", roles.join(", ")),
        };
        operation.description =
            Some(operation.description.take().map_or(line.clone(), |text| format!("{text}\n\n{line}")));
        let refused = [
            ("401", "`UNAUTHORIZED`: no token, or one that is unknown or revoked"),
            ("403", "`FORBIDDEN`: the token's role may not do this"),
        ];
        for (status, description) in refused {
            let response = ResponseBuilder::new().description(description).build();
            operation.responses.responses.insert(status.to_owned(), RefOr::T(response));
        }
    }
    for (status, response) in &mut operation.responses.responses {
        if let RefOr::T(response) = response
            && status.starts_with(['4', '5'])
            && response.content.is_empty()
        {
            let body = Content::new(Some(Ref::from_schema_name("Error")));
            response.content.insert("application/json".to_owned(), body);
        }
    }
}

/// The scopes of the operation's `bearer` requirement: the roles that may call it.
fn roles(operation: &Operation) -> Vec<String> {
    let security = serde_json::to_value(&operation.security).unwrap_or_default();
    let scopes = security.pointer("/0/bearer").and_then(Value::as_array).cloned().unwrap_or_default();
    scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

/// The bodies the handlers build with `json!` (`job_json`, `connector_json`, `event_json`, …), as
/// JSON Schema added to the serialised document (utoipa's `Schema` does not read every keyword).
fn schemas() -> Vec<(&'static str, Value)> {
    let job = json!({"$ref": "#/components/schemas/Job"});
    let nullable_string = json!({"type": ["string", "null"]});
    let nullable_integer = json!({"type": ["integer", "null"]});
    vec![
        (
            "Error",
            json!({
                "type": "object",
                "description": "The admin API's error body (DESIGN.md §7).",
                "required": ["code", "name", "message"],
                "properties": {
                    "code": {"type": "integer", "description": "The documented code (2700–2715), or 0 where the documentation has none"},
                    "name": {"type": "string", "description": "Such as SYNC_JOB_NOT_FOUND"},
                    "message": {"type": "string", "description": "What went wrong and what to do"}
                }
            }),
        ),
        (
            "Job",
            json!({
                "description": "A job with its progress.",
                "allOf": [
                    {"$ref": "#/components/schemas/JobRow"},
                    {
                        "type": "object",
                        "required": ["progress"],
                        "properties": {
                            "progress": {
                                "type": "object",
                                "required": ["processed", "total"],
                                "properties": {"processed": {"type": "integer"}, "total": nullable_integer}
                            }
                        }
                    }
                ]
            }),
        ),
        (
            "JobList",
            json!({
                "type": "object",
                "required": ["totalResults", "startIndex", "itemsPerPage", "Resources"],
                "properties": {
                    "totalResults": {"type": "integer"},
                    "startIndex": {"type": "integer"},
                    "itemsPerPage": {"type": "integer"},
                    "Resources": {"type": "array", "items": job}
                }
            }),
        ),
        (
            "RunList",
            json!({
                "type": "object",
                "required": ["totalResults", "Resources"],
                "properties": {
                    "totalResults": {"type": "integer"},
                    "Resources": {"type": "array", "items": job}
                }
            }),
        ),
        (
            "Connector",
            json!({
                "type": "object",
                "required": ["id", "name", "kind", "config", "missingPolicy", "cursor", "created", "schedule",
                    "nextRun", "enabled", "retryAttempts", "retryBackoffSeconds", "guardPercent", "guardCount",
                    "location"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "kind": {"type": "string", "description": "ldap, azure, google or csv"},
                    "config": {"description": "The kind's settings, as stored"},
                    "missingPolicy": {"type": "string", "description": "deactivate, keep or delete"},
                    "cursor": {"type": ["string", "null"], "description": "Where the next incremental run starts; null until a full run"},
                    "created": {"type": "string", "format": "date-time"},
                    "schedule": {"type": ["string", "null"], "description": "The cron expression"},
                    "nextRun": {"type": ["string", "null"], "format": "date-time"},
                    "enabled": {"type": "boolean"},
                    "retryAttempts": {"type": ["integer", "null"], "description": "null: the server's sync.retry_attempts"},
                    "retryBackoffSeconds": {"type": ["integer", "null"], "description": "null: the server's sync.retry_backoff_seconds"},
                    "guardPercent": {"type": ["integer", "null"], "description": "null: the server's sync.guard_percent"},
                    "guardCount": {"type": ["integer", "null"], "description": "null: the server's sync.guard_count"},
                    "location": {"type": "string", "description": "/admin/v1/connectors/{id}"}
                }
            }),
        ),
        (
            "ConnectorList",
            json!({
                "type": "object",
                "required": ["totalResults", "Resources"],
                "properties": {
                    "totalResults": {"type": "integer"},
                    "Resources": {"type": "array", "items": {"$ref": "#/components/schemas/Connector"}}
                }
            }),
        ),
        (
            "AuditEvent",
            json!({
                "type": "object",
                "required": ["seq", "time", "actor", "actorRole", "actorName", "jobId", "action", "resourceType",
                    "resourceId", "changes", "requestId", "source", "prevHash", "hash"],
                "properties": {
                    "seq": {"type": "integer"},
                    "time": {"type": "string", "format": "date-time"},
                    "actor": {"type": "string", "description": "A token id, cli or system"},
                    "actorRole": nullable_string,
                    "actorName": nullable_string,
                    "jobId": nullable_string,
                    "action": {"type": "string", "description": "Such as user.create"},
                    "resourceType": nullable_string,
                    "resourceId": nullable_string,
                    "changes": {
                        "type": "object",
                        "description": "Per changed top-level attribute, its old and new value (secrets redacted)",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"old": {}, "new": {}}
                        }
                    },
                    "requestId": nullable_string,
                    "source": {"type": "string", "description": "scim, admin, cli, csv or connector:<name>"},
                    "prevHash": {"type": "string", "description": "The hash of the tenant's previous event"},
                    "hash": {"type": "string", "description": "Over prevHash and this event's content"}
                }
            }),
        ),
        (
            "AuditPage",
            json!({
                "type": "object",
                "required": ["itemsPerPage", "nextCursor", "Resources"],
                "properties": {
                    "itemsPerPage": {"type": "integer"},
                    "nextCursor": {"type": ["string", "null"], "description": "Send as cursor for the next page; null on the last"},
                    "Resources": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}}
                }
            }),
        ),
        (
            "ProvenanceReport",
            json!({
                "type": "object",
                "required": ["id", "resourceType", "attributes"],
                "properties": {
                    "id": {"type": "string"},
                    "resourceType": {"type": "string", "description": "User or Group"},
                    "attributes": {"type": "array", "items": {"$ref": "#/components/schemas/Provenance"}}
                }
            }),
        ),
        (
            "Token",
            json!({
                "type": "object",
                "description": "An API token of the tenant, never with its secret or hash.",
                "required": ["id", "role", "client", "created", "revoked", "location"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "role": {"$ref": "#/components/schemas/Role"},
                    "client": {"type": ["string", "null"], "description": "The client a scim token is for, such as okta; null when none"},
                    "created": {"type": "string", "format": "date-time"},
                    "revoked": {"type": ["string", "null"], "format": "date-time", "description": "When it was revoked; null while it is live"},
                    "location": {"type": "string", "description": "/admin/v1/tokens/{id}"}
                }
            }),
        ),
        (
            "NewToken",
            json!({
                "description": "A token just created, with its secret: shown in this response only.",
                "allOf": [
                    {"$ref": "#/components/schemas/Token"},
                    {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": {"type": "string", "description": "The secret to send as `Authorization: Bearer <token>`: scimd_ and 64 hex digits"}
                        }
                    }
                ]
            }),
        ),
        (
            "TokenPage",
            json!({
                "type": "object",
                "required": ["itemsPerPage", "nextCursor", "Resources"],
                "properties": {
                    "itemsPerPage": {"type": "integer"},
                    "nextCursor": {"type": ["string", "null"], "description": "Send as cursor for the next page; null on the last"},
                    "Resources": {"type": "array", "items": {"$ref": "#/components/schemas/Token"}}
                }
            }),
        ),
        (
            "Tenant",
            json!({
                "type": "object",
                "required": ["id", "name", "created"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "created": {"type": "string", "format": "date-time"}
                }
            }),
        ),
        (
            "CsvUpload",
            json!({
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {"type": "string", "contentMediaType": "text/csv", "description": "The CSV file, with its file name"}
                }
            }),
        ),
    ]
}
