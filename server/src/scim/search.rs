//! RFC 7644 §3.4.3 `POST …/.search`: the list parameters sent as a `SearchRequest` body, on one
//! resource type (`/Users/.search`, `/Groups/.search`) or on all of them (`/.search`).
//!
//! A root search lists Users, then Groups; `startIndex` and `count` page over that concatenation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use scimd_schemas::filter::parse_filter;
use scimd_schemas::schema::ResourceKind;
use scimd_schemas::{ScimError, ScimType};
use serde_json::Value;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::json::{ScimJson, scim_text_response};
use super::list::{ListParams, list_response, parse_attr_path, parse_sort_order};
use super::resources::{list_page, list_with};
use super::{BaseUrl, cursor_page};
use crate::config::ScimConfig;
use crate::http::AppState;

pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The resource types a root search covers, in the order their results are concatenated.
const ROOT_KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

fn wrong_type(key: &str, expected: &str) -> ScimError {
    ScimError::invalid_syntax(format!("\"{key}\" must be {expected}"))
}

fn string<'v>(key: &str, value: &'v Value) -> Result<&'v str, ScimError> {
    value.as_str().ok_or_else(|| wrong_type(key, "a string"))
}

fn integer(key: &str, value: &Value) -> Result<i64, ScimError> {
    value.as_i64().ok_or_else(|| wrong_type(key, "an integer"))
}

/// `attributes`/`excludedAttributes`: an array of paths (a comma-separated string is accepted
/// too), turned into the comma-separated form of the query string.
fn path_list(key: &str, value: &Value) -> Result<String, ScimError> {
    match value {
        Value::String(list) => Ok(list.clone()),
        Value::Array(items) => {
            let paths: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            Ok(paths.ok_or_else(|| wrong_type(key, "an array of strings"))?.join(","))
        }
        _ => Err(wrong_type(key, "an array of strings")),
    }
}

fn is_search_request(schemas: &Value) -> bool {
    schemas
        .as_array()
        .is_some_and(|urns| urns.iter().any(|urn| urn.as_str().is_some_and(|u| u.eq_ignore_ascii_case(SEARCH_REQUEST))))
}

/// Parses a `SearchRequest` body. Keys match case-insensitively and `null` means absent, as for
/// the query parameters of `GET`; unknown keys are ignored.
pub fn parse_search_request(body: Value, config: &ScimConfig) -> Result<ListParams, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax("the search request body must be a JSON object"));
    };
    let mut params = ListParams::new(config);
    let mut has_schema = false;
    for (key, value) in &body {
        if value.is_null() {
            continue;
        }
        match key.to_ascii_lowercase().as_str() {
            "schemas" => has_schema = is_search_request(value),
            "filter" => params.filter = Some(parse_filter(string(key, value)?)?),
            "sortby" => params.sort_by = Some(parse_attr_path(string(key, value)?)?),
            "sortorder" => params.sort_order = Some(parse_sort_order(string(key, value)?)?),
            "startindex" => params.set_start_index(integer(key, value)?),
            "count" => params.set_count(integer(key, value)?, config),
            "cursor" => params.cursor = Some(string(key, value)?.to_owned()),
            "attributes" => params.attributes = Some(path_list(key, value)?),
            "excludedattributes" => params.excluded_attributes = Some(path_list(key, value)?),
            _ => {}
        }
    }
    if !has_schema {
        return Err(ScimError::invalid_syntax(format!("\"schemas\" must be an array containing \"{SEARCH_REQUEST}\"")));
    }
    params.checked()
}

/// `POST /Users/.search`, `POST /Groups/.search`.
pub async fn search(
    kind: ResourceKind,
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let params = parse_search_request(body, &state.config.scim)?;
    list_with(&state, kind, &caller.tenant_id, &base, &params).await
}

/// `POST /.search`. A filter or `sortBy` naming an attribute one resource type lacks selects
/// nothing from (or does not sort) that type; only when no type accepts it is it an error.
pub async fn search_all(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let params = parse_search_request(body, &state.config.scim)?;
    let sortable = |kind: ResourceKind| {
        params.sort_by.as_ref().filter(|path| state.registry.of(kind).resolve(path).is_ok()).cloned()
    };
    if let Some(path) = &params.sort_by
        && ROOT_KINDS.iter().all(|&kind| sortable(kind).is_none())
    {
        return Err(ApiError(ScimError::invalid_value(format!(
            "sortBy \"{path}\" names no attribute of any resource type"
        ))));
    }
    if params.cursor.is_some() {
        let kinds = ROOT_KINDS.map(|kind| (kind, sortable(kind)));
        return cursor_page::search_all(&state, &caller.tenant_id, &base, &params, &kinds).await;
    }
    let mut total = 0;
    let mut resources = Vec::new();
    // How many of the concatenated results still lie before the page, and how many it still holds.
    let mut skip = params.start_index - 1;
    let mut room = params.count;
    let mut filter_errors = Vec::new();
    for kind in ROOT_KINDS {
        let window = ListParams { sort_by: sortable(kind), start_index: skip + 1, count: room, ..params.clone() };
        match list_page(&state, kind, &caller.tenant_id, &base, &window).await {
            Ok((matched, page)) => {
                total += matched;
                skip = skip.saturating_sub(matched);
                room -= page.len() as u64;
                resources.extend(page);
            }
            Err(ApiError(e)) if e.scim_type == Some(ScimType::InvalidFilter) => filter_errors.push(e),
            Err(e) => return Err(e),
        }
    }
    if filter_errors.len() == ROOT_KINDS.len() {
        return Err(ApiError(filter_errors.swap_remove(0)));
    }
    Ok(scim_text_response(StatusCode::OK, list_response(&resources, total, params.start_index)))
}
