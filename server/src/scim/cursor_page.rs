//! Cursor paging (RFC 9865) of `GET /Users`, `GET /Groups`, their `.search`, and the root `/.search`.
//!
//! `totalResults` is counted once, on a walk's first page, and carried by the cursor: counting a
//! million matches on every page would cost what keyset paging saves (RFC 9865 §2 lets a cursor
//! walk omit it; a count as of the walk's start keeps clients that show progress working).

use axum::http::StatusCode;
use axum::response::Response;
use scimd_schemas::ScimType;
use scimd_schemas::filter::AttrPath;
use scimd_schemas::projection::Projection;
use scimd_schemas::schema::ResourceKind;

use super::cursor::{Cursor, QueryBinding, now_ms};
use super::error::{ApiError, ApiResult};
use super::json::scim_text_response;
use super::list::{ListParams, cursor_list_response};
use super::resources::render_rows;
use crate::http::AppState;
use crate::store::{KeysetQuery, Position};

/// The root search's binding scope: it lists every resource type.
const ROOT_SCOPE: &str = "*";

/// Where the walk of `binding` stands: None on its first page.
fn start(state: &AppState, binding: &QueryBinding, params: &ListParams) -> ApiResult<Option<Cursor>> {
    Ok(state.cursors.decode(binding, params.cursor.as_deref().unwrap_or(""), now_ms())?)
}

fn next_cursor(state: &AppState, binding: &QueryBinding, total: u64, part: usize, after: Option<Position>) -> String {
    state.cursors.encode(binding, &Cursor { issued_ms: now_ms(), total, part, after })
}

/// A page of one resource type.
pub async fn list(
    state: &AppState,
    kind: ResourceKind,
    tenant: &str,
    base: &str,
    params: &ListParams,
) -> ApiResult<Response> {
    let sort = params.sort();
    let binding = QueryBinding::new(tenant, kind.name(), params.filter.as_ref(), sort);
    let start = start(state, &binding, params)?;
    let schema = state.registry.of(kind);
    let projection = Projection::parse(schema, params.attributes.as_deref(), params.excluded_attributes.as_deref())?;
    let query = KeysetQuery {
        filter: params.filter.as_ref(),
        sort,
        after: start.as_ref().and_then(|c| c.after.as_ref()),
        count: params.count,
        with_total: start.is_none(),
    };
    let page = state.store.keyset_page(schema, tenant, &query).await?;
    let total = page.total.or(start.map(|c| c.total)).unwrap_or(0);
    let resources = render_rows(state, schema, base, tenant, &page.rows, &projection).await?;
    let next = page.next.map(|after| next_cursor(state, &binding, total, 0, Some(after)));
    Ok(scim_text_response(StatusCode::OK, cursor_list_response(&resources, total, next.as_deref())))
}

/// A page of the root search: each resource type in `kinds` in turn, with the attribute it sorts
/// by (None where it has no such attribute). A filter that names an attribute one type lacks
/// selects nothing of that type.
pub async fn search_all(
    state: &AppState,
    tenant: &str,
    base: &str,
    params: &ListParams,
    kinds: &[(ResourceKind, Option<AttrPath>)],
) -> ApiResult<Response> {
    let order = params.sort().map(|(_, order)| order);
    let binding = QueryBinding::new(tenant, ROOT_SCOPE, params.filter.as_ref(), params.sort());
    let start = start(state, &binding, params)?;
    let first_page = start.is_none();
    let (first_part, mut total) = start.as_ref().map_or((0, 0), |c| (c.part, c.total));
    let mut resources = Vec::new();
    // Where the next page starts, once known: a resource type and a position in it.
    let mut next: Option<(usize, Option<Position>)> = None;
    let mut filter_errors = Vec::new();
    for (part, (kind, sort_by)) in kinds.iter().enumerate().skip(first_part) {
        let wants_rows = params.count > 0 && next.is_none();
        if !wants_rows && !first_page {
            break;
        }
        // A full page reads one row of the next type only to learn whether there is a next page.
        let room = params.count - resources.len() as u64;
        let probe = wants_rows && room == 0;
        let count = if !wants_rows {
            0
        } else if probe {
            1
        } else {
            room
        };
        let after = start.as_ref().filter(|c| c.part == part).and_then(|c| c.after.as_ref());
        let query = KeysetQuery {
            filter: params.filter.as_ref(),
            sort: sort_by.as_ref().zip(order),
            after,
            count,
            with_total: first_page,
        };
        let schema = state.registry.of(*kind);
        let page = match state.store.keyset_page(schema, tenant, &query).await.map_err(ApiError::from) {
            Err(ApiError(e)) if e.scim_type == Some(ScimType::InvalidFilter) => {
                filter_errors.push(e);
                continue;
            }
            page => page?,
        };
        total += page.total.unwrap_or(0);
        if probe {
            next = (!page.rows.is_empty()).then_some((part, None));
        } else if wants_rows {
            let projection =
                Projection::parse(schema, params.attributes.as_deref(), params.excluded_attributes.as_deref())?;
            resources.extend(render_rows(state, schema, base, tenant, &page.rows, &projection).await?);
            next = page.next.map(|after| (part, Some(after)));
        }
    }
    if filter_errors.len() == kinds.len() {
        return Err(ApiError(filter_errors.swap_remove(0)));
    }
    let next = next.map(|(part, after)| next_cursor(state, &binding, total, part, after));
    Ok(scim_text_response(StatusCode::OK, cursor_list_response(&resources, total, next.as_deref())))
}
