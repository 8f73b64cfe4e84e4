//! Attributes that are readOnly to SCIM clients but that a connector may own: scimd's `lastAccess`
//! (Graph's last sign-in). PATCH refuses readOnly targets and POST/PUT drop them, as RFC 7644
//! asks for clients, so the engine writes these straight into the document, checked as PATCH
//! would check their type.

use chrono::DateTime;
use scimd_schemas::error::{ScimError, ScimResult};
use scimd_schemas::patch::{PatchOp, PatchOpKind};
use scimd_schemas::schema::SCIMD_USER;
use serde_json::Value;

const LAST_ACCESS: &str = "lastAccess";

/// Whether `op` sets an attribute the engine writes itself.
pub fn is_source_owned(op: &PatchOp) -> bool {
    op.path.as_deref().is_some_and(|path| {
        path.len() == SCIMD_USER.len() + 1 + LAST_ACCESS.len()
            && path[..SCIMD_USER.len()].eq_ignore_ascii_case(SCIMD_USER)
            && path[SCIMD_USER.len()..].eq_ignore_ascii_case(":lastAccess")
    })
}

/// `doc` with the source-owned operations of `ops` applied (the others are left to PATCH).
pub fn apply(mut doc: Value, ops: &[PatchOp]) -> ScimResult<Value> {
    for op in ops.iter().filter(|op| is_source_owned(op)) {
        let value = match (&op.op, &op.value) {
            (PatchOpKind::Remove, _) | (_, None | Some(Value::Null)) => None,
            (_, Some(Value::String(text))) if DateTime::parse_from_rfc3339(text).is_ok() => Some(text.clone()),
            (_, Some(other)) => {
                return Err(ScimError::invalid_value(format!("lastAccess must be an RFC 3339 dateTime, not {other}")));
            }
        };
        let Some(fields) = doc.as_object_mut() else { continue };
        let extension = fields.entry(SCIMD_USER).or_insert_with(|| Value::Object(Default::default()));
        if let Some(extension) = extension.as_object_mut() {
            match value {
                Some(text) => extension.insert(LAST_ACCESS.to_owned(), Value::String(text)),
                None => extension.remove(LAST_ACCESS),
            };
            if extension.is_empty() {
                fields.remove(SCIMD_USER);
            }
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use scimd_schemas::patch::{PatchOp, PatchOpKind};
    use scimd_schemas::schema::SCIMD_USER;
    use serde_json::json;

    use super::apply;

    fn set(value: serde_json::Value) -> PatchOp {
        PatchOp { op: PatchOpKind::Add, path: Some(format!("{SCIMD_USER}:lastAccess")), value: Some(value) }
    }

    #[test]
    fn sets_checks_and_clears_last_access() {
        let doc = apply(json!({"userName": "a"}), &[set(json!("2026-11-01T08:00:00Z"))]).unwrap();
        assert_eq!(doc[SCIMD_USER]["lastAccess"], "2026-11-01T08:00:00Z");
        assert!(apply(doc.clone(), &[set(json!("yesterday"))]).unwrap_err().detail.contains("lastAccess"));
        let cleared = apply(doc, &[set(json!(null))]).unwrap();
        assert_eq!(cleared, json!({"userName": "a"}));
        let other = PatchOp { op: PatchOpKind::Add, path: Some("title".into()), value: Some(json!("x")) };
        assert_eq!(apply(json!({}), &[other]).unwrap(), json!({}), "other paths are PATCH's");
    }
}
