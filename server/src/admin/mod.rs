//! The admin API under `/admin/v1` (admin-role tokens; auditor tokens read jobs, the audit log
//! and the token list; tenant from the token). Errors use the
//! `{"code", "name", "message"}` body of DESIGN.md §7 with the documented codes (2700–2715);
//! `code` 0 marks errors the documentation has no number for. `openapi` describes every route
//! (`/admin/v1/openapi.json`, `/admin/v1/docs` and its script, `/admin/v1/docs/scalar-<version>.js`).

mod audit;
mod connectors;
mod csv_sync;
mod jobs;
mod openapi;
mod runs;
mod scalar;
mod tokens;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};

use crate::http::AppState;
use crate::scim::Caller;
use crate::store::{Role, StoreError};
use crate::sync::JobError;

/// Every admin route with its handlers. The router is built from this table, and the tests walk
/// its paths (`route_paths`): auditors cannot write on any, and each is in the OpenAPI document
/// with exactly the methods the router has, so a new route is covered there too.
fn route_table() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/jobs", get(jobs::list)),
        ("/jobs/{id}", get(jobs::get)),
        ("/jobs/{id}/cancel", post(runs::cancel)),
        ("/jobs/{id}/original", get(jobs::original)),
        ("/jobs/{id}/result.csv", get(jobs::result_csv)),
        ("/jobs/{id}/errors.csv", get(jobs::errors_csv)),
        ("/csv-sync", post(csv_sync::upload).layer(DefaultBodyLimit::disable())),
        ("/csv-sync/template", get(csv_sync::template)),
        ("/users/export.csv", get(users::export_csv)),
        ("/users/{id}/links/{connector}", delete(users::unlink)),
        ("/users/{id}/provenance", get(audit::user_provenance)),
        ("/groups/{id}/provenance", get(audit::group_provenance)),
        ("/connectors", get(connectors::list).post(connectors::create)),
        ("/connectors/{id}", get(connectors::get).put(connectors::replace).delete(connectors::delete)),
        ("/connectors/{id}/runs", get(connectors::runs).post(connectors::run)),
        ("/connectors/{id}/runs/{job}/approve", post(runs::approve)),
        ("/connectors/{id}/runs/{job}/reject", post(runs::reject)),
        ("/audit", get(audit::list)),
        ("/audit/export", get(audit::export)),
        ("/tenant", get(tokens::tenant)),
        ("/tokens", get(tokens::list).post(tokens::create)),
        ("/tokens/{id}", get(tokens::get).delete(tokens::revoke)),
        ("/openapi.json", get(openapi::openapi_json)),
        ("/docs", get(openapi::docs)),
        (scalar::ROUTE, get(scalar::script)),
    ]
}

pub fn routes() -> Router<AppState> {
    route_table().into_iter().fold(Router::new(), |router, (path, handlers)| router.route(path, handlers))
}

/// The path of every admin route, under `/admin/v1`.
pub fn route_paths() -> Vec<&'static str> {
    route_table().into_iter().map(|(path, _)| path).collect()
}

pub struct AdminError(pub JobError);

impl From<JobError> for AdminError {
    fn from(e: JobError) -> Self {
        AdminError(e)
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "admin request failed");
        AdminError(JobError::new(500, 0, "INTERNAL_ERROR", "internal server error; the server log has the details"))
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(serde_json::json!({ "code": e.code, "name": e.name, "message": e.message })))
            .into_response()
    }
}

pub type AdminResult<T> = Result<T, AdminError>;

pub fn bad_request(name: &'static str, message: impl Into<String>) -> AdminError {
    AdminError(JobError::new(400, 0, name, message))
}

/// A caller with an admin token. Auditor tokens pass only where a handler reads (`Reader`).
pub struct Admin(pub Caller);

/// A caller allowed to read history: admin or auditor.
pub struct Reader(pub Caller);

async fn caller(parts: &mut Parts, state: &AppState) -> Result<Caller, Response> {
    Caller::from_request_parts(parts, state).await.map_err(|refused| {
        let response = refused.into_response();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return response;
        }
        AdminError(JobError::new(
            401,
            0,
            "UNAUTHORIZED",
            "a valid admin token is required: Authorization: Bearer <token>",
        ))
        .into_response()
    })
}

fn forbidden(role: Role) -> Response {
    let message = format!("a {} token cannot do this; use an admin token of the tenant", role.as_str());
    AdminError(JobError::new(403, 0, "FORBIDDEN", message)).into_response()
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts, state).await?;
        match caller.role {
            Role::Admin => Ok(Admin(caller)),
            role => Err(forbidden(role)),
        }
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = caller(parts, state).await?;
        match caller.role {
            Role::Admin | Role::Auditor => Ok(Reader(caller)),
            role => Err(forbidden(role)),
        }
    }
}
