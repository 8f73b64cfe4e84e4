//! Validation of POST/PUT bodies (RFC 7643 §2, RFC 7644 §3.3 and §3.5.1) into the stored document:
//! canonical attribute names, core attributes at top level, extension attributes under their URN, no
//! readOnly or writeOnly attributes, and group members split out (they are rows, not document content).
//!
//! The value checks here (`coerce_attr`, `check_required`, `check_immutable`, …) are shared with PATCH.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceKind, ResourceSchema, SchemaDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberType {
    User,
    Group,
}

/// A group member as sent by a client: the member's id and, optionally, what kind of resource it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberRef {
    pub value: String,
    pub kind: Option<MemberType>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub doc: Value,
    pub password: Option<String>,
    /// `None` when the body has no `members` key; `Some(vec![])` when it is `null` or `[]` (cleared).
    pub members: Option<Vec<MemberRef>>,
}

/// Validates a POST/PUT body. `existing`: the stored document when replacing (PUT), for immutability
/// checks; an immutable attribute the body omits keeps its stored value, because omitting it would
/// otherwise clear (that is, modify) it.
pub fn prepare_write(schema: &ResourceSchema, body: Value, existing: Option<&Value>) -> ScimResult<Prepared> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax("the request body must be a JSON object"));
    };
    let mut writer = Writer::default();
    for (key, value) in body {
        match resolve_key(schema, &key) {
            Some(Key::Schemas) => check_schemas(&value)?,
            Some(Key::Attr(ext, attr)) => writer.write(schema, ext, attr, value)?,
            Some(Key::Core) => {
                for (name, value) in object_members(&key, value)? {
                    let attr = schema.core_attribute(&name).ok_or_else(|| unknown_attribute(schema, &name))?;
                    writer.write(schema, None, attr, value)?;
                }
            }
            Some(Key::Extension(ext)) => {
                for (name, value) in object_members(&key, value)? {
                    let attr =
                        ext.attribute(&name).ok_or_else(|| unknown_attribute(schema, &qualified(Some(ext), &name)))?;
                    writer.write(schema, Some(ext), attr, value)?;
                }
            }
            None if is_urn(&key) && is_empty(&value) => {}
            None if is_urn(&key) && !names_known_schema(schema, &key) => {
                return Err(ScimError::invalid_syntax(format!(
                    "unknown schema \"{key}\" for resource type {}",
                    schema.kind.name()
                )));
            }
            None => return Err(unknown_attribute(schema, &key)),
        }
    }
    let mut doc = writer.doc;
    if let Some(existing) = existing {
        carry_over_immutable(schema, &mut doc, existing);
    }
    prune_extensions(schema, &mut doc);
    let doc = Value::Object(doc);
    check_required(schema, &doc)?;
    if let Some(existing) = existing {
        check_immutable(schema, &doc, existing)?;
    }
    Ok(Prepared { doc, password: writer.password, members: writer.members })
}

/// The `schemas` of a rendered resource: the core URN, then each extension present in `doc`, in
/// registry order.
pub fn document_schemas(schema: &ResourceSchema, doc: &Value) -> Vec<String> {
    let present = |ext: &&SchemaDef| doc.get(&ext.id).is_some_and(|v| !v.is_null());
    std::iter::once(schema.core.id.clone())
        .chain(schema.extensions.iter().filter(present).map(|e| e.id.clone()))
        .collect()
}

/// Accumulates the stored document and the values that do not live in it.
#[derive(Default)]
struct Writer {
    doc: Map<String, Value>,
    password: Option<String>,
    members: Option<Vec<MemberRef>>,
}

impl Writer {
    fn write(
        &mut self,
        schema: &ResourceSchema,
        ext: Option<&SchemaDef>,
        attr: &AttributeDef,
        value: Value,
    ) -> ScimResult<()> {
        // RFC 7644 §3.3: readOnly values sent by the client SHALL be ignored.
        if attr.mutability == Mutability::ReadOnly {
            return Ok(());
        }
        let path = qualified(ext, &attr.name);
        if is_password(ext, attr) {
            if self.password.is_some() {
                return Err(duplicate(&path));
            }
            self.password = password_value(value)?;
            return Ok(());
        }
        if is_members(schema, ext, attr) {
            if self.members.is_some() {
                return Err(duplicate(&path));
            }
            self.members = Some(parse_members(value)?);
            return Ok(());
        }
        let container = container_mut(&mut self.doc, ext);
        if container.contains_key(&attr.name) {
            return Err(duplicate(&path));
        }
        if let Some(value) = coerce_attr(attr, &path, value)? {
            container.insert(attr.name.clone(), value);
        }
        Ok(())
    }
}

/// What a key of a body (or of a PATCH value without path) stands for.
pub(crate) enum Key<'a> {
    Schemas,
    /// A common/core attribute (`None`) or an extension attribute, possibly written URN-qualified.
    Attr(Option<&'a SchemaDef>, &'a AttributeDef),
    /// The core schema URN, holding an object of core attributes.
    Core,
    /// An extension URN, holding an object of that extension's attributes.
    Extension(&'a SchemaDef),
}

pub(crate) fn resolve_key<'a>(schema: &'a ResourceSchema, key: &str) -> Option<Key<'a>> {
    if key.eq_ignore_ascii_case("schemas") {
        return Some(Key::Schemas);
    }
    if let Some(attr) = schema.core_attribute(key) {
        return Some(Key::Attr(None, attr));
    }
    if key.eq_ignore_ascii_case(&schema.core.id) {
        return Some(Key::Core);
    }
    if let Some(ext) = schema.extension(key) {
        return Some(Key::Extension(ext));
    }
    let (urn, name) = split_urn(key)?;
    if urn.eq_ignore_ascii_case(&schema.core.id) {
        return schema.core_attribute(name).map(|attr| Key::Attr(None, attr));
    }
    let ext = schema.extension(urn)?;
    ext.attribute(name).map(|attr| Key::Attr(Some(ext), attr))
}

/// `urn:…:name` where `urn:…` is the core schema or one of the extensions.
fn names_known_schema(schema: &ResourceSchema, key: &str) -> bool {
    split_urn(key).is_some_and(|(urn, _)| urn.eq_ignore_ascii_case(&schema.core.id) || schema.extension(urn).is_some())
}

pub(crate) fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// `urn:…:name` → (`urn:…`, `name`).
pub(crate) fn split_urn(path: &str) -> Option<(&str, &str)> {
    if is_urn(path) { path.rsplit_once(':') } else { None }
}

/// The attribute's name as shown in error details: URN-qualified for extensions.
pub(crate) fn qualified(ext: Option<&SchemaDef>, name: &str) -> String {
    match ext {
        Some(ext) => format!("{}:{name}", ext.id),
        None => name.to_owned(),
    }
}

pub(crate) fn unknown_attribute(schema: &ResourceSchema, path: &str) -> ScimError {
    ScimError::invalid_syntax(format!("unknown attribute \"{path}\" for resource type {}", schema.kind.name()))
}

fn duplicate(path: &str) -> ScimError {
    ScimError::invalid_syntax(format!("attribute \"{path}\" appears more than once"))
}

pub(crate) fn is_password(ext: Option<&SchemaDef>, attr: &AttributeDef) -> bool {
    ext.is_none() && attr.mutability == Mutability::WriteOnly && attr.name == "password"
}

pub(crate) fn is_members(schema: &ResourceSchema, ext: Option<&SchemaDef>, attr: &AttributeDef) -> bool {
    schema.kind == ResourceKind::Group && ext.is_none() && attr.name == "members"
}

pub(crate) fn password_value(value: Value) -> ScimResult<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(wrong_type("password", "a string", &other)),
    }
}

fn check_schemas(value: &Value) -> ScimResult<()> {
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Ok(()),
        _ => Err(ScimError::invalid_syntax("\"schemas\" must be an array of strings")),
    }
}

fn object_members(key: &str, value: Value) -> ScimResult<Map<String, Value>> {
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(mut map) => {
            drop_nested_schemas(&mut map)?;
            Ok(map)
        }
        other => Err(wrong_type(key, "an object", &other)),
    }
}

/// Removes `schemas` from an object held under a schema URN: clients (scim2-models among them)
/// repeat the URN there. It must still be well-formed.
pub(crate) fn drop_nested_schemas(map: &mut Map<String, Value>) -> ScimResult<()> {
    while let Some(key) = map.keys().find(|k| k.eq_ignore_ascii_case("schemas")).cloned() {
        check_schemas(&map.shift_remove(&key).unwrap_or(Value::Null))?;
    }
    Ok(())
}

/// The map holding an attribute: the document itself for core attributes, the extension's object
/// (created on demand) otherwise.
pub(crate) fn container_mut<'m>(
    doc: &'m mut Map<String, Value>,
    ext: Option<&SchemaDef>,
) -> &'m mut Map<String, Value> {
    let Some(ext) = ext else { return doc };
    let slot = doc.entry(ext.id.clone()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

fn container<'v>(doc: &'v Value, ext: Option<&SchemaDef>) -> Option<&'v Map<String, Value>> {
    match ext {
        None => doc.as_object(),
        Some(ext) => doc.get(&ext.id)?.as_object(),
    }
}

/// Drops extension objects that ended up empty.
pub(crate) fn prune_extensions(schema: &ResourceSchema, doc: &mut Map<String, Value>) {
    for ext in &schema.extensions {
        if doc.get(&ext.id).is_some_and(is_empty) {
            doc.shift_remove(&ext.id);
        }
    }
}

/// `null`, `[]` and `{}` are "unassigned" (RFC 7643 §2.5).
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Validates and coerces a whole attribute value (an array if multi-valued). `Ok(None)`: unassigned.
pub(crate) fn coerce_attr(attr: &AttributeDef, path: &str, value: Value) -> ScimResult<Option<Value>> {
    if !attr.multi_valued {
        return coerce_element(attr, path, value);
    }
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => {
            return Err(wrong_type(path, "an array (the attribute is multi-valued)", &other));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.extend(coerce_element(attr, path, item)?);
    }
    check_primary(attr, path, &out)?;
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// Validates and coerces one value of an attribute (one element if multi-valued).
pub(crate) fn coerce_element(attr: &AttributeDef, path: &str, value: Value) -> ScimResult<Option<Value>> {
    let coerced = match (attr.kind, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Complex, Value::Object(map)) => return coerce_complex(attr, path, map),
        // Entra ID sends the enterprise `manager` as a bare id: a string given for a single-valued
        // complex attribute that has a `value` sub-attribute is that `value`.
        (AttrType::Complex, Value::String(s)) if !attr.multi_valued && attr.sub_attribute("value").is_some() => {
            return coerce_complex(attr, path, Map::from_iter([("value".to_owned(), Value::String(s))]));
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, v @ Value::String(_)) => v,
        (AttrType::Boolean, v @ Value::Bool(_)) => v,
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
        (AttrType::Decimal, v @ Value::Number(_)) => v,
        (AttrType::DateTime, Value::String(s)) if chrono::DateTime::parse_from_rfc3339(&s).is_ok() => Value::String(s),
        (kind, other) => return Err(wrong_type(path, expected(kind), &other)),
    };
    Ok(Some(coerced))
}

fn coerce_complex(attr: &AttributeDef, path: &str, map: Map<String, Value>) -> ScimResult<Option<Value>> {
    let mut out = Map::new();
    for (key, value) in map {
        let Some(sub) = attr.sub_attribute(&key) else {
            return Err(ScimError::invalid_syntax(format!("unknown sub-attribute \"{path}.{key}\"")));
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_path = format!("{path}.{}", sub.name);
        if out.contains_key(&sub.name) {
            return Err(duplicate(&sub_path));
        }
        if let Some(value) = coerce_attr(sub, &sub_path, value)? {
            out.insert(sub.name.clone(), value);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn expected(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "a string",
        AttrType::Reference => "a string (reference)",
        AttrType::Binary => "a string (base64 binary)",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "an RFC 3339 dateTime string",
        AttrType::Complex => "an object",
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(path: &str, expected: &str, got: &Value) -> ScimError {
    let got = match got {
        Value::String(s) => format!("the string {}", Value::String(s.clone())),
        other => json_type(other).to_owned(),
    };
    ScimError::invalid_value(format!("attribute \"{path}\" must be {expected}, got {got}"))
}

pub(crate) fn is_primary(value: &Value) -> bool {
    value.get("primary") == Some(&Value::Bool(true))
}

/// RFC 7643 §2.4: the primary attribute value "true" MUST appear no more than once.
pub(crate) fn check_primary(attr: &AttributeDef, path: &str, items: &[Value]) -> ScimResult<()> {
    if attr.kind == AttrType::Complex && items.iter().filter(|v| is_primary(v)).count() > 1 {
        return Err(ScimError::invalid_value(format!("at most one value of \"{path}\" may have \"primary\": true")));
    }
    Ok(())
}

/// Group `members`: an array of `{value, type?}`; `$ref` and `display` are ignored.
pub(crate) fn parse_members(value: Value) -> ScimResult<Vec<MemberRef>> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(wrong_type("members", "an array (the attribute is multi-valued)", &other));
        }
    };
    items.into_iter().filter(|v| !v.is_null()).map(parse_member).collect()
}

fn parse_member(item: Value) -> ScimResult<MemberRef> {
    let Value::Object(map) = item else {
        return Err(wrong_type("members", "an array of objects", &item));
    };
    let mut value = None;
    let mut kind = None;
    for (key, v) in map {
        match key.to_ascii_lowercase().as_str() {
            "value" => match v {
                Value::String(s) if !s.is_empty() => value = Some(s),
                other => return Err(wrong_type("members.value", "a non-empty string", &other)),
            },
            "type" => kind = member_type(v)?,
            "$ref" | "display" => {}
            _ => {
                return Err(ScimError::invalid_syntax(format!("unknown sub-attribute \"members.{key}\"")));
            }
        }
    }
    let value = value.ok_or_else(|| ScimError::invalid_value("every element of \"members\" needs a \"value\""))?;
    Ok(MemberRef { value, kind })
}

fn member_type(value: Value) -> ScimResult<Option<MemberType>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("user") => Ok(Some(MemberType::User)),
        Value::String(s) if s.eq_ignore_ascii_case("group") => Ok(Some(MemberType::Group)),
        other => Err(wrong_type("members.type", "\"User\" or \"Group\"", &other)),
    }
}

/// Every attribute set of a resource type with the schema it belongs to (`None`: top level).
fn attribute_sets(schema: &ResourceSchema) -> impl Iterator<Item = (Option<&SchemaDef>, &[AttributeDef])> {
    [(None, schema.common.as_slice()), (None, schema.core.attributes.as_slice())]
        .into_iter()
        .chain(schema.extensions.iter().map(|ext| (Some(ext), ext.attributes.as_slice())))
}

/// Whether an attribute's value lives in the stored document.
fn is_stored(schema: &ResourceSchema, ext: Option<&SchemaDef>, attr: &AttributeDef) -> bool {
    !matches!(attr.mutability, Mutability::ReadOnly | Mutability::WriteOnly) && !is_members(schema, ext, attr)
}

/// Required attributes of the core schema, and of each extension present in `doc`, must have a
/// non-blank value.
pub(crate) fn check_required(schema: &ResourceSchema, doc: &Value) -> ScimResult<()> {
    for (ext, attrs) in attribute_sets(schema) {
        let Some(map) = container(doc, ext) else {
            continue;
        };
        for attr in attrs.iter().filter(|a| a.required && is_stored(schema, ext, a)) {
            let missing = match map.get(&attr.name) {
                None => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(v) => is_empty(v),
            };
            if missing {
                let path = qualified(ext, &attr.name);
                return Err(ScimError::invalid_value(format!("required attribute \"{path}\" is missing or empty")));
            }
        }
    }
    Ok(())
}

/// Values equal for the attribute: strings compare case-insensitively unless `caseExact`.
pub(crate) fn same_value(attr: &AttributeDef, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !attr.case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

fn assigned<'v>(map: Option<&'v Map<String, Value>>, name: &str) -> Option<&'v Value> {
    map?.get(name).filter(|v| !is_empty(v))
}

/// An immutable attribute (top level, or a sub-attribute of a single-valued complex attribute) that
/// has a value in `old` must keep it in `new`. Sub-attributes of multi-valued attributes are not
/// checked: elements have no identity, so a changed element is indistinguishable from a replaced one.
pub(crate) fn check_immutable(schema: &ResourceSchema, new: &Value, old: &Value) -> ScimResult<()> {
    for (ext, attrs) in attribute_sets(schema) {
        let (old_map, new_map) = (container(old, ext), container(new, ext));
        for attr in attrs.iter().filter(|a| is_stored(schema, ext, a)) {
            let (old_v, new_v) = (assigned(old_map, &attr.name), assigned(new_map, &attr.name));
            let path = qualified(ext, &attr.name);
            if attr.mutability == Mutability::Immutable {
                if let Some(old_v) = old_v
                    && !new_v.is_some_and(|new_v| same_value(attr, old_v, new_v))
                {
                    return Err(ScimError::mutability(format!("attribute \"{path}\" is immutable")));
                }
                continue;
            }
            if attr.kind != AttrType::Complex || attr.multi_valued {
                continue;
            }
            for sub in attr.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
                let old_s = assigned(old_v.and_then(Value::as_object), &sub.name);
                let new_s = assigned(new_v.and_then(Value::as_object), &sub.name);
                if let Some(old_s) = old_s
                    && !new_s.is_some_and(|new_s| same_value(sub, old_s, new_s))
                {
                    return Err(ScimError::mutability(format!("attribute \"{path}.{}\" is immutable", sub.name)));
                }
            }
        }
    }
    Ok(())
}

/// PUT: immutable values the body omits keep their stored value.
fn carry_over_immutable(schema: &ResourceSchema, doc: &mut Map<String, Value>, existing: &Value) {
    for (ext, attrs) in attribute_sets(schema) {
        let old_map = container(existing, ext);
        for attr in attrs.iter().filter(|a| is_stored(schema, ext, a)) {
            let Some(old_v) = assigned(old_map, &attr.name) else {
                continue;
            };
            let target = container_mut(doc, ext);
            if attr.mutability == Mutability::Immutable {
                if assigned(Some(target), &attr.name).is_none() {
                    target.insert(attr.name.clone(), old_v.clone());
                }
                continue;
            }
            if attr.kind != AttrType::Complex || attr.multi_valued {
                continue;
            }
            for sub in attr.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
                let Some(old_s) = old_v.get(&sub.name).filter(|v| !is_empty(v)) else {
                    continue;
                };
                let slot = target.entry(attr.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(obj) = slot
                    && assigned(Some(obj), &sub.name).is_none()
                {
                    obj.insert(sub.name.clone(), old_s.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScimType;
    use crate::schema::{ENTERPRISE_USER, Registry, SCIMD_USER};

    const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

    fn user() -> ResourceSchema {
        Registry::builtin().user
    }

    fn group() -> ResourceSchema {
        Registry::builtin().group
    }

    /// The built-in User plus an extension with the types and mutabilities the built-ins lack.
    fn custom_user() -> ResourceSchema {
        let mut registry = Registry::builtin();
        let ext = json!({
            "id": TEST_EXT,
            "name": "Test",
            "attributes": [
                {"name": "level", "type": "integer"},
                {"name": "ratio", "type": "decimal"},
                {"name": "since", "type": "dateTime"},
                {"name": "badge", "type": "string", "mutability": "immutable"},
                {"name": "serial", "type": "string", "mutability": "immutable", "caseExact": true},
                {"name": "card", "type": "complex", "subAttributes": [
                    {"name": "number", "type": "string", "mutability": "immutable"},
                    {"name": "label", "type": "string"}
                ]},
                {"name": "code", "type": "string", "required": true},
                {"name": "tags", "type": "string", "multiValued": true}
            ]
        });
        registry.add_extension(ResourceKind::User, &ext.to_string()).expect("test extension is valid");
        registry.user
    }

    fn ok(schema: &ResourceSchema, body: Value) -> Prepared {
        prepare_write(schema, body, None).unwrap_or_else(|e| panic!("should be accepted: {e}"))
    }

    fn err(schema: &ResourceSchema, body: Value) -> ScimError {
        prepare_write(schema, body, None).expect_err("should be rejected")
    }

    fn assert_err(e: &ScimError, scim_type: ScimType, needle: &str) {
        assert_eq!(e.status, 400, "{e}");
        assert_eq!(e.scim_type, Some(scim_type), "{e}");
        assert!(e.detail.contains(needle), "detail should name {needle:?}: {e}");
    }

    #[test]
    fn body_must_be_a_json_object() {
        assert_err(&err(&user(), json!(["userName"])), ScimType::InvalidSyntax, "object");
        assert_err(&err(&user(), json!("x")), ScimType::InvalidSyntax, "object");
    }

    #[test]
    fn keys_resolve_case_insensitively_to_canonical_names() {
        let p = ok(&user(), json!({"UserName": "a", "NAME": {"GivenName": "B"}, "Emails": [{"VALUE": "a@x"}]}));
        assert_eq!(p.doc, json!({"userName": "a", "name": {"givenName": "B"}, "emails": [{"value": "a@x"}]}));
    }

    #[test]
    fn extension_urn_keys_resolve_case_insensitively_and_are_stored_canonically() {
        let body = json!({"userName": "a", ENTERPRISE_USER.to_uppercase(): {"EmployeeNumber": "7"}});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}));
    }

    #[test]
    fn schemas_inside_an_extension_object_is_ignored() {
        let body = json!({"userName": "a", ENTERPRISE_USER: {"schemas": [ENTERPRISE_USER], "department": "d"}});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"department": "d"}}));
        let body = json!({"userName": "a", ENTERPRISE_USER: {"schemas": 1}});
        assert_err(&err(&user(), body), ScimType::InvalidSyntax, "schemas");
    }

    #[test]
    fn urn_qualified_attribute_keys_resolve() {
        let body = json!({
            "urn:ietf:params:scim:schemas:core:2.0:User:userName": "a",
            format!("{ENTERPRISE_USER}:department"): "R&D",
        });
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"department": "R&D"}}));
    }

    #[test]
    fn core_urn_key_holds_core_attributes() {
        let body = json!({"urn:ietf:params:scim:schemas:core:2.0:User": {"userName": "a"}});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
    }

    #[test]
    fn schemas_must_be_an_array_of_strings() {
        assert_err(&err(&user(), json!({"schemas": "x", "userName": "a"})), ScimType::InvalidSyntax, "schemas");
        assert_err(&err(&user(), json!({"schemas": [1], "userName": "a"})), ScimType::InvalidSyntax, "schemas");
    }

    #[test]
    fn unknown_urns_in_schemas_are_ignored() {
        let ms = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ms], "displayName": "g"});
        assert_eq!(ok(&group(), body).doc, json!({"displayName": "g"}));
    }

    #[test]
    fn unknown_urn_key_without_attributes_is_ignored() {
        let body = json!({"userName": "a", "urn:example:unknown:1.0:User": {}});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
        let body = json!({"userName": "a", "urn:example:unknown:1.0:User": null});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
    }

    #[test]
    fn unknown_urn_key_with_attributes_is_invalid_syntax_naming_it() {
        let body = json!({"userName": "a", "urn:example:unknown:1.0:User": {"x": 1}});
        assert_err(&err(&user(), body), ScimType::InvalidSyntax, "urn:example:unknown:1.0:User");
    }

    #[test]
    fn unknown_attribute_is_invalid_syntax_naming_it() {
        let e = err(&user(), json!({"userName": "a", "fooBar": 1}));
        assert_err(&e, ScimType::InvalidSyntax, "unknown attribute \"fooBar\" for resource type User");
        // Extension attributes are not accepted at top level.
        assert_err(
            &err(&user(), json!({"userName": "a", "employeeNumber": "1"})),
            ScimType::InvalidSyntax,
            "employeeNumber",
        );
    }

    #[test]
    fn unknown_urn_qualified_attribute_of_a_known_schema_is_named_as_an_attribute() {
        let key = format!("{ENTERPRISE_USER}:shoeSize");
        let e = err(&user(), json!({"userName": "a", key.clone(): "9"}));
        assert_err(&e, ScimType::InvalidSyntax, &format!("unknown attribute \"{key}\""));
    }

    #[test]
    fn unknown_extension_attribute_is_invalid_syntax_naming_it() {
        let body = json!({"userName": "a", ENTERPRISE_USER: {"shoeSize": "9"}});
        assert_err(&err(&user(), body), ScimType::InvalidSyntax, &format!("{ENTERPRISE_USER}:shoeSize"));
    }

    #[test]
    fn unknown_sub_attribute_is_invalid_syntax_naming_it() {
        let body = json!({"userName": "a", "emails": [{"value": "a@x", "foo": 1}]});
        assert_err(&err(&user(), body), ScimType::InvalidSyntax, "emails.foo");
        let body = json!({"userName": "a", "name": {"surname": "x"}});
        assert_err(&err(&user(), body), ScimType::InvalidSyntax, "name.surname");
    }

    #[test]
    fn duplicate_keys_differing_in_case_are_invalid_syntax() {
        assert_err(&err(&user(), json!({"userName": "a", "USERNAME": "b"})), ScimType::InvalidSyntax, "userName");
    }

    #[test]
    fn string_attributes_must_be_strings() {
        let e = err(&user(), json!({"userName": 5}));
        assert_err(&e, ScimType::InvalidValue, "\"userName\" must be a string");
        let e = err(&user(), json!({"userName": "a", "profileUrl": true}));
        assert_err(&e, ScimType::InvalidValue, "profileUrl");
        let e = err(&user(), json!({"userName": "a", "x509Certificates": [{"value": 1}]}));
        assert_err(&e, ScimType::InvalidValue, "x509Certificates.value");
    }

    #[test]
    fn booleans_accept_true_false_strings_in_any_case() {
        let p =
            ok(&user(), json!({"userName": "a", "active": "True", "emails": [{"value": "a@x", "primary": "FALSE"}]}));
        assert_eq!(p.doc["active"], json!(true));
        assert_eq!(p.doc["emails"][0]["primary"], json!(false));
        assert_eq!(ok(&user(), json!({"userName": "a", "active": false})).doc["active"], json!(false));
    }

    #[test]
    fn booleans_reject_other_values() {
        assert_err(&err(&user(), json!({"userName": "a", "active": "yes"})), ScimType::InvalidValue, "active");
        assert_err(&err(&user(), json!({"userName": "a", "active": 1})), ScimType::InvalidValue, "boolean");
    }

    #[test]
    fn integer_must_be_an_integer_number() {
        let schema = custom_user();
        let ok_body = json!({"userName": "a", TEST_EXT: {"code": "c", "level": 3}});
        assert_eq!(ok(&schema, ok_body).doc[TEST_EXT]["level"], json!(3));
        let e = err(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "level": 3.5}}));
        assert_err(&e, ScimType::InvalidValue, &format!("{TEST_EXT}:level\" must be an integer"));
        assert_err(&err(&schema, json!({"userName": "a", TEST_EXT: {"level": "3"}})), ScimType::InvalidValue, "level");
    }

    #[test]
    fn decimal_accepts_any_number() {
        let schema = custom_user();
        for n in [json!(3), json!(2.5), json!(-1)] {
            let doc = ok(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "ratio": n.clone()}})).doc;
            assert_eq!(doc[TEST_EXT]["ratio"], n);
        }
        assert_err(
            &err(&schema, json!({"userName": "a", TEST_EXT: {"ratio": "2.5"}})),
            ScimType::InvalidValue,
            "ratio",
        );
    }

    #[test]
    fn date_time_must_be_rfc3339_and_is_kept_as_sent() {
        let schema = custom_user();
        let since = "2024-02-29T10:00:00.5+02:00";
        let doc = ok(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "since": since}})).doc;
        assert_eq!(doc[TEST_EXT]["since"], json!(since));
        let e = err(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "since": "2024-02-30"}}));
        assert_err(&e, ScimType::InvalidValue, "dateTime");
    }

    #[test]
    fn complex_must_be_an_object() {
        assert_err(
            &err(&user(), json!({"userName": "a", "name": "Bob"})),
            ScimType::InvalidValue,
            "\"name\" must be an object",
        );
        let e = err(&user(), json!({"userName": "a", "emails": ["a@x"]}));
        assert_err(&e, ScimType::InvalidValue, "emails");
    }

    #[test]
    fn multi_valued_needs_an_array() {
        let e = err(&user(), json!({"userName": "a", "emails": {"value": "a@x"}}));
        assert_err(&e, ScimType::InvalidValue, "\"emails\" must be an array");
    }

    #[test]
    fn values_are_kept_as_sent() {
        let body = json!({
            "userName": "Alice@Example.COM",
            "emails": [{"value": "Alice@Example.COM", "type": "Work"}],
            "phoneNumbers": [{"value": "+1 (555) 010-0000"}],
        });
        assert_eq!(ok(&user(), body.clone()).doc, body);
    }

    #[test]
    fn null_empty_array_and_empty_object_are_unassigned() {
        let body = json!({
            "userName": "a", "displayName": null, "emails": [], "name": {}, "addresses": [{}],
            "phoneNumbers": [null], "title": "", ENTERPRISE_USER: {"manager": {"value": null}},
        });
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a", "title": ""}));
    }

    #[test]
    fn read_only_attributes_are_ignored() {
        let body = json!({
            "id": "x", "meta": {"version": "W/\"1\""}, "userName": "a", "groups": [{"value": "g"}],
            SCIMD_USER: {"status": "locked", "note": "n"},
            ENTERPRISE_USER: {"manager": {"value": "m", "displayName": "Boss"}},
        });
        let expected =
            json!({"userName": "a", SCIMD_USER: {"note": "n"}, ENTERPRISE_USER: {"manager": {"value": "m"}}});
        assert_eq!(ok(&user(), body).doc, expected);
        let p = ok(&group(), json!({"displayName": "g", "members": [{"value": "u", "display": "Bob"}]}));
        assert_eq!(p.members, Some(vec![MemberRef { value: "u".into(), kind: None }]));
    }

    #[test]
    fn canonical_values_are_not_enforced() {
        let p = ok(&user(), json!({"userName": "a", "emails": [{"value": "a@x", "type": "custom"}]}));
        assert_eq!(p.doc["emails"][0]["type"], json!("custom"));
    }

    #[test]
    fn at_most_one_primary_per_multi_valued_attribute() {
        let body = json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": "true"}]});
        assert_err(&err(&user(), body), ScimType::InvalidValue, "emails");
        let body =
            json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]});
        ok(&user(), body);
    }

    #[test]
    fn password_is_removed_from_the_doc_and_returned() {
        let p = ok(&user(), json!({"userName": "a", "Password": "s3cret"}));
        assert_eq!(p.doc, json!({"userName": "a"}));
        assert_eq!(p.password.as_deref(), Some("s3cret"));
        assert_eq!(ok(&user(), json!({"userName": "a"})).password, None);
    }

    #[test]
    fn password_must_be_a_string() {
        assert_err(&err(&user(), json!({"userName": "a", "password": 1234})), ScimType::InvalidValue, "password");
    }

    #[test]
    fn group_members_are_removed_from_the_doc_and_returned() {
        let body = json!({"displayName": "g", "members": [
            {"value": "u1", "type": "user", "$ref": "https://x/Users/u1", "display": "U"},
            {"VALUE": "g1", "Type": "Group"},
            {"value": "u2"},
        ]});
        let p = ok(&group(), body);
        assert_eq!(p.doc, json!({"displayName": "g"}));
        let members = vec![
            MemberRef { value: "u1".into(), kind: Some(MemberType::User) },
            MemberRef { value: "g1".into(), kind: Some(MemberType::Group) },
            MemberRef { value: "u2".into(), kind: None },
        ];
        assert_eq!(p.members, Some(members));
    }

    #[test]
    fn members_absent_is_none_and_null_or_empty_is_cleared() {
        assert_eq!(ok(&group(), json!({"displayName": "g"})).members, None);
        assert_eq!(ok(&group(), json!({"displayName": "g", "members": []})).members, Some(vec![]));
        assert_eq!(ok(&group(), json!({"displayName": "g", "members": null})).members, Some(vec![]));
    }

    #[test]
    fn member_type_must_be_user_or_group() {
        let e = err(&group(), json!({"displayName": "g", "members": [{"value": "x", "type": "Device"}]}));
        assert_err(&e, ScimType::InvalidValue, "members.type");
    }

    #[test]
    fn member_value_is_a_required_string() {
        let e = err(&group(), json!({"displayName": "g", "members": [{"type": "User"}]}));
        assert_err(&e, ScimType::InvalidValue, "value");
        let e = err(&group(), json!({"displayName": "g", "members": [{"value": 5}]}));
        assert_err(&e, ScimType::InvalidValue, "members.value");
        let e = err(&group(), json!({"displayName": "g", "members": {"value": "x"}}));
        assert_err(&e, ScimType::InvalidValue, "members");
        let e = err(&group(), json!({"displayName": "g", "members": [{"value": "x", "foo": 1}]}));
        assert_err(&e, ScimType::InvalidSyntax, "members.foo");
    }

    #[test]
    fn required_attributes_missing_or_empty_are_invalid_value() {
        assert_err(&err(&user(), json!({"displayName": "a"})), ScimType::InvalidValue, "userName");
        assert_err(&err(&user(), json!({"userName": ""})), ScimType::InvalidValue, "userName");
        assert_err(&err(&user(), json!({"userName": null})), ScimType::InvalidValue, "userName");
        assert_err(&err(&group(), json!({"members": []})), ScimType::InvalidValue, "displayName");
    }

    #[test]
    fn required_extension_attributes_apply_when_the_extension_is_present() {
        let schema = custom_user();
        ok(&schema, json!({"userName": "a"}));
        let e = err(&schema, json!({"userName": "a", TEST_EXT: {"level": 1}}));
        assert_err(&e, ScimType::InvalidValue, &format!("{TEST_EXT}:code"));
    }

    fn put(schema: &ResourceSchema, body: Value, existing: &Value) -> ScimResult<Prepared> {
        prepare_write(schema, body, Some(existing))
    }

    #[test]
    fn immutable_attribute_cannot_change_on_replace() {
        let schema = custom_user();
        let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}});
        let e = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b2"}}), &existing)
            .expect_err("badge is immutable");
        assert_err(&e, ScimType::Mutability, &format!("{TEST_EXT}:badge"));
        let same = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}}), &existing);
        assert_eq!(same.expect("unchanged value is fine").doc, existing);
    }

    #[test]
    fn immutable_attribute_compares_case_insensitively_unless_case_exact() {
        let schema = custom_user();
        let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "abc", "serial": "abc"}});
        put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "ABC", "serial": "abc"}}), &existing)
            .expect("badge is not caseExact");
        let e =
            put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "abc", "serial": "ABC"}}), &existing)
                .expect_err("serial is caseExact");
        assert_err(&e, ScimType::Mutability, "serial");
    }

    #[test]
    fn immutable_attribute_absent_in_existing_may_be_set() {
        let schema = custom_user();
        let existing = json!({"userName": "a"});
        let p = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}}), &existing)
            .expect("first assignment is allowed");
        assert_eq!(p.doc[TEST_EXT]["badge"], json!("b1"));
    }

    #[test]
    fn immutable_attribute_omitted_on_replace_keeps_its_value() {
        let schema = custom_user();
        let existing =
            json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1", "card": {"number": "9", "label": "x"}}});
        let p = put(&schema, json!({"userName": "b", TEST_EXT: {"code": "c"}}), &existing).expect("omission keeps");
        assert_eq!(p.doc, json!({"userName": "b", TEST_EXT: {"code": "c", "badge": "b1", "card": {"number": "9"}}}));
    }

    #[test]
    fn immutable_sub_attribute_cannot_change_on_replace() {
        let schema = custom_user();
        let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "9"}}});
        let body = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "10", "label": "x"}}});
        assert_err(&put(&schema, body, &existing).expect_err("immutable"), ScimType::Mutability, "card.number");
        let body = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "9", "label": "x"}}});
        put(&schema, body, &existing).expect("label is readWrite");
    }

    #[test]
    fn empty_extension_object_is_dropped() {
        let body = json!({"userName": "a", ENTERPRISE_USER: {"department": null}, SCIMD_USER: {"status": "active"}});
        assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
    }

    #[test]
    fn document_schemas_lists_core_then_present_extensions_in_registry_order() {
        let schema = user();
        let doc = json!({"userName": "a", SCIMD_USER: {"note": "n"}, ENTERPRISE_USER: {"department": "d"}});
        assert_eq!(document_schemas(&schema, &doc), [schema.core.id.as_str(), ENTERPRISE_USER, SCIMD_USER]);
        assert_eq!(document_schemas(&schema, &json!({"userName": "a"})), [schema.core.id.as_str()]);
    }
}
