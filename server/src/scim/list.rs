//! List parameters (RFC 7644 §3.4.2) and the `ListResponse` body.

use scimd_schemas::ScimError;
use scimd_schemas::filter::{AttrPath, Filter, parse_filter};

use crate::config::ScimConfig;
use crate::store::SortOrder;

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Query parameters, names matched case-insensitively (IdPs vary in spelling).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: Option<SortOrder>,
    pub start_index: u64,
    /// The request named `startIndex` (index paging).
    pub start_index_given: bool,
    /// RFC 9865 cursor paging: Some("") for the first page.
    pub cursor: Option<String>,
    pub count: u64,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

fn integer(name: &str, value: &str) -> Result<i64, ScimError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got {value:?}")))
}

pub fn parse_sort_order(value: &str) -> Result<SortOrder, ScimError> {
    match value.to_ascii_lowercase().as_str() {
        "ascending" => Ok(SortOrder::Ascending),
        "descending" => Ok(SortOrder::Descending),
        _ => Err(ScimError::invalid_value("sortOrder must be \"ascending\" or \"descending\"")),
    }
}

/// Parses `sortBy` (`name.familyName`, `urn:…:User:userName`).
pub fn parse_attr_path(value: &str) -> Result<AttrPath, ScimError> {
    let value = value.trim();
    let (urn, rest) = match value.rsplit_once(':') {
        Some((urn, rest)) if value.starts_with("urn:") => (Some(urn.to_owned()), rest),
        _ => (None, value),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub.to_owned())),
        None => (rest, None),
    };
    if name.is_empty() || sub.as_deref() == Some("") {
        return Err(ScimError::invalid_value(format!("{value:?} is not an attribute path")));
    }
    Ok(AttrPath { urn, name: name.to_owned(), sub })
}

impl ListParams {
    /// The defaults: everything, first page of the configured size.
    pub fn new(config: &ScimConfig) -> ListParams {
        ListParams { start_index: 1, count: u64::from(config.default_page_size), ..Default::default() }
    }

    /// RFC 7644 §3.4.2.4: below 1 means 1.
    pub fn set_start_index(&mut self, value: i64) {
        self.start_index = value.max(1) as u64;
        self.start_index_given = true;
    }

    /// `sortBy` with its order, ascending unless asked otherwise.
    pub fn sort(&self) -> Option<(&AttrPath, SortOrder)> {
        self.sort_by.as_ref().map(|path| (path, self.sort_order.unwrap_or(SortOrder::Ascending)))
    }

    /// The parameters as parsed, unless they contradict each other: `startIndex` and `cursor` each
    /// pick a pagination method (RFC 9865 §2.4), and a request can use only one.
    pub fn checked(self) -> Result<ListParams, ScimError> {
        if self.start_index_given && self.cursor.is_some() {
            return Err(ScimError::invalid_value(
                "startIndex and cursor ask for different pagination methods: send one of them",
            ));
        }
        Ok(self)
    }

    /// RFC 7644 §3.4.2.4: a negative count means 0; above the configured maximum means the maximum.
    pub fn set_count(&mut self, value: i64, config: &ScimConfig) {
        self.count = (value.max(0) as u64).min(u64::from(config.max_page_size));
    }

    /// From the query string of `GET /Users`, `GET /Groups`.
    pub fn parse(pairs: &[(String, String)], config: &ScimConfig) -> Result<ListParams, ScimError> {
        let mut params = ListParams::new(config);
        for (key, value) in pairs {
            match key.to_ascii_lowercase().as_str() {
                "filter" => params.filter = Some(parse_filter(value)?),
                "sortby" => params.sort_by = Some(parse_attr_path(value)?),
                "sortorder" => params.sort_order = Some(parse_sort_order(value)?),
                "startindex" => params.set_start_index(integer("startIndex", value)?),
                "count" => params.set_count(integer("count", value)?, config),
                "cursor" => params.cursor = Some(value.clone()),
                "attributes" => params.attributes = Some(value.clone()),
                "excludedattributes" => params.excluded_attributes = Some(value.clone()),
                _ => {}
            }
        }
        params.checked()
    }
}

/// A `ListResponse` around resources already written as JSON text.
pub fn list_response(resources: &[String], total: u64, start_index: u64) -> String {
    let paging = format!("\"totalResults\":{total},\"startIndex\":{start_index},\"itemsPerPage\":{}", resources.len());
    list_body(&paging, resources)
}

/// A page of a cursor walk (RFC 9865 §2): no `startIndex`, and `nextCursor` unless it is the last.
pub fn cursor_list_response(resources: &[String], total: u64, next: Option<&str>) -> String {
    let mut paging = format!("\"totalResults\":{total},\"itemsPerPage\":{}", resources.len());
    if let Some(next) = next {
        paging.push_str(&format!(",\"nextCursor\":{}", serde_json::Value::from(next)));
    }
    list_body(&paging, resources)
}

fn list_body(paging: &str, resources: &[String]) -> String {
    let mut out = String::with_capacity(128 + resources.iter().map(|r| r.len() + 1).sum::<usize>());
    out.push_str(&format!("{{\"schemas\":[\"{LIST_RESPONSE}\"],{paging},\"Resources\":["));
    for (i, resource) in resources.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(resource);
    }
    out.push_str("]}");
    out
}
