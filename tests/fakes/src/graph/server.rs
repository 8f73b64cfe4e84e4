//! The HTTP side: the token endpoint (`/{tenant}/oauth2/v2.0/token`, client credentials checked),
//! `/v1.0/users/delta`, `/v1.0/groups/delta`, `/v1.0/groups/{id}/members`, injected faults and a
//! request log, and `/_admin/…` for the benchmark (changing users from outside the process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use super::delta::{self, Collection, Position};
use super::directory::Directory;

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Graph's page size without a `Prefer: odata.maxpagesize`.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 999;

/// An answer given instead of the real one: to the request matching `path` (a substring of the
/// path and query) after `skip` such requests went through, `times` times in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub path: String,
    pub skip: usize,
    pub times: usize,
    pub status: u16,
    pub retry_after: Option<u64>,
}

/// A request as the fake answered it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    /// Path and query.
    pub target: String,
    pub status: u16,
}

pub struct Credentials {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
}

pub struct Shared {
    pub directory: Mutex<Directory>,
    pub credentials: Credentials,
    pub base: Mutex<String>,
    pub tokens: Mutex<Tokens>,
    pub faults: Mutex<Vec<Fault>>,
    /// How long every answer waits before it is given (a slow tenant).
    pub latency: Mutex<Duration>,
    pub log: Mutex<Vec<Logged>>,
}

#[derive(Default)]
pub struct Tokens {
    /// Token → when it expires.
    pub valid: HashMap<String, Instant>,
    pub issued: u64,
    pub lifetime_seconds: u64,
}

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1.0/users/delta", get(users_delta))
        .route("/v1.0/groups/delta", get(groups_delta))
        .route("/v1.0/groups/{id}/members", get(members))
        .route("/_admin/change-users", post(change_users))
        .route("/_admin/expire-delta-tokens", post(expire_delta_tokens))
        .layer(middleware::from_fn_with_state(shared.clone(), faults_and_log))
        .with_state(shared)
}

async fn faults_and_log(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or_else(String::new, |p| p.as_str().to_owned());
    let injected = {
        let mut faults = lock(&shared.faults);
        let fault = faults.iter_mut().find(|fault| target.contains(&fault.path) && fault.times > 0).and_then(|fault| {
            if fault.skip > 0 {
                fault.skip -= 1;
                None
            } else {
                fault.times -= 1;
                Some(fault.clone())
            }
        });
        faults.retain(|fault| fault.times > 0);
        fault
    };
    let latency = *lock(&shared.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match injected {
        Some(fault) => {
            let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match fault.status {
                401 => "InvalidAuthenticationToken",
                429 => "TooManyRequests",
                _ => "serviceNotAvailable",
            };
            let mut response = graph_error(status, code, "injected by the fake").into_response();
            if let Some(seconds) = fault.retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
        None => next.run(request).await,
    };
    lock(&shared.log).push(Logged { at: Instant::now(), target, status: response.status().as_u16() });
    response
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}})))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description, "error_codes": [0]}))).into_response()
}

async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let credentials = &shared.credentials;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if tenant != credentials.tenant {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "AADSTS90002: Tenant not found.");
    }
    if field("grant_type") != "client_credentials" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "AADSTS70003: unsupported grant type");
    }
    if field("client_id") != credentials.client_id {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client", "AADSTS700016: Application not found.");
    }
    if field("client_secret") != credentials.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if field("scope") != GRAPH_SCOPE {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "AADSTS1002012: The provided scope is invalid.");
    }
    let mut tokens = lock(&shared.tokens);
    tokens.issued += 1;
    let token = format!("fake-token-{}", tokens.issued);
    let lifetime = tokens.lifetime_seconds;
    tokens.valid.insert(token.clone(), Instant::now() + Duration::from_secs(lifetime));
    Json(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}))
        .into_response()
}

/// Whether the request carries a token the fake issued and that has not expired.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.is_some_and(|token| lock(&shared.tokens).valid.get(token).is_some_and(|expiry| *expiry > Instant::now()))
}

fn unauthorized() -> Response {
    graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        .into_response()
}

fn page_size(headers: &HeaderMap) -> usize {
    let prefer = headers.get("prefer").and_then(|v| v.to_str().ok()).unwrap_or_default();
    prefer
        .split(',')
        .find_map(|part| part.trim().strip_prefix("odata.maxpagesize=")?.parse().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE)
}

async fn users_delta(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    delta_round(&shared, Collection::Users, &headers, &query)
}

async fn groups_delta(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    delta_round(&shared, Collection::Groups, &headers, &query)
}

fn delta_round(
    shared: &Shared,
    collection: Collection,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Response {
    if !authorized(shared, headers) {
        return unauthorized();
    }
    let select_text = query.get("$select").cloned().unwrap_or_else(|| "displayName".to_owned());
    let select: Vec<String> = select_text.split(',').map(|name| name.trim().to_owned()).collect();
    let directory = lock(&shared.directory);
    let gone = || {
        graph_error(StatusCode::GONE, "syncStateNotFound", "The sync state is no longer valid: start a new round.")
            .into_response()
    };
    let at = if let Some(token) = query.get("$skiptoken") {
        match Position::parse_skip_token(token) {
            Some(at) if at.since.is_some_and(|since| since < directory.tokens_valid_from) => return gone(),
            Some(at) => at,
            None => return graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid skip token.").into_response(),
        }
    } else if let Some(token) = query.get("$deltatoken") {
        match token.parse::<u64>() {
            Ok(since) if since >= directory.tokens_valid_from && since <= directory.version => {
                Position { since: Some(since), snapshot: directory.version, after: None, offset: 0 }
            }
            _ => return gone(),
        }
    } else {
        Position { since: None, snapshot: directory.version, after: None, offset: 0 }
    };
    let page = delta::page(&directory, collection, &select, &at, page_size(headers));
    drop(directory);
    let base = lock(&shared.base).clone();
    let name = collection.name();
    let mut body =
        json!({"@odata.context": format!("{base}/v1.0/$metadata#{name}({select_text})"), "value": page.value});
    match page.next {
        Some(next) => {
            body["@odata.nextLink"] =
                json!(format!("{base}/v1.0/{name}/delta?$skiptoken={}&$select={select_text}", next.skip_token()));
        }
        None => {
            body["@odata.deltaLink"] =
                json!(format!("{base}/v1.0/{name}/delta?$deltatoken={}&$select={select_text}", at.snapshot));
        }
    }
    Json(body).into_response()
}

async fn members(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let skip: usize = query.get("$skiptoken").and_then(|token| token.parse().ok()).unwrap_or(0);
    let size = page_size(&headers);
    let directory = lock(&shared.directory);
    let Some(group) = directory.groups.get(&id) else {
        return graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist.")
            .into_response();
    };
    let value: Vec<Value> = group
        .members
        .iter()
        .skip(skip)
        .take(size)
        .map(|(member, (kind, _))| json!({"@odata.type": kind.odata_type(), "id": member}))
        .collect();
    let more = group.members.len() > skip + size;
    drop(directory);
    let base = lock(&shared.base).clone();
    let mut body = json!({"@odata.context": format!("{base}/v1.0/$metadata#directoryObjects(id)"), "value": value});
    if more {
        body["@odata.nextLink"] =
            json!(format!("{base}/v1.0/groups/{id}/members?$select=id&$skiptoken={}", skip + size));
    }
    Json(body).into_response()
}

/// Gives the first `count` users a new job title (the benchmark's incremental changes).
async fn change_users(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let count: usize = query.get("count").and_then(|count| count.parse().ok()).unwrap_or(0);
    let mut directory = lock(&shared.directory);
    let ids: Vec<String> = directory.users.keys().take(count).cloned().collect();
    let title = format!("Changed {}", directory.version);
    for id in &ids {
        let properties = json!({"jobTitle": title}).as_object().cloned().unwrap_or_default();
        directory.update_user(id, properties);
    }
    Json(json!({"changed": ids.len()})).into_response()
}

async fn expire_delta_tokens(State(shared): State<Arc<Shared>>) -> Response {
    lock(&shared.directory).expire_tokens();
    StatusCode::NO_CONTENT.into_response()
}
