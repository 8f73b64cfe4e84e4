//! RFC 7644 §3.5.2 PATCH on a stored document (see `resource` for its shape). Values are validated
//! and coerced exactly like POST/PUT bodies.
//!
//! Choices the RFC leaves open or that real clients force:
//! - Errors: an unknown attribute in a `path` (or a key of a path-less value) is `invalidPath`; a bad
//!   value is `invalidValue`; unknown sub-attributes inside a value are `invalidSyntax` (as in POST).
//!   Targeting a readOnly attribute, changing an immutable one that has a value, or removing
//!   `password` is `mutability`. Leaving a required attribute without a value is `invalidValue`.
//! - readOnly attributes inside a path-less value (clients echo `id`, `meta`) are ignored, as in PUT.
//!   Its keys may also be dotted paths (`"name.givenName"`), as Entra ID sends them.
//! - `add`/`replace` through a value filter that matches no element creates the element the filter
//!   describes (`emails[type eq "work"].value` on a user without a work email): Azure AD relies on it.
//! - `replace` with `null` or `[]` clears the attribute; `remove` of something absent is a no-op.
//! - `add`/`replace` on a single-valued complex attribute (or a whole extension) merges the given
//!   sub-attributes and leaves the others unchanged (RFC 7644 §3.5.2.3).
//! - Setting `primary: true` on elements sets it to false on the other elements (RFC 7644 §3.5.2).
//!
//! Value filters in paths use the full filter grammar and the in-memory evaluator
//! (`emails[type eq "work" and primary eq true].value`). Through a filter that matches nothing,
//! add/replace create the element only when the filter describes one (`eq` terms joined by `and`);
//! otherwise it is `noTarget`. Group members are selected by id: `members[value eq "a" or value eq "b"]`.

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::{AttrPath, Filter, parse_filter};
use crate::resource::{
    Key, MemberRef, check_immutable, check_primary, check_required, coerce_attr, coerce_element, container_mut,
    drop_nested_schemas, is_empty, is_members, is_password, is_primary, is_urn, parse_members, password_value,
    prune_extensions, qualified, resolve_key, split_urn,
};
use crate::schema::{AttributeDef, Mutability, ResourceSchema, SchemaDef};

mod element_filter;

use element_filter::{ElementFilter, resolve_filter};

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Membership changes of a group (members are rows, not part of the document). When `replace` is
/// `Some`, `add` and `remove` are empty: later operations were folded into the replacement list.
/// Otherwise `add` and `remove` are disjoint, so the order of applying them does not matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberChanges {
    pub add: Vec<MemberRef>,
    pub remove: Vec<String>,
    pub replace: Option<Vec<MemberRef>>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.replace.is_none()
    }

    fn add(&mut self, members: Vec<MemberRef>) {
        for member in members {
            let list = match &mut self.replace {
                Some(list) => list,
                None => {
                    self.remove.retain(|id| *id != member.value);
                    &mut self.add
                }
            };
            if !list.iter().any(|m| m.value == member.value) {
                list.push(member);
            }
        }
    }

    fn remove(&mut self, ids: Vec<String>) {
        for id in ids {
            match &mut self.replace {
                Some(list) => list.retain(|m| m.value != id),
                None => {
                    self.add.retain(|m| m.value != id);
                    if !self.remove.contains(&id) {
                        self.remove.push(id);
                    }
                }
            }
        }
    }

    fn replace(&mut self, members: Vec<MemberRef>) {
        self.add.clear();
        self.remove.clear();
        self.replace = Some(Vec::new());
        self.add(members);
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    pub doc: Value,
    pub members: MemberChanges,
    /// A new password set by the request.
    pub password: Option<String>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2). Key names and `op` values are matched
/// case-insensitively (Azure AD sends `"op": "Replace"`).
pub fn parse_patch_request(body: Value) -> ScimResult<Vec<PatchOp>> {
    let Value::Object(mut body) = body else {
        return Err(ScimError::invalid_syntax("the PATCH request body must be a JSON object"));
    };
    let has_schema = match take_key(&mut body, "schemas") {
        Some(Value::Array(items)) => {
            items.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA)))
        }
        _ => false,
    };
    if !has_schema {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array containing \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let ops = match take_key(&mut body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax("\"Operations\" must be a non-empty array"));
        }
    };
    ops.into_iter().enumerate().map(|(i, op)| parse_op(op).map_err(|e| in_operation(i, e))).collect()
}

fn take_key(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = map.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    map.shift_remove(&key)
}

fn parse_op(op: Value) -> ScimResult<PatchOp> {
    let Value::Object(mut op) = op else {
        return Err(ScimError::invalid_syntax("an operation must be a JSON object"));
    };
    let kind = match take_key(&mut op, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => PatchOpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => PatchOpKind::Replace,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => PatchOpKind::Remove,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "unknown \"op\" {other}: expected \"add\", \"replace\" or \"remove\""
            )));
        }
        None => return Err(ScimError::invalid_syntax("the operation has no \"op\"")),
    };
    let path = match take_key(&mut op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(ScimError::invalid_syntax("\"path\" must be a string")),
    };
    let value = take_key(&mut op, "value");
    match kind {
        PatchOpKind::Remove if path.is_none() => Err(ScimError::no_target("\"remove\" needs a \"path\"")),
        PatchOpKind::Add if value.as_ref().is_none_or(Value::is_null) => {
            Err(ScimError::invalid_value("\"add\" needs a \"value\""))
        }
        PatchOpKind::Replace if value.is_none() => Err(ScimError::invalid_value("\"replace\" needs a \"value\"")),
        _ => Ok(PatchOp { op: kind, path, value }),
    }
}

fn in_operation(index: usize, e: ScimError) -> ScimError {
    ScimError { detail: format!("Operations[{index}]: {}", e.detail), ..e }
}

/// Applies all operations in order to a copy of `doc`. All or nothing: on error nothing is returned.
pub fn apply_patch(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> ScimResult<PatchOutcome> {
    let mut patcher = Patcher {
        schema,
        doc: doc.as_object().cloned().unwrap_or_default(),
        members: MemberChanges::default(),
        password: None,
    };
    for (i, op) in ops.iter().enumerate() {
        patcher.apply(op).map_err(|e| in_operation(i, e))?;
    }
    let new = Value::Object(patcher.doc);
    check_required(schema, &new)?;
    check_immutable(schema, &new, doc)?;
    Ok(PatchOutcome { doc: new, members: patcher.members, password: patcher.password })
}

/// Okta echoes the resource's `id` in a path-less value (`{"id": "<same>", "displayName": "new"}`);
/// that is accepted and ignored like other readOnly attributes, but a different `id` is an attempt to
/// change it.
pub fn check_echoed_id(ops: &[PatchOp], id: &str) -> ScimResult<()> {
    for (i, op) in ops.iter().enumerate() {
        let echoed = match (&op.path, &op.value) {
            (None, Some(Value::Object(map))) => map.iter().find(|(k, _)| k.eq_ignore_ascii_case("id")).map(|(_, v)| v),
            _ => None,
        };
        if let Some(echoed) = echoed
            && echoed.as_str() != Some(id)
        {
            let e = ScimError::mutability(format!("\"id\" is readOnly: {echoed} is not this resource's id"));
            return Err(in_operation(i, e));
        }
    }
    Ok(())
}

/// A PATCH path before resolution, shaped like `filter::PatchPath`: `attr` (with `attr.sub` for
/// `name.givenName`), an optional value filter, and the sub-attribute after the filter.
struct PathSpec {
    attr: AttrPath,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// What a path designates in a resource type's schema.
enum Target<'s> {
    /// A bare extension URN: the whole extension object.
    Extension(&'s SchemaDef),
    Attr(AttrTarget<'s>),
}

struct AttrTarget<'s> {
    ext: Option<&'s SchemaDef>,
    attr: &'s AttributeDef,
    filter: Option<Box<ElementFilter<'s>>>,
    sub: Option<&'s AttributeDef>,
    /// The canonical path, for error details.
    path: String,
}

impl<'s> AttrTarget<'s> {
    fn plain(ext: Option<&'s SchemaDef>, attr: &'s AttributeDef) -> Self {
        AttrTarget { ext, attr, filter: None, sub: None, path: qualified(ext, &attr.name) }
    }
}

fn parse_path(raw: &str) -> ScimResult<PathSpec> {
    let malformed = |why: &str| ScimError::invalid_path(format!("invalid path \"{raw}\": {why}"));
    let (head, filter, sub) = match raw.find('[') {
        None => (raw, None, None),
        Some(open) => {
            let close = raw.rfind(']').filter(|&c| c > open).ok_or_else(|| malformed("\"[\" without \"]\""))?;
            let sub = match &raw[close + 1..] {
                "" => None,
                tail => match tail.strip_prefix('.') {
                    Some(sub) if is_attr_name(sub) => Some(sub.to_owned()),
                    _ => return Err(malformed("only \".subAttribute\" may follow \"]\"")),
                },
            };
            (&raw[..open], Some(parse_value_filter(raw, &raw[open + 1..close])?), sub)
        }
    };
    let (urn, rest) = match split_urn(head) {
        Some((urn, rest)) => (Some(urn.to_owned()), rest),
        None => (None, head),
    };
    let (name, attr_sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(name) || attr_sub.is_some_and(|s| !is_attr_name(s)) {
        return Err(malformed("expected [urn:]attribute[.subAttribute]"));
    }
    if filter.is_some() && attr_sub.is_some() {
        return Err(malformed("a value filter applies to an attribute, not to a sub-attribute"));
    }
    let attr = AttrPath { urn, name: name.to_owned(), sub: attr_sub.map(str::to_owned) };
    Ok(PathSpec { attr, filter, sub })
}

/// Value filters parsed before, per thread: identity providers and connectors send the same few
/// paths (`emails[type eq "work"].value`) over and over, and each scim_v2 parse builds its lexer's
/// regex cache anew (over half of a CSV sync's CPU before this cache).
const VALUE_FILTER_CACHE_SIZE: usize = 256;

thread_local! {
    static VALUE_FILTERS: RefCell<HashMap<String, Filter>> = RefCell::new(HashMap::new());
}

/// The filter between the brackets, in the full filter grammar.
fn parse_value_filter(raw: &str, inner: &str) -> ScimResult<Filter> {
    if let Some(filter) = VALUE_FILTERS.with(|cache| cache.borrow().get(inner).cloned()) {
        return Ok(filter);
    }
    let filter =
        parse_filter(inner).map_err(|e| ScimError::invalid_path(format!("invalid path \"{raw}\": {}", e.detail)))?;
    VALUE_FILTERS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= VALUE_FILTER_CACHE_SIZE {
            cache.clear();
        }
        cache.insert(inner.to_owned(), filter.clone());
    });
    Ok(filter)
}

/// RFC 7643 §2.1 ATTRNAME, plus `$ref`.
fn is_attr_name(s: &str) -> bool {
    let s = s.strip_prefix('$').unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn resolve_target<'s>(schema: &'s ResourceSchema, raw: &str) -> ScimResult<Target<'s>> {
    let raw = raw.trim();
    if let Some(ext) = schema.extension(raw) {
        return Ok(Target::Extension(ext));
    }
    let spec = parse_path(raw)?;
    let lookup = AttrPath { sub: spec.attr.sub.clone().or(spec.sub.clone()), ..spec.attr.clone() };
    let resolved = schema.resolve(&lookup).map_err(ScimError::invalid_path)?;
    let ext = resolved.extension.and_then(|urn| schema.extension(urn));
    let attr = resolved.attr;
    let filter = match &spec.filter {
        None => None,
        Some(filter) => Some(Box::new(resolve_filter(raw, attr, filter)?)),
    };
    let mut path = qualified(ext, &attr.name);
    if let Some(filter) = &spec.filter {
        path = format!("{path}[{filter}]");
    }
    if let Some(sub) = resolved.sub {
        path = format!("{path}.{}", sub.name);
    }
    Ok(Target::Attr(AttrTarget { ext, attr, filter, sub: resolved.sub, path }))
}

struct Patcher<'s> {
    schema: &'s ResourceSchema,
    doc: Map<String, Value>,
    members: MemberChanges,
    password: Option<String>,
}

impl<'s> Patcher<'s> {
    fn apply(&mut self, op: &PatchOp) -> ScimResult<()> {
        let value = op.value.clone();
        match &op.path {
            None if op.op == PatchOpKind::Remove => Err(ScimError::no_target("\"remove\" needs a \"path\"")),
            None => self.apply_object(op.op, value),
            Some(path) => match resolve_target(self.schema, path)? {
                Target::Extension(ext) => self.apply_extension(op.op, ext, value),
                Target::Attr(target) => self.apply_attr(op.op, &target, value),
            },
        }?;
        prune_extensions(self.schema, &mut self.doc);
        Ok(())
    }

    /// A path-less add/replace: the value's keys are attributes or extension URNs.
    fn apply_object(&mut self, kind: PatchOpKind, value: Option<Value>) -> ScimResult<()> {
        let Some(Value::Object(map)) = value else {
            return Err(ScimError::invalid_value("without a \"path\", the value must be an object of attributes"));
        };
        let schema = self.schema;
        for (key, value) in map {
            match resolve_key(schema, &key) {
                Some(Key::Schemas) => {}
                Some(Key::Attr(ext, attr)) => self.apply_plain(kind, ext, attr, value)?,
                Some(Key::Core) => {
                    let Value::Object(mut inner) = value else {
                        return Err(ScimError::invalid_value(format!("\"{key}\" must be an object")));
                    };
                    drop_nested_schemas(&mut inner)?;
                    for (name, value) in inner {
                        let attr = schema.core_attribute(&name).ok_or_else(|| unknown_path(schema, &name))?;
                        self.apply_plain(kind, None, attr, value)?;
                    }
                }
                Some(Key::Extension(ext)) => self.apply_extension(kind, ext, Some(value))?,
                None if is_urn(&key) && is_empty(&value) => {}
                // Entra ID writes sub-attributes as dotted keys: `"name.givenName"`, `"urn:…:manager.value"`.
                None => match resolve_target(schema, &key) {
                    Ok(Target::Attr(target)) if target.filter.is_none() => {
                        let read_only = |a: &AttributeDef| a.mutability == Mutability::ReadOnly;
                        if !read_only(target.attr) && !target.sub.is_some_and(read_only) {
                            self.apply_attr(kind, &target, Some(value))?;
                        }
                    }
                    _ => return Err(unknown_path(schema, &key)),
                },
            }
        }
        Ok(())
    }

    /// An attribute named by a key of a value object; readOnly ones are ignored, as in PUT.
    fn apply_plain(
        &mut self,
        kind: PatchOpKind,
        ext: Option<&'s SchemaDef>,
        attr: &'s AttributeDef,
        value: Value,
    ) -> ScimResult<()> {
        if attr.mutability == Mutability::ReadOnly {
            return Ok(());
        }
        self.apply_attr(kind, &AttrTarget::plain(ext, attr), Some(value))
    }

    fn apply_extension(&mut self, kind: PatchOpKind, ext: &'s SchemaDef, value: Option<Value>) -> ScimResult<()> {
        match (kind, value) {
            (PatchOpKind::Remove, _) | (PatchOpKind::Replace, None | Some(Value::Null)) => {
                self.doc.shift_remove(&ext.id);
                Ok(())
            }
            (_, Some(Value::Object(mut map))) => {
                drop_nested_schemas(&mut map)?;
                for (name, value) in map {
                    let attr =
                        ext.attribute(&name).ok_or_else(|| unknown_path(self.schema, &qualified(Some(ext), &name)))?;
                    self.apply_plain(kind, Some(ext), attr, value)?;
                }
                Ok(())
            }
            _ => Err(ScimError::invalid_value(format!("the value for \"{}\" must be an object", ext.id))),
        }
    }

    fn apply_attr(&mut self, kind: PatchOpKind, t: &AttrTarget<'s>, value: Option<Value>) -> ScimResult<()> {
        if is_members(self.schema, t.ext, t.attr) {
            return self.apply_members(kind, t, value);
        }
        if t.attr.mutability == Mutability::ReadOnly || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
            return Err(ScimError::mutability(format!("attribute \"{}\" is readOnly", t.path)));
        }
        if is_password(t.ext, t.attr) {
            return self.apply_password(kind, value);
        }
        let container = container_mut(&mut self.doc, t.ext);
        let value = value.unwrap_or(Value::Null);
        match (&t.filter, t.sub) {
            (None, None) => apply_whole(kind, t, container, value)?,
            (None, Some(sub)) => apply_sub(kind, t, sub, container, value)?,
            (Some(filter), sub) => apply_filtered(kind, t, filter, sub, container, value)?,
        }
        if container.get(&t.attr.name).is_some_and(is_empty) {
            container.shift_remove(&t.attr.name);
        }
        Ok(())
    }

    fn apply_members(&mut self, kind: PatchOpKind, t: &AttrTarget<'_>, value: Option<Value>) -> ScimResult<()> {
        if t.sub.is_some() {
            return Err(ScimError::mutability(format!(
                "\"{}\" cannot be modified: add or remove whole members instead",
                t.path
            )));
        }
        match (&t.filter, kind) {
            (Some(filter), PatchOpKind::Remove) => match &filter.ids {
                Some(ids) => self.members.remove(ids.clone()),
                None => {
                    return Err(ScimError::invalid_path(format!(
                        "members can only be selected by id, as in members[value eq \"…\"], not \"{}\"",
                        t.path
                    )));
                }
            },
            (Some(_), _) => {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\": a filtered members path can only be removed; add or replace \"members\" instead",
                    t.path
                )));
            }
            (None, PatchOpKind::Remove) => match value {
                None | Some(Value::Null) => self.members.replace(Vec::new()),
                Some(value) => self.members.remove(parse_members(value)?.into_iter().map(|m| m.value).collect()),
            },
            (None, PatchOpKind::Add) => self.members.add(parse_members(value.unwrap_or(Value::Null))?),
            (None, PatchOpKind::Replace) => self.members.replace(parse_members(value.unwrap_or(Value::Null))?),
        }
        Ok(())
    }

    fn apply_password(&mut self, kind: PatchOpKind, value: Option<Value>) -> ScimResult<()> {
        if kind == PatchOpKind::Remove {
            return Err(ScimError::mutability("\"password\" cannot be removed, only replaced"));
        }
        match password_value(value.unwrap_or(Value::Null))? {
            Some(password) => {
                self.password = Some(password);
                Ok(())
            }
            None => Err(ScimError::invalid_value("\"password\" needs a string value")),
        }
    }
}

fn unknown_path(schema: &ResourceSchema, path: &str) -> ScimError {
    ScimError::invalid_path(format!("unknown attribute \"{path}\" for resource type {}", schema.kind.name()))
}

/// `attr` (no filter, no sub-attribute).
fn apply_whole(
    kind: PatchOpKind,
    t: &AttrTarget<'_>,
    container: &mut Map<String, Value>,
    value: Value,
) -> ScimResult<()> {
    let (attr, name) = (t.attr, &t.attr.name);
    if kind == PatchOpKind::Remove {
        // A value with `remove` on a multi-valued attribute removes just those elements.
        match coerce_attr(attr, &t.path, value)? {
            Some(Value::Array(gone)) => {
                if let Some(Value::Array(items)) = container.get_mut(name) {
                    items.retain(|item| !gone.contains(item));
                }
            }
            _ => {
                container.shift_remove(name);
            }
        }
        return Ok(());
    }
    let Some(new) = coerce_attr(attr, &t.path, value)? else {
        if kind == PatchOpKind::Replace {
            container.shift_remove(name);
        }
        return Ok(());
    };
    match (new, container.get_mut(name)) {
        (Value::Array(new), Some(Value::Array(items))) if kind == PatchOpKind::Add => {
            let start = items.len();
            for item in new {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            let touched: Vec<usize> = (start..items.len()).collect();
            settle_primary(attr, &t.path, items, &touched)?;
        }
        (Value::Object(new), Some(Value::Object(current))) if !attr.multi_valued => current.extend(new),
        (new, _) => {
            container.insert(name.clone(), new);
        }
    }
    Ok(())
}

/// `attr.sub` without a filter: on every element when `attr` is multi-valued.
fn apply_sub(
    kind: PatchOpKind,
    t: &AttrTarget<'_>,
    sub: &AttributeDef,
    container: &mut Map<String, Value>,
    value: Value,
) -> ScimResult<()> {
    let new = match kind {
        PatchOpKind::Remove => None,
        PatchOpKind::Add | PatchOpKind::Replace => coerce_attr(sub, &t.path, value)?,
    };
    if kind == PatchOpKind::Add && new.is_none() {
        return Ok(());
    }
    match container.get_mut(&t.attr.name) {
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(map) = item {
                    set_or_remove(map, &sub.name, new.clone());
                }
            }
            items.retain(|item| !is_empty(item));
            check_primary(t.attr, &t.attr.name, items)?;
        }
        Some(Value::Object(map)) => set_or_remove(map, &sub.name, new),
        _ => {
            if let Some(new) = new {
                let element = Value::Object(Map::from_iter([(sub.name.clone(), new)]));
                let value = if t.attr.multi_valued { Value::Array(vec![element]) } else { element };
                container.insert(t.attr.name.clone(), value);
            }
        }
    }
    Ok(())
}

/// `attr[filter]` and `attr[filter].sub`.
fn apply_filtered(
    kind: PatchOpKind,
    t: &AttrTarget<'_>,
    filter: &ElementFilter<'_>,
    sub: Option<&AttributeDef>,
    container: &mut Map<String, Value>,
    value: Value,
) -> ScimResult<()> {
    let attr = t.attr;
    let new = match (kind, sub) {
        (PatchOpKind::Remove, _) => None,
        (_, None) => coerce_element(attr, &t.path, value)?,
        (_, Some(sub)) => coerce_attr(sub, &t.path, value)?,
    };
    if kind == PatchOpKind::Add && new.is_none() {
        return Ok(());
    }
    let slot = container.entry(attr.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let items = slot.as_array_mut().expect("just made an array");
    let matched: Vec<usize> = (0..items.len()).filter(|&i| filter.matches(attr, &items[i])).collect();
    let Some(new) = new else {
        // Remove, or replace with nothing: the matched elements (or their sub-attribute) go.
        match sub {
            None => {
                let mut index = 0;
                items.retain(|_| {
                    index += 1;
                    !matched.contains(&(index - 1))
                });
            }
            Some(sub) => {
                for &i in &matched {
                    if let Value::Object(map) = &mut items[i] {
                        map.shift_remove(&sub.name);
                    }
                }
                items.retain(|item| !is_empty(item));
            }
        }
        return Ok(());
    };
    let touched = if matched.is_empty() {
        let mut element = filter.template.clone().ok_or_else(|| {
            ScimError::no_target(format!(
                "no element matches \"{}\", and its filter does not describe one to create",
                t.path
            ))
        })?;
        update_element(&mut element, sub, new);
        items.push(element);
        vec![items.len() - 1]
    } else {
        for &i in &matched {
            update_element(&mut items[i], sub, new.clone());
        }
        matched
    };
    settle_primary(attr, &t.path, items, &touched)
}

/// Writes `new` into an element: as its sub-attribute `sub`, merged (complex), or replacing it (simple).
fn update_element(element: &mut Value, sub: Option<&AttributeDef>, new: Value) {
    match (element, sub, new) {
        (Value::Object(map), Some(sub), new) => {
            map.insert(sub.name.clone(), new);
        }
        (Value::Object(map), None, Value::Object(new)) => map.extend(new),
        (element, _, new) => *element = new,
    }
}

fn set_or_remove(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    match value {
        Some(value) => {
            map.insert(name.to_owned(), value);
        }
        None => {
            map.shift_remove(name);
        }
    }
}

/// RFC 7644 §3.5.2: making a value primary makes the others non-primary.
fn settle_primary(attr: &AttributeDef, path: &str, items: &mut [Value], touched: &[usize]) -> ScimResult<()> {
    if touched.iter().any(|&i| is_primary(&items[i])) {
        for (i, item) in items.iter_mut().enumerate() {
            if !touched.contains(&i) && is_primary(item) {
                item["primary"] = Value::Bool(false);
            }
        }
    }
    check_primary(attr, path, items)
}

#[cfg(test)]
mod tests;
