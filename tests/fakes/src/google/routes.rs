//! The HTTP side: the token endpoint and the Directory API's list methods, with Google's error
//! bodies, bearer checks and the faults a test asked for.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::account::{JWT_BEARER_GRANT, check_assertion};
use super::directory::{CUSTOMER_ID, Slice};
use super::{FaultKind, Route, Shared};

/// Access tokens live an hour, as Google's do.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(token))
        .route("/admin/directory/v1/users", get(users))
        .route("/admin/directory/v1/groups", get(groups))
        .route("/admin/directory/v1/groups/{group_key}/members", get(members))
        .with_state(shared)
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    assertion: Option<String>,
}

async fn token(State(shared): State<Arc<Shared>>, Form(request): Form<TokenRequest>) -> Response {
    shared.counts.lock().expect("counts").entry(Route::Token).and_modify(|n| *n += 1).or_insert(1);
    if let Some(fault) = shared.take_fault(Route::Token, 0) {
        return fault_response(&shared, fault, None);
    }
    let oauth_error = |status: u16, error: &str, description: &str| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(json!({"error": error, "error_description": description}))).into_response()
    };
    if request.grant_type.as_deref() != Some(JWT_BEARER_GRANT) {
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(assertion) = request.assertion else {
        return oauth_error(400, "invalid_request", "Missing required parameter: assertion");
    };
    if let Err(refusal) = check_assertion(&shared.account, &shared.admin_email, &shared.token_uri, &assertion) {
        return oauth_error(refusal.status, refusal.error, &refusal.description);
    }
    let number = shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let access_token = format!("ya29.fake-{number}-{:032x}", rand::random::<u128>());
    shared.tokens.lock().expect("tokens").insert(access_token.clone(), Instant::now() + TOKEN_LIFETIME);
    Json(json!({"access_token": access_token, "expires_in": TOKEN_LIFETIME.as_secs(), "token_type": "Bearer"}))
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    customer: Option<String>,
    domain: Option<String>,
    max_results: Option<usize>,
    page_token: Option<String>,
}

/// Google's error body.
fn api_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let domain =
        if reason.ends_with("RateLimitExceeded") || reason == "rateLimitExceeded" { "usageLimits" } else { "global" };
    let body = json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        "status": match status.as_u16() {
            401 => "UNAUTHENTICATED", 403 => "PERMISSION_DENIED", 404 => "NOT_FOUND", 429 => "RESOURCE_EXHAUSTED",
            400 => "INVALID_ARGUMENT", _ => "UNAVAILABLE",
        },
    }});
    (status, Json(body)).into_response()
}

fn fault_response(shared: &Shared, fault: FaultKind, bearer: Option<&str>) -> Response {
    match fault {
        FaultKind::RateLimited => api_error(StatusCode::FORBIDDEN, "rateLimitExceeded", "Rate Limit Exceeded"),
        FaultKind::UserRateLimited => {
            api_error(StatusCode::FORBIDDEN, "userRateLimitExceeded", "User Rate Limit Exceeded")
        }
        FaultKind::TooManyRequests { retry_after_seconds } => {
            let mut response = api_error(StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded", "Quota exceeded");
            if let Some(seconds) = retry_after_seconds {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        FaultKind::ServerError(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            api_error(status, "backendError", "Backend Error")
        }
        FaultKind::Forbidden => {
            api_error(StatusCode::FORBIDDEN, "forbidden", "Not Authorized to access this resource/api")
        }
        FaultKind::ExpireToken => {
            if let Some(token) = bearer {
                shared.tokens.lock().expect("tokens").remove(token);
            }
            unauthenticated()
        }
    }
}

fn unauthenticated() -> Response {
    api_error(
        StatusCode::UNAUTHORIZED,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid \
         authentication credential.",
    )
}

/// The bearer token, if it is one the token endpoint issued and it has not expired.
fn authorized<'h>(shared: &Shared, headers: &'h HeaderMap) -> Option<&'h str> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    let tokens = shared.tokens.lock().expect("tokens");
    tokens.get(token).is_some_and(|expires| *expires > Instant::now()).then_some(token)
}

/// `{page}.{position}`: opaque to clients, the page number lets tests aim faults at a page.
fn parse_token(token: Option<&str>) -> Option<(usize, u64)> {
    let Some(token) = token else { return Some((0, 0)) };
    token.split_once('.').and_then(|(page, at)| Some((page.parse().ok()?, at.parse().ok()?)))
}

/// The checks every list makes before its own: faults, bearer, paging parameters.
async fn prologue(
    shared: &Shared,
    route: Route,
    headers: &HeaderMap,
    query: &ListQuery,
    max: usize,
) -> Result<(usize, u64, usize), Response> {
    shared.counts.lock().expect("counts").entry(route).and_modify(|n| *n += 1).or_insert(1);
    let latency = *shared.latency.lock().expect("latency");
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some(bearer) = authorized(shared, headers) else { return Err(unauthenticated()) };
    let Some((page, position)) = parse_token(query.page_token.as_deref()) else {
        return Err(api_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Input: pageToken"));
    };
    if let Some(fault) = shared.take_fault(route, page) {
        return Err(fault_response(shared, fault, Some(bearer)));
    }
    let size = query.max_results.unwrap_or(max.min(200));
    if size == 0 || size > max {
        return Err(api_error(StatusCode::BAD_REQUEST, "invalid", "Invalid Input: maxResults"));
    }
    Ok((page, position, size))
}

/// A list needs `customer` (`my_customer` or the id) or `domain`.
fn scope_is_valid(query: &ListQuery) -> bool {
    match (&query.customer, &query.domain) {
        (Some(customer), _) => customer == "my_customer" || customer == CUSTOMER_ID,
        (None, domain) => domain.is_some(),
    }
}

fn list_reply(kind: &str, items_key: &str, page: usize, slice: Slice) -> Response {
    let mut body = json!({"kind": kind, "etag": format!("\"etag-{kind}-{page}\"")});
    if !slice.items.is_empty() {
        body[items_key] = Value::Array(slice.items);
    }
    if let Some(next) = slice.next {
        body["nextPageToken"] = json!(format!("{}.{next}", page + 1));
    }
    Json(body).into_response()
}

async fn users(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let (page, position, size) = match prologue(&shared, Route::Users, &headers, &query, 500).await {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    if !scope_is_valid(&query) {
        return api_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
    }
    let slice = shared.directory.lock().expect("directory").users(position, size, query.domain.as_deref());
    list_reply("admin#directory#users", "users", page, slice)
}

async fn groups(State(shared): State<Arc<Shared>>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let (page, position, size) = match prologue(&shared, Route::Groups, &headers, &query, 200).await {
        Ok(paging) => paging,
        Err(response) => return response,
    };
    if !scope_is_valid(&query) {
        return api_error(StatusCode::BAD_REQUEST, "badRequest", "Bad Request");
    }
    let slice = shared.directory.lock().expect("directory").groups(position, size, query.domain.as_deref());
    list_reply("admin#directory#groups", "groups", page, slice)
}

async fn members(
    State(shared): State<Arc<Shared>>,
    Path(group_key): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let in_flight = shared.members_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_members_in_flight.fetch_max(in_flight, Ordering::SeqCst);
    let response = match prologue(&shared, Route::Members, &headers, &query, 200).await {
        Err(response) => response,
        Ok((page, position, size)) => {
            let slice = shared.directory.lock().expect("directory").members(&group_key, position, size);
            match slice {
                Some(slice) => list_reply("admin#directory#members", "members", page, slice),
                None => api_error(StatusCode::NOT_FOUND, "notFound", "Resource Not Found: groupKey"),
            }
        }
    };
    shared.members_in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}
