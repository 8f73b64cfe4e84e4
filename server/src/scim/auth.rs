//! Bearer-token authentication. Every request resolves to a caller with a tenant and a role, and
//! every query it makes is scoped by that tenant (DESIGN.md §6).

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use scimd_schemas::ScimError;

use super::error::ApiError;
use crate::http::{AppState, REQUEST_ID, retry_after_seconds};
use crate::store::{AuditContext, Role, StoreError, hash_token};

#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub tenant_id: String,
    pub role: Role,
    pub client: Option<String>,
    /// The request's `X-Request-Id` (set by the HTTP layer), for the audit log.
    pub request_id: Option<String>,
}

impl Caller {
    /// Who this caller is in the audit log, writing through `source` (`scim` or `admin`).
    pub fn audit(&self, source: &str) -> AuditContext {
        AuditContext {
            actor: self.token_id.clone(),
            role: Some(self.role.as_str().to_owned()),
            name: self.client.clone(),
            job_id: None,
            source: source.to_owned(),
            request_id: self.request_id.clone(),
        }
    }

    /// The managing entity of what this caller creates (DESIGN.md §1).
    pub fn managing_entity(&self) -> String {
        match (self.role, &self.client) {
            (Role::Scim, Some(client)) => format!("scim:{client}"),
            (Role::Scim, None) => "scim".to_owned(),
            _ => "local".to_owned(),
        }
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError(ScimError::new(401, None, detail))
}

/// A request refused before its handler: not authenticated, or over its token's rate.
pub enum Refused {
    Auth(ApiError),
    RateLimited(Duration),
}

impl From<ApiError> for Refused {
    fn from(err: ApiError) -> Self {
        Refused::Auth(err)
    }
}

impl From<StoreError> for Refused {
    fn from(err: StoreError) -> Self {
        Refused::Auth(err.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Auth(err) => err.into_response(),
            Refused::RateLimited(wait) => {
                let seconds = retry_after_seconds(wait);
                let detail = format!("too many requests for this token: retry after {seconds} s");
                let mut response = ApiError(ScimError::new(429, None, detail)).into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                response
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization header: send \"Authorization: Bearer <token>\""))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
        let hash = hash_token(token);
        let row = match state.tokens.get(&hash) {
            Some(row) => row,
            None => {
                let mark = state.tokens.before_read();
                let row =
                    state.store.token_by_hash(&hash).await?.ok_or_else(|| {
                        unauthorized("unknown or revoked token: create one with `scimd token create`")
                    })?;
                state.tokens.insert(hash, row.clone(), mark);
                row
            }
        };
        let role = Role::parse(&row.role).ok_or_else(|| unauthorized("token has an unknown role"))?;
        state.rate_limit.check(&row.id).map_err(Refused::RateLimited)?;
        let request_id = parts.headers.get(REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Caller { token_id: row.id, tenant_id: row.tenant_id, role, client: row.client, request_id })
    }
}

impl Caller {
    /// SCIM resources are read and written by `scim` and `admin` tokens; auditors only read history.
    pub fn require_scim(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Scim | Role::Admin => Ok(()),
            Role::Auditor => Err(ApiError(ScimError::new(403, None, "auditor tokens cannot use the SCIM API"))),
        }
    }
}
