//! The SCIM 2.0 service provider under `/scim/v2`.

mod auth;
mod bulk;
mod cursor;
mod cursor_page;
mod discovery;
mod error;
mod json;
pub mod list;
mod render;
mod resources;
mod search;
mod wire;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{MethodRouter, get, post};
use scimd_schemas::ScimError;
use scimd_schemas::schema::ResourceKind;

pub use auth::Caller;
pub use cursor::CursorCodec;
pub use error::{ApiError, SCIM_CONTENT_TYPE, scim_error_response};
pub use json::ScimJson;

use crate::config::Config;
use crate::http::AppState;

/// The base URL of the SCIM API as the client reached it, for `meta.location`.
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(url) = &state.config.server.public_url {
            return Ok(BaseUrl(format!("{}/scim/v2", url.trim_end_matches('/'))));
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| state.config.server.listen.to_string());
        Ok(BaseUrl(format!("http://{host}/scim/v2")))
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError(ScimError::new(405, None, "method not allowed on this endpoint"))
}

pub async fn not_found() -> ApiError {
    ApiError(ScimError::not_found("no such endpoint: SCIM resources are under /scim/v2 (Users, Groups, Schemas, …)"))
}

fn read_only(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(method_not_allowed)
}

fn collection(kind: ResourceKind) -> MethodRouter<AppState> {
    get(move |state: State<AppState>, caller: Caller, base: BaseUrl, query: Query<Vec<(String, String)>>| {
        resources::list(kind, state, caller, base, query)
    })
    .post(
        move |state: State<AppState>,
              caller: Caller,
              base: BaseUrl,
              query: Query<Vec<(String, String)>>,
              body: ScimJson| { resources::create(kind, state, caller, base, query, body) },
    )
    .fallback(method_not_allowed)
}

type Pairs = Query<Vec<(String, String)>>;

fn search_endpoint(kind: ResourceKind) -> MethodRouter<AppState> {
    post(move |s: State<AppState>, c: Caller, b: BaseUrl, body: ScimJson| search::search(kind, s, c, b, body))
        .fallback(method_not_allowed)
}

fn member(kind: ResourceKind) -> MethodRouter<AppState> {
    get(move |s: State<AppState>, c: Caller, b: BaseUrl, id: Path<String>, h: axum::http::HeaderMap, q: Pairs| {
        resources::get(kind, s, c, b, id, h, q)
    })
    .put(
        move |s: State<AppState>,
              c: Caller,
              b: BaseUrl,
              id: Path<String>,
              h: axum::http::HeaderMap,
              q: Pairs,
              body: ScimJson| { resources::replace(kind, s, c, b, id, h, q, body) },
    )
    .patch(
        move |s: State<AppState>,
              c: Caller,
              b: BaseUrl,
              id: Path<String>,
              h: axum::http::HeaderMap,
              q: Pairs,
              body: ScimJson| { resources::patch(kind, s, c, b, id, h, q, body) },
    )
    .delete(move |s: State<AppState>, c: Caller, id: Path<String>, h: axum::http::HeaderMap| {
        resources::delete(kind, s, c, id, h)
    })
    .fallback(method_not_allowed)
}

/// `/Bulk` takes bodies up to its own limit, which `server.max_body_bytes` does not cap.
fn bulk_endpoint(max_payload_bytes: usize) -> MethodRouter<AppState> {
    post(bulk::bulk).layer(DefaultBodyLimit::max(max_payload_bytes)).fallback(method_not_allowed)
}

pub fn routes(config: &Config) -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", read_only(get(discovery::service_provider_config)))
        .route("/ResourceTypes", read_only(get(discovery::resource_types)))
        .route("/ResourceTypes/{id}", read_only(get(discovery::resource_type_by_id)))
        .route("/Schemas", read_only(get(discovery::schemas)))
        .route("/Schemas/{id}", read_only(get(discovery::schema_by_id)))
        .route("/.search", post(search::search_all).fallback(method_not_allowed))
        .route("/Bulk", bulk_endpoint(config.scim.bulk.max_payload_bytes))
        .route("/Users", collection(ResourceKind::User))
        // A static segment wins over `{id}`, so `.search` is never taken for an id.
        .route("/Users/.search", search_endpoint(ResourceKind::User))
        .route("/Users/{id}", member(ResourceKind::User))
        .route("/Groups", collection(ResourceKind::Group))
        .route("/Groups/.search", search_endpoint(ResourceKind::Group))
        .route("/Groups/{id}", member(ResourceKind::Group))
        .fallback(not_found)
}
