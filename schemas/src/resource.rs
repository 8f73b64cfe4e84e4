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
mod tests;
