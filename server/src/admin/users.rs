//! Users in the admin API: the CSV export and unlinking a user from a source.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use scimd_schemas::filter::parse_filter;
use scimd_schemas::schema::ResourceKind;
use serde_json::Value;

use super::{Admin, AdminResult, Reader, bad_request};
use crate::http::AppState;
use crate::scim::list::{parse_attr_path, parse_sort_order};
use crate::store::{ListQuery, ResourceRow, SortOrder, Store};
use crate::sync::JobError;

const PAGE: u64 = 1000;
const HEADER: &str = "UserName,UserId,Email,integrations,ActiveStatus,created\r\n";

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// A SCIM filter (RFC 7644 §3.4.2.2) on users, such as `active eq false`.
    filter: Option<String>,
    /// The attribute to sort by, such as `userName`.
    sort_by: Option<String>,
    /// `ascending` (the default) or `descending`.
    sort_order: Option<String>,
    /// Comma-separated user ids: export only these.
    ids: Option<String>,
}

fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The export's filter: the SCIM filter and the `ids` selection, both in the database.
fn export_filter(params: &ExportParams) -> Option<String> {
    let ids = params.ids.as_deref().map(|ids| {
        let terms: Vec<String> = ids
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| format!("id eq {}", quoted(id)))
            .collect();
        if terms.is_empty() { "id eq \"\"".to_owned() } else { terms.join(" or ") }
    });
    match (params.filter.as_deref(), ids) {
        (Some(filter), Some(ids)) => Some(format!("({filter}) and ({ids})")),
        (Some(filter), None) => Some(filter.to_owned()),
        (None, ids) => ids,
    }
}

fn export_rows(rows: &[ResourceRow], links: &[(String, String)]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for row in rows {
        let doc: Value = serde_json::from_str(&row.doc).unwrap_or_default();
        let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let emails: Vec<&str> = doc
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("value").and_then(Value::as_str))
            .collect();
        let mut integrations: Vec<String> = Vec::new();
        if row.managing_entity != "local" {
            integrations.push(row.managing_entity.clone());
        }
        for (_, name) in links.iter().filter(|(id, _)| *id == row.id) {
            let name = format!("connector:{name}");
            if !integrations.contains(&name) {
                integrations.push(name);
            }
        }
        let status = if row.active == Some(false) { "Inactive" } else { "Active" };
        let record = [
            text("displayName"),
            text("userName"),
            emails.join(";"),
            integrations.join(";"),
            status.to_owned(),
            row.created.clone(),
        ];
        writer.write_record(&record).expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("writing to memory cannot fail")
}

/// `GET /admin/v1/users/export.csv?filter=&sortBy=&sortOrder=&ids=`: every matching user, read from
/// the database a page at a time while the response streams.
#[utoipa::path(
    get,
    path = "/admin/v1/users/export.csv",
    operation_id = "exportUsers",
    tag = "users",
    summary = "Export users as CSV",
    description = "Every matching user as CSV (`UserName,UserId,Email,integrations,ActiveStatus,created`), \
        read from the database a page at a time while the response streams.",
    params(ExportParams),
    responses(
        (status = 200, description = "The users, streamed", content_type = "text/csv", body = String),
        (status = 400, description = "`INVALID_FILTER`: the filter does not parse or names an unknown \
            attribute; `INVALID_SORT`: `sortBy` or `sortOrder` is not valid"),
    ),
    security(("bearer" = ["admin", "auditor"])),
)]
pub async fn export_csv(
    State(state): State<AppState>,
    Reader(caller): Reader,
    Query(params): Query<ExportParams>,
) -> AdminResult<Response> {
    let filter = match export_filter(&params) {
        Some(text) => Some(parse_filter(&text).map_err(|e| bad_request("INVALID_FILTER", e.detail))?),
        None => None,
    };
    let sort_by = params
        .sort_by
        .as_deref()
        .map(parse_attr_path)
        .transpose()
        .map_err(|e| bad_request("INVALID_SORT", e.detail))?;
    let order = params
        .sort_order
        .as_deref()
        .map(parse_sort_order)
        .transpose()
        .map_err(|e| bad_request("INVALID_SORT", e.detail))?;
    // Check the filter and sort against the schema before the response starts.
    let schema = state.registry.of(ResourceKind::User);
    let first = ListQuery {
        filter: filter.as_ref(),
        sort: sort_by.as_ref().map(|p| (p, order.unwrap_or(SortOrder::Ascending))),
        start_index: 1,
        count: 0,
    };
    state.store.list_resources(schema, &caller.tenant_id, &first).await.map_err(|e| match e {
        crate::store::StoreError::Scim(e) => bad_request("INVALID_FILTER", e.detail),
        other => other.into(),
    })?;
    let (store, registry, tenant) = (state.store.clone(), state.registry.clone(), caller.tenant_id.clone());
    let pages = stream::unfold(Some(0u64), move |offset| {
        let (store, registry, tenant, filter, sort_by) =
            (store.clone(), registry.clone(), tenant.clone(), filter.clone(), sort_by.clone());
        async move {
            let offset = offset?;
            if offset == 0 {
                return Some((Ok(HEADER.as_bytes().to_vec()), Some(1)));
            }
            let query = ListQuery {
                filter: filter.as_ref(),
                sort: sort_by.as_ref().map(|p| (p, order.unwrap_or(SortOrder::Ascending))),
                start_index: offset,
                count: PAGE,
            };
            let page = page(&store, registry.of(ResourceKind::User), &tenant, &query).await;
            match page {
                Ok((rows, _)) if rows.is_empty() => None,
                Ok((rows, links)) => {
                    let next = offset + rows.len() as u64;
                    Some((Ok(export_rows(&rows, &links)), Some(next)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "user export cut short");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    let disposition = "attachment; filename=\"users.csv\"";
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, disposition)],
        Body::from_stream(pages),
    )
        .into_response())
}

type Page = (Vec<ResourceRow>, Vec<(String, String)>);

async fn page(
    store: &Store,
    schema: &scimd_schemas::schema::ResourceSchema,
    tenant: &str,
    query: &ListQuery<'_>,
) -> crate::store::StoreResult<Page> {
    let (_, rows) = store.list_resources(schema, tenant, query).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let links = store.link_names(tenant, &ids).await?;
    Ok((rows, links))
}

/// `DELETE /admin/v1/users/{id}/links/{connector}`: the user is no longer linked to that source;
/// if the source managed it, it becomes a local user.
#[utoipa::path(
    delete,
    path = "/admin/v1/users/{id}/links/{connector}",
    operation_id = "unlinkUser",
    tag = "users",
    summary = "Unlink a user from a source",
    description = "The user is no longer linked to that connector; if the connector managed it, it \
        becomes a local user that no sync changes.",
    params(
        ("id" = String, Path, description = "The user id"),
        ("connector" = String, Path, description = "The connector's name, such as `csv`"),
    ),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 404, description = "`LINK_NOT_FOUND`: no such connector, or the user is not linked to it"),
    ),
    security(("bearer" = ["admin"])),
)]
pub async fn unlink(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path((id, connector)): Path<(String, String)>,
) -> AdminResult<Response> {
    let not_found = || {
        JobError::new(404, 0, "LINK_NOT_FOUND", format!("user {id:?} has no link to a connector named {connector:?}"))
    };
    let Some(row) = state.store.connector_by_name(&caller.tenant_id, &connector).await? else {
        return Err(not_found().into());
    };
    if state.store.unlink(&caller.tenant_id, &id, &row, &caller.audit("admin")).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found().into())
    }
}
