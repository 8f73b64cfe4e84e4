//! Writing stored resources as SCIM JSON text directly. Under the default projection a resource is
//! its document's top-level fields copied as they are, plus `schemas`, `id`, computed `groups` or
//! `members`, and `meta`; building and serialising a `serde_json::Value` tree for that was most of
//! the cost of a page of 100 users.

use std::borrow::Cow;
use std::fmt::Write;

use scimd_schemas::schema::{AttributeDef, Mutability, ResourceKind, ResourceSchema, Returned, SCIMD_USER};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use super::render::{etag, related_list};
use crate::store::{MemberRow, ResourceRow};

/// The top-level fields of a JSON object, in order, values unparsed.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// Whether stored documents of this schema render unchanged under the default projection: true
/// unless an attribute a document can hold is `returned: never` or `request` (which the default
/// hides). Documents never hold readOnly attributes, the password, or group members (rows); the
/// one exception, a connector's `lastAccess`, is sent to the general path by [`write_resource`].
pub fn renders_as_stored(schema: &ResourceSchema) -> bool {
    fn plain(attr: &AttributeDef) -> bool {
        attr.mutability == Mutability::ReadOnly
            || attr.name == "password"
            || (matches!(attr.returned, Returned::Always | Returned::Default) && attr.sub_attributes.iter().all(plain))
    }
    let members = |a: &AttributeDef| schema.kind == ResourceKind::Group && a.name == "members";
    schema.schemas().all(|s| s.attributes.iter().all(|a| members(a) || plain(a)))
}

fn string(out: &mut String, s: &str) {
    // Writing a JSON string into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Appends the resource's default representation to `out`; false (nothing written) if the stored
/// document does not parse as an object, which the general path then reports.
pub fn write_resource(
    out: &mut String,
    schema: &ResourceSchema,
    base_url: &str,
    row: &ResourceRow,
    related: Option<&[&MemberRow]>,
) -> bool {
    let Ok(Fields(fields)) = serde_json::from_str::<Fields>(&row.doc) else { return false };
    // `lastAccess` (set by connectors) is `returned: request`: the general path's projection hides
    // it. A note that merely quotes the name takes the general path too, which is only slower.
    if fields.iter().any(|(key, value)| key == SCIMD_USER && value.get().contains("\"lastAccess\"")) {
        return false;
    }
    let kind = schema.kind;
    out.push_str("{\"schemas\":[");
    string(out, &schema.core.id);
    for extension in &schema.extensions {
        if fields.iter().any(|(key, _)| *key == extension.id) {
            out.push(',');
            string(out, &extension.id);
        }
    }
    out.push_str("],\"id\":");
    string(out, &row.id);
    for (key, value) in &fields {
        out.push(',');
        string(out, key);
        out.push(':');
        out.push_str(value.get());
    }
    if let Some(related) = related.filter(|r| !r.is_empty()) {
        out.push_str(if kind == ResourceKind::User { ",\"groups\":" } else { ",\"members\":" });
        // A user's groups show `display`; a group's members show it only on request.
        out.push_str(&related_list(base_url, kind, related, kind == ResourceKind::User).to_string());
    }
    let _ = write!(out, ",\"meta\":{{\"resourceType\":\"{}\",\"created\":", kind.name());
    string(out, &row.created);
    out.push_str(",\"lastModified\":");
    string(out, &row.last_modified);
    out.push_str(",\"location\":");
    string(out, &format!("{base_url}{}/{}", kind.endpoint(), row.id));
    out.push_str(",\"version\":");
    string(out, &etag(row.version));
    out.push_str("}}");
    true
}

#[cfg(test)]
mod tests {
    use scimd_schemas::projection::Projection;
    use scimd_schemas::schema::Registry;
    use serde_json::{Value, json};

    use super::*;
    use crate::scim::render::render;

    fn row(doc: Value, active: Option<bool>) -> ResourceRow {
        ResourceRow {
            id: "0192-id".into(),
            doc: doc.to_string(),
            created: "2026-01-01T00:00:00.000000Z".into(),
            last_modified: "2026-01-02T00:00:00.000000Z".into(),
            version: 3,
            managing_entity: "scim:okta".into(),
            active,
            in_groups: false,
            deactivation_reason: None,
        }
    }

    fn member(owner: &str, value: &str, kind: &str, display: &str) -> MemberRow {
        MemberRow { owner: owner.into(), value: value.into(), kind: kind.into(), display: Some(display.into()) }
    }

    /// The text path must say exactly what the general path (render, then the default projection) says.
    #[track_caller]
    fn same_as_general_path(schema: &ResourceSchema, row: &ResourceRow, related: Option<&[&MemberRow]>) {
        assert!(renders_as_stored(schema));
        let mut text = String::new();
        assert!(write_resource(&mut text, schema, "http://h/scim/v2", row, related));
        let fast: Value = serde_json::from_str(&text).expect("valid JSON");
        let mut general = render(schema, "http://h/scim/v2", row, related).expect("renders");
        Projection::default().apply(schema, &mut general);
        assert_eq!(fast, general);
    }

    #[test]
    fn users_render_the_same_on_both_paths() {
        let registry = Registry::builtin();
        let user = json!({
            "userName": "bjensen", "name": {"givenName": "Barbara"}, "active": false,
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"},
            "urn:ietf:params:scim:schemas:extension:scimd:2.0:User": {"note": "VIP \"quoted\""}
        });
        same_as_general_path(&registry.user, &row(user, Some(false)), None);
        same_as_general_path(&registry.user, &row(json!({"userName": "plain"}), None), Some(&[]));
        let groups = [member("0192-id", "g1", "direct", "Team"), member("0192-id", "g2", "indirect", "Org")];
        let groups: Vec<&MemberRow> = groups.iter().collect();
        same_as_general_path(&registry.user, &row(json!({"userName": "member"}), Some(true)), Some(&groups));
    }

    #[test]
    fn a_last_access_from_a_connector_takes_the_general_path_which_hides_it() {
        let registry = Registry::builtin();
        let ext = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";
        let doc = json!({"userName": "ana", "urn:ietf:params:scim:schemas:extension:scimd:2.0:User": {"lastAccess": "2026-11-02T08:15:00.000Z"}});
        let user = row(doc, Some(true));
        let mut text = String::new();
        assert!(!write_resource(&mut text, &registry.user, "https://h/scim/v2", &user, None));
        let mut resource = render(&registry.user, "https://h/scim/v2", &user, None).unwrap();
        Projection::default().apply(&registry.user, &mut resource);
        assert_eq!(resource.get(ext).and_then(|e| e.get("lastAccess")), None, "returned: request: {resource:#}");
    }

    #[test]
    fn groups_render_the_same_on_both_paths() {
        let registry = Registry::builtin();
        let members = [member("0192-id", "u1", "User", "Alice"), member("0192-id", "g2", "Group", "Sub")];
        let members: Vec<&MemberRow> = members.iter().collect();
        let group = row(json!({"displayName": "Engineering", "externalId": "e-1"}), None);
        same_as_general_path(&registry.group, &group, Some(&members));
        same_as_general_path(&registry.group, &group, None);
    }

    #[test]
    fn a_custom_attribute_returned_on_request_takes_the_general_path() {
        let mut registry = Registry::builtin();
        let schema = json!({"id": "urn:example:x:1.0:User", "attributes": [
            {"name": "secretish", "type": "string", "returned": "request"}
        ]});
        registry.add_extension(ResourceKind::User, &schema.to_string()).expect("valid");
        assert!(!renders_as_stored(&registry.user));
    }
}
