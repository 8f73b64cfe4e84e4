//! Stored rows to SCIM resources: the document plus `id`, `meta`, `schemas`, the scimd extension's
//! server-owned fields and the computed `groups`/`members`.

use scimd_schemas::ScimError;
use scimd_schemas::resource::document_schemas;
use scimd_schemas::schema::{ResourceKind, ResourceSchema, SCIMD_USER};
use serde_json::{Map, Value, json};

use crate::store::{MemberRow, ResourceRow};

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Parses `W/"7"` / `"7"` (If-Match, If-None-Match) into a version.
pub fn parse_etag(value: &str) -> Option<i64> {
    value.trim().trim_start_matches("W/").trim_matches('"').parse().ok()
}

/// `groups` of a user or `members` of a group; `display` only when `with_display`.
pub(crate) fn related_list(base_url: &str, kind: ResourceKind, rows: &[&MemberRow], with_display: bool) -> Value {
    let items = rows
        .iter()
        .map(|row| {
            let endpoint = match (kind, row.kind.as_str()) {
                (ResourceKind::Group, "Group") | (ResourceKind::User, _) => "Groups",
                _ => "Users",
            };
            let mut item = Map::new();
            item.insert("value".into(), json!(row.value));
            item.insert("$ref".into(), json!(format!("{base_url}/{endpoint}/{}", row.value)));
            if let Some(display) = row.display.as_ref().filter(|_| with_display) {
                item.insert("display".into(), json!(display));
            }
            item.insert("type".into(), json!(row.kind));
            Value::Object(item)
        })
        .collect();
    Value::Array(items)
}

/// The full resource (before projection). `related` are its members (groups) or groups (users),
/// or `None` when they were not loaded because the response will not show them.
pub fn render(
    schema: &ResourceSchema,
    base_url: &str,
    row: &ResourceRow,
    related: Option<&[&MemberRow]>,
) -> Result<Value, ScimError> {
    let mut doc: Value = serde_json::from_str(&row.doc)
        .map_err(|e| ScimError::new(500, None, format!("stored document of {} is corrupt: {e}", row.id)))?;
    let kind = schema.kind;
    if kind == ResourceKind::User {
        // `returned: request` in the schema: a client reads back the extension exactly as it wrote
        // it, and asks for these server-owned values by name.
        let status = if row.active == Some(false) { "inactive" } else { "active" };
        let ext = doc
            .as_object_mut()
            .map(|d| d.entry(SCIMD_USER).or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut);
        if let Some(ext) = ext {
            ext.insert("status".into(), json!(status));
            ext.insert("managingEntity".into(), json!(row.managing_entity));
            if let Some(reason) = &row.deactivation_reason {
                ext.insert("deactivationReason".into(), json!(reason));
            }
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), json!(document_schemas(schema, &doc)));
    out.insert("id".into(), json!(row.id));
    if let Value::Object(fields) = doc {
        out.extend(fields);
    }
    if let Some(related) = related.filter(|r| !r.is_empty()) {
        let name = if kind == ResourceKind::User { "groups" } else { "members" };
        out.insert(name.into(), related_list(base_url, kind, related, true));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": row.created,
            "lastModified": row.last_modified,
            "location": format!("{base_url}{}/{}", kind.endpoint(), row.id),
            "version": etag(row.version),
        }),
    );
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_round_trip() {
        assert_eq!(parse_etag(&etag(7)), Some(7));
        assert_eq!(parse_etag("\"12\""), Some(12));
        assert_eq!(parse_etag("*"), None);
    }
}
