//! `/admin/v1/tokens` and `/admin/v1/tenant`: the caller's tenant and its API tokens. Admins
//! create and revoke; auditors read. Another tenant's token is answered 404, like an unknown one,
//! so token ids say nothing across tenants.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, AdminError, AdminResult, Reader, bad_request};
use crate::http::AppState;
use crate::store::{Revoked, Role, StoreError, TokenFilter, TokenInfo};
use crate::sync::JobError;

const DEFAULT_COUNT: i64 = 100;
const MAX_COUNT: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only tokens of this role.
    #[param(value_type = Option<Role>)]
    role: Option<String>,
    /// Revoked tokens too, not only live ones.
    #[serde(default)]
    #[param(default = false)]
    include_revoked: bool,
    /// Tokens per page (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    count: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A new token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TokenBody)]
pub struct CreateBody {
    #[schema(value_type = Role)]
    role: String,
    /// For scim tokens only: the client's name, such as `okta`; what the token creates is managed
    /// by `scim:<client>`. Blank is as absent.
    client: Option<String>,
}

fn parse_role(role: &str) -> AdminResult<Role> {
    Role::parse(role).ok_or_else(|| {
        bad_request("INVALID_PARAMETER", format!("role {role:?} is not a token role; use scim, admin or auditor"))
    })
}

fn not_found(id: &str) -> AdminError {
    JobError::new(
        404,
        0,
        "TOKEN_NOT_FOUND",
        format!("no token {id:?} in this tenant; list them with GET /admin/v1/tokens?includeRevoked=true"),
    )
    .into()
}

fn token_json(token: &TokenInfo) -> Value {
    json!({
        "id": token.id,
        "role": token.role,
        "client": token.client,
        "created": token.created,
        "revoked": token.revoked,
        "location": format!("/admin/v1/tokens/{}", token.id),
    })
}

/// The opaque cursor of the position after the token `id`.
fn cursor_after(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("token:{id}"))
}

fn id_of(cursor: &str) -> AdminResult<String> {
    let invalid = || bad_request("INVALID_CURSOR", "the cursor is not one this API returned; start again without it");
    let text = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(text).map_err(|_| invalid())?;
    text.strip_prefix("token:").map(str::to_owned).ok_or_else(invalid)
}

/// A list's parameters, checked; a malformed query is `INVALID_PARAMETER` in the admin error body.
pub struct TokenQuery(ListParams);

impl FromRequestParts<AppState> for TokenQuery {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Query(params) = Query::<ListParams>::from_request_parts(parts, state)
            .await
            .map_err(|e| bad_request("INVALID_PARAMETER", e.body_text()))?;
        Ok(TokenQuery(params))
    }
}

/// `GET /admin/v1/tokens?role=&includeRevoked=&count=&cursor=`: the tenant's tokens, oldest
/// first, live ones unless `includeRevoked=true`; `nextCursor` while more match.
#[utoipa::path(
    get,
    path = "/admin/v1/tokens",
    operation_id = "listTokens",
    tag = "tokens",
    summary = "List tokens",
    description = "The tenant's API tokens, oldest first, live ones unless `includeRevoked=true`, a page \
        at a time: `nextCursor` is set while more match. Never their secrets.",
    params(ListParams),
    responses(
        (status = 200, description = "A page of tokens", body = ref("#/components/schemas/TokenPage")),
        (status = 400, description = "`INVALID_PARAMETER`: an unknown parameter, a role that is not \
            `scim`, `admin` or `auditor`, or a value of the wrong type; `INVALID_CURSOR`: a cursor this \
            API did not return"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn list(
    State(state): State<AppState>,
    Reader(caller): Reader,
    TokenQuery(params): TokenQuery,
) -> AdminResult<Response> {
    let role = params.role.as_deref().map(parse_role).transpose()?;
    let filter = TokenFilter { role, include_revoked: params.include_revoked };
    let count = params.count.unwrap_or(DEFAULT_COUNT).clamp(1, MAX_COUNT);
    let after = params.cursor.as_deref().map(id_of).transpose()?;
    let mut tokens = state.store.list_tokens(&caller.tenant_id, filter, after.as_deref(), count + 1).await?;
    let more = tokens.len() as i64 > count;
    tokens.truncate(count as usize);
    let next = tokens.last().filter(|_| more).map(|token| cursor_after(&token.id));
    let resources: Vec<Value> = tokens.iter().map(token_json).collect();
    Ok(axum::Json(json!({ "itemsPerPage": resources.len(), "nextCursor": next, "Resources": resources }))
        .into_response())
}

/// `GET /admin/v1/tokens/{id}`
#[utoipa::path(
    get,
    path = "/admin/v1/tokens/{id}",
    operation_id = "getToken",
    tag = "tokens",
    summary = "Get a token",
    description = "One of the tenant's tokens, live or revoked; never its secret.",
    params(("id" = String, Path, format = Uuid, description = "The token id")),
    responses(
        (status = 200, description = "The token", body = ref("#/components/schemas/Token")),
        (status = 404, description = "`TOKEN_NOT_FOUND`: no such token in the tenant (another tenant's \
            token is answered the same)"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn get(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    match state.store.token_info(&caller.tenant_id, &id).await {
        Ok(token) => Ok(axum::Json(token_json(&token)).into_response()),
        Err(StoreError::NotFound) => Err(not_found(&id)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/v1/tokens` with `{"role": "scim"|"admin"|"auditor", "client": "okta"}`: 201 with
/// the token, whose secret (`token`) is in this response only.
#[utoipa::path(
    post,
    path = "/admin/v1/tokens",
    operation_id = "createToken",
    tag = "tokens",
    summary = "Create a token",
    description = "A new API token of the tenant. Its secret (`token`) is in this response only: \
        store it now. Recorded in the audit log as `token.create`, without the secret.",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The token with its secret", body = ref("#/components/schemas/NewToken"),
            headers(("Location" = String, description = "`/admin/v1/tokens/{id}`"))),
        (status = 400, description = "`INVALID_PARAMETER`: the body is not such JSON (a missing role, an \
            unknown key, no `Content-Type: application/json`), the role is not `scim`, `admin` or \
            `auditor`, or a client is given for a role other than `scim`"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    payload: Result<axum::Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> AdminResult<Response> {
    let axum::Json(body) = payload.map_err(|e| {
        bad_request(
            "INVALID_PARAMETER",
            format!("{}; send {{\"role\": \"scim\", \"client\": \"okta\"}} as JSON", e.body_text()),
        )
    })?;
    let role = parse_role(&body.role)?;
    let client = body.client.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if role != Role::Scim && client.is_some() {
        return Err(bad_request("INVALID_PARAMETER", "client is for scim tokens only; leave it out"));
    }
    let created = state.store.create_token(&caller.tenant_id, role, client, &caller.audit("admin")).await?;
    let token = state.store.token_info(&caller.tenant_id, &created.id).await?;
    let mut body = token_json(&token);
    body["token"] = Value::String(created.token);
    let location = format!("/admin/v1/tokens/{}", token.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(body)).into_response())
}

/// `DELETE /admin/v1/tokens/{id}`: revokes the token; this server refuses it from the next
/// request on, and so do the others on PostgreSQL (they are notified). Revoking a revoked token
/// changes nothing and answers the same.
#[utoipa::path(
    delete,
    path = "/admin/v1/tokens/{id}",
    operation_id = "revokeToken",
    tag = "tokens",
    summary = "Revoke a token",
    description = "The token is refused from the next request on, by this server and, on PostgreSQL, \
        by the others too (they are notified). Recorded in the audit log as `token.revoke`. Revoking a \
        revoked token changes nothing and answers the same: the token with its first revocation time.",
    params(("id" = String, Path, format = Uuid, description = "The token id")),
    responses(
        (status = 200, description = "The revoked token", body = ref("#/components/schemas/Token")),
        (status = 404, description = "`TOKEN_NOT_FOUND`: no such token in the tenant (another tenant's \
            token is answered the same)"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn revoke(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> AdminResult<Response> {
    let token = match state.store.revoke_token(&caller.tenant_id, &id, &caller.audit("admin")).await {
        Ok(Revoked::Now { token, hash }) => {
            state.tokens.evict(&hash);
            token
        }
        Ok(Revoked::Already(token)) => token,
        Err(StoreError::NotFound) => return Err(not_found(&id)),
        Err(e) => return Err(e.into()),
    };
    Ok(axum::Json(token_json(&token)).into_response())
}

/// `GET /admin/v1/tenant`: the caller's own tenant.
#[utoipa::path(
    get,
    path = "/admin/v1/tenant",
    operation_id = "getTenant",
    tag = "tenant",
    summary = "The token's tenant",
    description = "The tenant the calling token belongs to.",
    responses(
        (status = 200, description = "The tenant", body = ref("#/components/schemas/Tenant")),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn tenant(State(state): State<AppState>, Reader(caller): Reader) -> AdminResult<Response> {
    let tenant = state.store.tenant_by_id(&caller.tenant_id).await?;
    Ok(axum::Json(json!({ "id": tenant.id, "name": tenant.name, "created": tenant.created })).into_response())
}
