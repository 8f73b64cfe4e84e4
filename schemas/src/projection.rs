//! RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`, combined with each attribute's `returned`
//! characteristic (RFC 7643 §7), applied to a fully rendered resource.
//!
//! The RFC makes the two parameters mutually exclusive but names no error for sending both; rejecting
//! would break lenient clients, so when both are given `attributes` wins and `excludedAttributes` is
//! ignored. Paths naming nothing the schema defines are ignored (RFC: the server returns what it
//! has); syntactically malformed paths are `invalidValue`.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::AttrPath;
use crate::resource::{is_empty, split_urn};
use crate::schema::{AttrType, AttributeDef, ResourceSchema, Returned};

/// A resolved path, in canonical names. `ext`: `None` for core and common attributes. `attr`: `None`
/// when the path is a bare schema URN (all attributes of that schema).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    ext: Option<String>,
    attr: Option<String>,
    sub: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// `Some`: only these, plus `returned: always` attributes.
    attributes: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

/// How much of one top-level attribute survives.
#[derive(Debug, PartialEq, Eq)]
enum Shape<'p> {
    Drop,
    Whole,
    /// Whole, plus these `returned: request` sub-attributes (`attributes=members,members.display`).
    WholeWith(Vec<&'p str>),
    Only(Vec<&'p str>),
    Except(Vec<&'p str>),
}

impl Projection {
    /// Parses the comma-separated lists as found in the query string. Paths resolve
    /// case-insensitively; unknown paths are ignored.
    pub fn parse(schema: &ResourceSchema, attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Projection> {
        let attributes = attributes.filter(|s| !s.trim().is_empty()).map(|s| parse_list(schema, s)).transpose()?;
        let excluded = match (&attributes, excluded) {
            (None, Some(list)) => parse_list(schema, list)?,
            _ => Vec::new(),
        };
        Ok(Projection { attributes, excluded })
    }

    /// Whether the top-level attribute `name` (in extension `extension`, or core/common when `None`)
    /// will appear in the output, at least in part.
    pub fn includes(&self, schema: &ResourceSchema, extension: Option<&str>, name: &str) -> bool {
        let (ext, attr) = match extension {
            None => (None, schema.core_attribute(name)),
            Some(urn) => match schema.extension(urn) {
                Some(ext) => (Some(ext.id.as_str()), ext.attribute(name)),
                None => return false,
            },
        };
        attr.is_some_and(|attr| self.shape(ext, attr) != Shape::Drop)
    }

    /// Projects a rendered resource (with `schemas`, `id`, `meta` and `groups`/`members` present).
    /// An extension left out is also left out of `schemas`, which lists what the resource shows.
    pub fn apply(&self, schema: &ResourceSchema, resource: &mut Value) {
        let Some(map) = resource.as_object_mut() else {
            return;
        };
        let keys: Vec<String> = map.keys().cloned().collect();
        let mut dropped_extensions = Vec::new();
        for key in keys {
            if key == "schemas" {
                continue;
            }
            let keep = if let Some(attr) = schema.core_attribute(&key) {
                map.get_mut(&key).is_some_and(|v| project_value(attr, &self.shape(None, attr), v))
            } else if let Some(ext) = schema.extension(&key) {
                match map.get_mut(&key) {
                    Some(Value::Object(obj)) => {
                        obj.retain(|name, value| match ext.attribute(name) {
                            Some(attr) => project_value(attr, &self.shape(Some(&ext.id), attr), value),
                            None => self.attributes.is_none(),
                        });
                        !obj.is_empty()
                    }
                    _ => self.attributes.is_none(),
                }
            } else {
                self.attributes.is_none()
            };
            if !keep {
                if let Some(ext) = schema.extension(&key) {
                    dropped_extensions.push(ext.id.as_str());
                }
                map.shift_remove(&key);
            }
        }
        if let Some(Value::Array(urns)) = map.get_mut("schemas") {
            urns.retain(|urn| urn.as_str().is_none_or(|urn| !dropped_extensions.contains(&urn)));
        }
    }

    fn shape(&self, ext: Option<&str>, attr: &AttributeDef) -> Shape<'_> {
        match attr.returned {
            Returned::Never => return Shape::Drop,
            Returned::Always => return Shape::Whole,
            Returned::Default | Returned::Request => {}
        }
        let mut subs = Vec::new();
        let in_schema = |sel: &&Selector| sel.ext.as_deref() == ext;
        let Some(attributes) = &self.attributes else {
            if attr.returned == Returned::Request {
                return Shape::Drop;
            }
            for sel in self.excluded.iter().filter(in_schema) {
                match (&sel.attr, &sel.sub) {
                    (None, _) => return Shape::Drop,
                    (Some(a), None) if *a == attr.name => return Shape::Drop,
                    (Some(a), Some(sub)) if *a == attr.name => subs.push(sub.as_str()),
                    _ => {}
                }
            }
            return if subs.is_empty() { Shape::Whole } else { Shape::Except(subs) };
        };
        let mut whole = false;
        for sel in attributes.iter().filter(in_schema) {
            match (&sel.attr, &sel.sub) {
                // A bare URN does not name `request` attributes individually.
                (None, _) if attr.returned != Returned::Request => whole = true,
                (Some(a), None) if *a == attr.name => whole = true,
                (Some(a), Some(sub)) if *a == attr.name => subs.push(sub.as_str()),
                _ => {}
            }
        }
        match (whole, subs.is_empty()) {
            (true, true) => Shape::Whole,
            (true, false) => Shape::WholeWith(subs),
            (false, true) => Shape::Drop,
            (false, false) => Shape::Only(subs),
        }
    }
}

/// Projects one attribute's value in place; `false` when nothing of it remains.
fn project_value(attr: &AttributeDef, shape: &Shape<'_>, value: &mut Value) -> bool {
    if *shape == Shape::Drop {
        return false;
    }
    if attr.kind != AttrType::Complex {
        return true;
    }
    match value {
        Value::Object(map) => project_object(attr, shape, map),
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(map) = item {
                    project_object(attr, shape, map);
                }
            }
            items.retain(|item| !is_empty(item));
        }
        _ => {}
    }
    !is_empty(value)
}

fn project_object(attr: &AttributeDef, shape: &Shape<'_>, map: &mut Map<String, Value>) {
    map.retain(|name, _| match attr.sub_attribute(name) {
        Some(sub) => keep_sub(shape, sub),
        None => matches!(shape, Shape::Whole | Shape::WholeWith(_) | Shape::Except(_)),
    });
}

fn keep_sub(shape: &Shape<'_>, sub: &AttributeDef) -> bool {
    match sub.returned {
        Returned::Never => false,
        Returned::Always => true,
        Returned::Default | Returned::Request => match shape {
            Shape::Drop => false,
            Shape::Whole => sub.returned != Returned::Request,
            Shape::WholeWith(names) => sub.returned != Returned::Request || names.contains(&sub.name.as_str()),
            Shape::Only(names) => names.contains(&sub.name.as_str()),
            Shape::Except(names) => sub.returned != Returned::Request && !names.contains(&sub.name.as_str()),
        },
    }
}

fn parse_list(schema: &ResourceSchema, list: &str) -> ScimResult<Vec<Selector>> {
    let mut selectors = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        selectors.extend(parse_path(schema, raw)?);
    }
    Ok(selectors)
}

/// `[urn:]name[.sub]` or a bare schema URN. `Ok(None)`: well-formed but unknown.
fn parse_path(schema: &ResourceSchema, raw: &str) -> ScimResult<Option<Selector>> {
    if raw.eq_ignore_ascii_case(&schema.core.id) {
        return Ok(Some(Selector { ext: None, attr: None, sub: None }));
    }
    if let Some(ext) = schema.extension(raw) {
        return Ok(Some(Selector { ext: Some(ext.id.clone()), attr: None, sub: None }));
    }
    let (urn, rest) = match split_urn(raw) {
        Some((urn, rest)) => (Some(urn), rest),
        None => (None, raw),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
        return Err(ScimError::invalid_value(format!("malformed attribute path \"{raw}\"")));
    }
    let path = AttrPath { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) };
    Ok(schema.resolve(&path).ok().map(|resolved| Selector {
        ext: resolved.extension.map(str::to_owned),
        attr: Some(resolved.attr.name.clone()),
        sub: resolved.sub.map(|s| s.name.clone()),
    }))
}

/// RFC 7643 §2.1 ATTRNAME, plus `$ref`.
fn is_attr_name(s: &str) -> bool {
    let s = s.strip_prefix('$').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScimType;
    use crate::schema::{CORE_USER, ENTERPRISE_USER, Registry, ResourceKind};

    const PROJ_EXT: &str = "urn:example:params:scim:schemas:extension:proj:2.0:User";

    fn user() -> ResourceSchema {
        Registry::builtin().user
    }

    /// The built-in User plus an extension exercising `returned: request/never/always`.
    fn custom_user() -> ResourceSchema {
        let mut registry = Registry::builtin();
        let ext = json!({
            "id": PROJ_EXT,
            "attributes": [
                {"name": "secretCode", "type": "string", "returned": "request"},
                {"name": "badge", "type": "complex", "subAttributes": [
                    {"name": "label", "type": "string"},
                    {"name": "hidden", "type": "string", "returned": "never"},
                    {"name": "kind", "type": "string", "returned": "always"},
                    {"name": "extra", "type": "string", "returned": "request"}
                ]}
            ]
        });
        registry.add_extension(ResourceKind::User, &ext.to_string()).expect("test extension is valid");
        registry.user
    }

    fn rendered() -> Value {
        json!({
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "id": "1",
            "externalId": "e1",
            "userName": "a",
            "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}, {"type": "other"}],
            "password": "must never leak",
            "groups": [{"value": "g", "display": "G"}],
            ENTERPRISE_USER: {"employeeNumber": "7", "department": "d"},
            "meta": {"resourceType": "User", "version": "W/\"1\""},
        })
    }

    fn project(schema: &ResourceSchema, attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let projection = Projection::parse(schema, attributes, excluded).expect("parses");
        let mut resource = rendered();
        projection.apply(schema, &mut resource);
        resource
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().expect("object").keys().map(String::as_str).collect()
    }

    #[test]
    fn without_parameters_default_attributes_are_kept_and_never_ones_removed() {
        let out = project(&user(), None, None);
        let mut expected = rendered();
        expected.as_object_mut().expect("object").remove("password");
        assert_eq!(out, expected);
    }

    #[test]
    fn returned_never_is_removed_even_when_named() {
        let out = project(&user(), Some("password,userName"), None);
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);
    }

    #[test]
    fn attributes_keeps_only_named_plus_schemas_and_id() {
        let out = project(&user(), Some("userName"), None);
        assert_eq!(out, json!({"schemas": [CORE_USER], "id": "1", "userName": "a"}));
    }

    #[test]
    fn schemas_lists_only_the_extensions_left() {
        let out = project(&user(), Some("department"), None);
        assert_eq!(out["schemas"], json!([CORE_USER, ENTERPRISE_USER]));
        let out = project(&user(), None, Some(ENTERPRISE_USER));
        assert_eq!(out["schemas"], json!([CORE_USER]));
    }

    #[test]
    fn attribute_paths_resolve_case_insensitively() {
        let out = project(&user(), Some("USERNAME, Name.GIVENNAME"), None);
        assert_eq!(out["userName"], json!("a"));
        assert_eq!(out["name"], json!({"givenName": "A"}));
    }

    #[test]
    fn naming_a_sub_attribute_keeps_only_that_sub_attribute() {
        let out = project(&user(), Some("name.familyName"), None);
        assert_eq!(keys(&out), ["schemas", "id", "name"]);
        assert_eq!(out["name"], json!({"familyName": "B"}));
    }

    #[test]
    fn naming_a_parent_keeps_all_its_sub_attributes() {
        let out = project(&user(), Some("name"), None);
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "B"}));
    }

    #[test]
    fn multi_valued_sub_attribute_is_projected_in_every_element() {
        let out = project(&user(), Some("emails.value"), None);
        assert_eq!(out["emails"], json!([{"value": "a@x"}, {"value": "b@x"}]));
    }

    #[test]
    fn urn_qualified_paths_select_extension_attributes() {
        let out = project(&user(), Some(&format!("{ENTERPRISE_USER}:employeeNumber")), None);
        assert_eq!(out[ENTERPRISE_USER], json!({"employeeNumber": "7"}));
        let out = project(&user(), Some(&format!("{}:userName", CORE_USER.to_lowercase())), None);
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);
    }

    #[test]
    fn unqualified_extension_attribute_names_resolve() {
        let out = project(&user(), Some("department"), None);
        assert_eq!(out[ENTERPRISE_USER], json!({"department": "d"}));
    }

    #[test]
    fn whole_extension_urn_selects_all_its_attributes() {
        let out = project(&user(), Some(ENTERPRISE_USER), None);
        assert_eq!(keys(&out), ["schemas", "id", ENTERPRISE_USER]);
        assert_eq!(out[ENTERPRISE_USER], rendered()[ENTERPRISE_USER]);
        let out = project(&user(), None, Some(&ENTERPRISE_USER.to_uppercase()));
        assert!(out.get(ENTERPRISE_USER).is_none());
    }

    #[test]
    fn excluded_attributes_remove_default_attributes() {
        let out = project(&user(), None, Some("emails,meta,groups"));
        assert_eq!(keys(&out), ["schemas", "id", "externalId", "userName", "name", ENTERPRISE_USER]);
    }

    #[test]
    fn excluded_attributes_cannot_remove_always_attributes() {
        let out = project(&user(), None, Some("id,schemas"));
        assert_eq!(out["id"], json!("1"));
        assert!(out.get("schemas").is_some());
    }

    #[test]
    fn excluded_sub_attribute_is_removed_from_every_element() {
        let out = project(&user(), None, Some("emails.type"));
        assert_eq!(out["emails"], json!([{"value": "a@x"}, {"value": "b@x"}]));
        let out = project(&user(), None, Some("name.givenName"));
        assert_eq!(out["name"], json!({"familyName": "B"}));
    }

    #[test]
    fn extension_objects_left_empty_are_removed() {
        let spec = format!("{ENTERPRISE_USER}:employeeNumber,{ENTERPRISE_USER}:department");
        let out = project(&user(), None, Some(&spec));
        assert!(out.get(ENTERPRISE_USER).is_none(), "{out}");
    }

    #[test]
    fn unknown_paths_are_ignored() {
        let out = project(&user(), Some("userName,shoeSize,name.nickname,urn:example:nope:thing"), None);
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);
        assert_eq!(project(&user(), None, Some("shoeSize")), project(&user(), None, None));
    }

    #[test]
    fn malformed_paths_are_invalid_value() {
        for bad in ["name.given.x", "emails[type eq \"work\"]", "name.", ".x", "user name"] {
            let e = Projection::parse(&user(), Some(bad), None).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_parameters_mean_no_projection() {
        assert_eq!(project(&user(), Some(" "), Some("")), project(&user(), None, None));
    }

    #[test]
    fn attributes_wins_when_both_are_given() {
        let out = project(&user(), Some("userName"), Some("userName"));
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);
    }

    #[test]
    fn meta_is_returned_by_default_and_can_be_excluded() {
        assert!(project(&user(), None, None).get("meta").is_some());
        assert!(project(&user(), None, Some("meta")).get("meta").is_none());
        assert!(project(&user(), Some("userName"), None).get("meta").is_none());
        assert_eq!(project(&user(), Some("meta.version"), None)["meta"], json!({"version": "W/\"1\""}));
    }

    fn custom_rendered() -> Value {
        json!({
            "schemas": [CORE_USER, PROJ_EXT], "id": "1", "userName": "a",
            PROJ_EXT: {"secretCode": "s", "badge": {"label": "l", "hidden": "h", "kind": "k", "extra": "x"}},
        })
    }

    fn project_custom(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let schema = custom_user();
        let mut resource = custom_rendered();
        Projection::parse(&schema, attributes, excluded).expect("parses").apply(&schema, &mut resource);
        resource
    }

    #[test]
    fn request_attributes_are_returned_only_when_named() {
        assert_eq!(project_custom(None, None)[PROJ_EXT], json!({"badge": {"label": "l", "kind": "k"}}));
        assert_eq!(project_custom(Some("secretCode"), None)[PROJ_EXT], json!({"secretCode": "s"}));
        assert!(project_custom(Some(PROJ_EXT), None)[PROJ_EXT].get("secretCode").is_none());
        let badge = &project_custom(Some("badge.extra"), None)[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"kind": "k", "extra": "x"}));
    }

    #[test]
    fn naming_a_parent_and_its_request_sub_attribute_keeps_both() {
        let badge = &project_custom(Some("badge,badge.extra"), None)[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"label": "l", "kind": "k", "extra": "x"}));
        let badge = &project_custom(Some("badge.extra,badge"), None)[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"label": "l", "kind": "k", "extra": "x"}));
    }

    #[test]
    fn sub_attribute_returned_characteristics_apply() {
        let badge = &project_custom(Some("badge"), None)[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"label": "l", "kind": "k"}));
        let badge = &project_custom(None, Some("badge.kind,badge.label"))[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"kind": "k"}));
        let badge = &project_custom(Some("badge.hidden"), None)[PROJ_EXT]["badge"];
        assert_eq!(badge, &json!({"kind": "k"}));
    }

    #[test]
    fn includes_tells_whether_an_attribute_will_be_rendered() {
        let registry = Registry::builtin();
        let group = &registry.group;
        let user = &registry.user;
        let p = |a: Option<&str>, e: Option<&str>| Projection::parse(group, a, e).expect("parses");
        assert!(p(None, None).includes(group, None, "members"));
        assert!(!p(Some("displayName"), None).includes(group, None, "members"));
        assert!(p(Some("members.value"), None).includes(group, None, "Members"));
        assert!(!p(None, Some("members")).includes(group, None, "members"));
        assert!(p(None, Some("members.display")).includes(group, None, "members"));
        let pu = Projection::parse(user, Some("userName"), None).expect("parses");
        assert!(!pu.includes(user, None, "groups"));
        assert!(pu.includes(user, None, "id"));
        assert!(!pu.includes(user, None, "password"));
        let pu = Projection::parse(user, Some("employeeNumber"), None).expect("parses");
        assert!(pu.includes(user, Some(&ENTERPRISE_USER.to_lowercase()), "employeeNumber"));
        assert!(!pu.includes(user, Some(ENTERPRISE_USER), "department"));
        assert!(!pu.includes(user, Some("urn:example:nope"), "x"));
    }
}
