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

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, Matcher, compile_element, parse_filter};
use crate::resource::{
    Key, MemberRef, check_immutable, check_primary, check_required, coerce_attr, coerce_element, container_mut,
    drop_nested_schemas, is_empty, is_members, is_password, is_primary, is_urn, parse_members, password_value,
    prune_extensions, qualified, resolve_key, same_value, split_urn,
};
use crate::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef};

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

/// A value filter on the elements of a multi-valued attribute.
struct ElementFilter<'s> {
    select: Selector<'s>,
    /// The element the filter describes when it is `sub eq value` terms joined by `and`: what
    /// add/replace create when no element matches. None when the filter describes no one element.
    template: Option<Value>,
    /// The ids named by `value eq "…"` terms joined by `or`, for removing group members.
    ids: Option<Vec<String>>,
}

enum Selector<'s> {
    /// Elements of a complex attribute, tested by the filter evaluator.
    Complex(Matcher<'s>),
    /// Elements of a multi-valued simple attribute equal to this value (`[value eq "x"]`).
    Equal(Value),
}

impl ElementFilter<'_> {
    fn matches(&self, attr: &AttributeDef, element: &Value) -> bool {
        match &self.select {
            Selector::Complex(matcher) => matcher.matches(element),
            Selector::Equal(value) => same_value(attr, element, value),
        }
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

/// The filter between the brackets, in the full filter grammar.
fn parse_value_filter(raw: &str, inner: &str) -> ScimResult<Filter> {
    parse_filter(inner).map_err(|e| ScimError::invalid_path(format!("invalid path \"{raw}\": {}", e.detail)))
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

fn resolve_filter<'s>(raw: &str, attr: &'s AttributeDef, filter: &Filter) -> ScimResult<ElementFilter<'s>> {
    let invalid = |why: String| ScimError::invalid_path(format!("invalid path \"{raw}\": {why}"));
    if !attr.multi_valued {
        return Err(invalid(format!(
            "\"{}\" is single-valued, a value filter needs a multi-valued attribute",
            attr.name
        )));
    }
    if attr.kind == AttrType::Complex {
        let matcher = compile_element(filter, attr).map_err(|e| invalid(e.detail))?;
        return Ok(ElementFilter {
            select: Selector::Complex(matcher),
            template: described_element(attr, filter)?,
            ids: member_ids(filter),
        });
    }
    match filter {
        Filter::Compare(lhs, CompareOp::Eq, literal) if lhs.name.eq_ignore_ascii_case("value") && lhs.sub.is_none() => {
            let value = coerce_element(attr, &format!("{}.value", attr.name), literal_value(literal))?
                .ok_or_else(|| invalid("the filter value is empty".into()))?;
            Ok(ElementFilter { select: Selector::Equal(value.clone()), template: Some(value), ids: None })
        }
        _ => Err(invalid(format!("elements of \"{}\" are selected with [value eq …]", attr.name))),
    }
}

fn literal_value(literal: &CompValue) -> Value {
    match literal {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Str(s) => Value::String(s.clone()),
    }
}

/// `{type: "work"}` for `type eq "work"`; `{type: "work", primary: true}` for `type eq "work" and
/// primary eq true`; None for anything else (`or`, `co`, …), which describes no one element.
fn described_element(attr: &AttributeDef, filter: &Filter) -> ScimResult<Option<Value>> {
    let terms: Vec<&Filter> = match filter {
        Filter::And(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut element = Map::new();
    for term in terms {
        let Filter::Compare(path, CompareOp::Eq, literal) = term else { return Ok(None) };
        let Some(sub) = attr.sub_attribute(&path.name).filter(|_| path.sub.is_none()) else { return Ok(None) };
        let Some(value) = coerce_element(sub, &format!("{}.{}", attr.name, sub.name), literal_value(literal))? else {
            return Ok(None);
        };
        element.insert(sub.name.clone(), value);
    }
    Ok(Some(Value::Object(element)))
}

/// The ids of `value eq "…"` terms joined by `or` (`members[value eq "a" or value eq "b"]`).
fn member_ids(filter: &Filter) -> Option<Vec<String>> {
    let terms: Vec<&Filter> = match filter {
        Filter::Or(items) => items.iter().collect(),
        single => vec![single],
    };
    terms
        .into_iter()
        .map(|term| match term {
            Filter::Compare(path, CompareOp::Eq, CompValue::Str(id))
                if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() && path.urn.is_none() =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ScimType;
    use crate::resource::MemberType;
    use crate::schema::{ENTERPRISE_USER, Registry, ResourceKind, SCIMD_USER};

    const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

    fn user() -> ResourceSchema {
        Registry::builtin().user
    }

    fn group() -> ResourceSchema {
        Registry::builtin().group
    }

    fn custom_user() -> ResourceSchema {
        let mut registry = Registry::builtin();
        let ext = json!({
            "id": TEST_EXT,
            "attributes": [
                {"name": "badge", "type": "string", "mutability": "immutable"},
                {"name": "card", "type": "complex", "subAttributes": [
                    {"name": "number", "type": "string", "mutability": "immutable"},
                    {"name": "label", "type": "string"}
                ]},
                {"name": "tags", "type": "string", "multiValued": true}
            ]
        });
        registry.add_extension(ResourceKind::User, &ext.to_string()).expect("test extension is valid");
        registry.user
    }

    fn stored() -> Value {
        json!({
            "userName": "alice",
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "emails": [
                {"value": "alice@work.example", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ],
            ENTERPRISE_USER: {"employeeNumber": "42"},
        })
    }

    fn op(kind: PatchOpKind, path: Option<&str>, value: Option<Value>) -> PatchOp {
        PatchOp { op: kind, path: path.map(str::to_owned), value }
    }

    fn add(path: &str, value: Value) -> PatchOp {
        op(PatchOpKind::Add, Some(path), Some(value))
    }

    fn replace(path: &str, value: Value) -> PatchOp {
        op(PatchOpKind::Replace, Some(path), Some(value))
    }

    fn remove(path: &str) -> PatchOp {
        op(PatchOpKind::Remove, Some(path), None)
    }

    fn patch(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> PatchOutcome {
        apply_patch(schema, doc, ops).unwrap_or_else(|e| panic!("patch should apply: {e}"))
    }

    fn patch_user(ops: &[PatchOp]) -> Value {
        patch(&user(), &stored(), ops).doc
    }

    fn fail(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> ScimError {
        apply_patch(schema, doc, ops).expect_err("patch should fail")
    }

    fn fail_user(ops: &[PatchOp]) -> ScimError {
        fail(&user(), &stored(), ops)
    }

    fn assert_err(e: &ScimError, scim_type: ScimType, needle: &str) {
        assert_eq!(e.status, 400, "{e}");
        assert_eq!(e.scim_type, Some(scim_type), "{e}");
        assert!(e.detail.contains(needle), "detail should name {needle:?}: {e}");
    }

    fn request(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
    }

    // parse_patch_request

    #[test]
    fn patch_body_must_be_an_object() {
        let e = parse_patch_request(json!([])).expect_err("array body");
        assert_err(&e, ScimType::InvalidSyntax, "object");
    }

    #[test]
    fn schemas_must_contain_the_patch_op_urn() {
        let e = parse_patch_request(json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}))
            .expect_err("no schemas");
        assert_err(&e, ScimType::InvalidSyntax, PATCH_OP_SCHEMA);
        let body = json!({"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "title", "value": "x"}]});
        assert_err(&parse_patch_request(body).expect_err("wrong schema"), ScimType::InvalidSyntax, "schemas");
    }

    #[test]
    fn operations_must_be_a_non_empty_array() {
        let e = parse_patch_request(request(json!([]))).expect_err("empty");
        assert_err(&e, ScimType::InvalidSyntax, "Operations");
        let e = parse_patch_request(json!({"schemas": [PATCH_OP_SCHEMA]})).expect_err("missing");
        assert_err(&e, ScimType::InvalidSyntax, "Operations");
        let e = parse_patch_request(request(json!({"op": "add"}))).expect_err("object");
        assert_err(&e, ScimType::InvalidSyntax, "Operations");
    }

    #[test]
    fn op_names_and_keys_are_case_insensitive() {
        let ops = parse_patch_request(json!({
            "schemas": [PATCH_OP_SCHEMA],
            "operations": [
                {"op": "Add", "path": "title", "value": "x"},
                {"Op": "REPLACE", "Path": "nickName", "Value": "y"},
                {"op": "remove", "path": "displayName"},
            ],
        }))
        .expect("parses");
        assert_eq!(ops, [add("title", json!("x")), replace("nickName", json!("y")), remove("displayName"),]);
    }

    #[test]
    fn unknown_op_is_invalid_syntax() {
        let e = parse_patch_request(request(json!([{"op": "move", "path": "title"}]))).expect_err("move");
        assert_err(&e, ScimType::InvalidSyntax, "move");
        let e = parse_patch_request(request(json!([{"path": "title"}]))).expect_err("no op");
        assert_err(&e, ScimType::InvalidSyntax, "op");
    }

    #[test]
    fn remove_without_path_is_no_target() {
        let e = parse_patch_request(request(json!([{"op": "remove"}]))).expect_err("no path");
        assert_err(&e, ScimType::NoTarget, "path");
        let e = apply_patch(&user(), &stored(), &[op(PatchOpKind::Remove, None, None)]).expect_err("no path");
        assert_err(&e, ScimType::NoTarget, "path");
    }

    #[test]
    fn add_or_replace_without_value_is_invalid_value() {
        let e = parse_patch_request(request(json!([{"op": "add", "path": "title"}]))).expect_err("no value");
        assert_err(&e, ScimType::InvalidValue, "value");
        let e = parse_patch_request(request(json!([{"op": "replace", "path": "title"}]))).expect_err("no value");
        assert_err(&e, ScimType::InvalidValue, "value");
    }

    #[test]
    fn path_must_be_a_string() {
        let e = parse_patch_request(request(json!([{"op": "add", "path": 1, "value": 1}]))).expect_err("path");
        assert_err(&e, ScimType::InvalidSyntax, "path");
    }

    #[test]
    fn parse_errors_name_the_operation_index() {
        let body = request(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "nope"}]));
        assert_err(&parse_patch_request(body).expect_err("second op"), ScimType::InvalidSyntax, "Operations[1]");
    }

    // apply_patch: plain paths

    #[test]
    fn add_sets_a_single_valued_attribute() {
        assert_eq!(patch_user(&[add("title", json!("CEO"))])["title"], json!("CEO"));
    }

    #[test]
    fn replace_sets_a_single_valued_attribute_with_a_case_insensitive_path() {
        let doc = patch_user(&[replace("USERNAME", json!("bob"))]);
        assert_eq!(doc["userName"], json!("bob"));
        assert!(doc.get("USERNAME").is_none());
    }

    #[test]
    fn remove_deletes_an_attribute() {
        let doc = patch_user(&[remove("name")]);
        assert!(doc.get("name").is_none());
    }

    #[test]
    fn remove_of_an_absent_attribute_is_a_noop() {
        assert_eq!(patch_user(&[remove("title"), remove("name.middleName")]), stored());
    }

    #[test]
    fn add_on_multi_valued_appends_skipping_exact_duplicates() {
        let doc = patch_user(&[add(
            "emails",
            json!([{"value": "alice@home.example", "type": "home"}, {"value": "a@other.example"}]),
        )]);
        let values: Vec<&str> =
            doc["emails"].as_array().expect("array").iter().filter_map(|e| e["value"].as_str()).collect();
        assert_eq!(values, ["alice@work.example", "alice@home.example", "a@other.example"]);
    }

    #[test]
    fn add_on_multi_valued_requires_an_array() {
        let e = fail_user(&[add("emails", json!({"value": "x@y"}))]);
        assert_err(&e, ScimType::InvalidValue, "emails");
    }

    #[test]
    fn replace_on_multi_valued_replaces_the_whole_list() {
        let doc = patch_user(&[replace("emails", json!([{"value": "new@x"}]))]);
        assert_eq!(doc["emails"], json!([{"value": "new@x"}]));
    }

    #[test]
    fn replace_with_null_or_empty_clears() {
        let doc = patch_user(&[replace("emails", json!([])), replace("name", Value::Null)]);
        assert!(doc.get("emails").is_none() && doc.get("name").is_none(), "{doc}");
    }

    #[test]
    fn add_and_replace_merge_sub_attributes_of_a_single_valued_complex_attribute() {
        let doc = patch_user(&[replace("name", json!({"givenName": "Al"})), add("name", json!({"middleName": "M"}))]);
        assert_eq!(doc["name"], json!({"givenName": "Al", "familyName": "Smith", "middleName": "M"}));
    }

    #[test]
    fn sub_attribute_paths_add_replace_and_remove() {
        let doc = patch_user(&[
            replace("name.givenName", json!("Al")),
            add("name.honorificPrefix", json!("Dr")),
            remove("name.familyName"),
        ]);
        assert_eq!(doc["name"], json!({"givenName": "Al", "honorificPrefix": "Dr"}));
        let doc = patch_user(&[remove("name.givenName"), remove("name.familyName")]);
        assert!(doc.get("name").is_none(), "an emptied complex attribute is unassigned");
        let doc = patch(&user(), &json!({"userName": "a"}), &[add("name.givenName", json!("G"))]).doc;
        assert_eq!(doc["name"], json!({"givenName": "G"}));
    }

    #[test]
    fn multi_valued_sub_attribute_path_applies_to_every_element() {
        let doc = patch_user(&[replace("emails.type", json!("other"))]);
        let types: Vec<&Value> = doc["emails"].as_array().expect("array").iter().map(|e| &e["type"]).collect();
        assert_eq!(types, [&json!("other"), &json!("other")]);
        let doc = patch_user(&[remove("emails.type")]);
        assert!(doc["emails"].as_array().expect("array").iter().all(|e| e.get("type").is_none()));
    }

    #[test]
    fn urn_qualified_paths_reach_extension_attributes() {
        let doc = patch_user(&[
            replace(&format!("{ENTERPRISE_USER}:employeeNumber"), json!("43")),
            add(&format!("{}:manager.value", ENTERPRISE_USER.to_lowercase()), json!("boss")),
            add("urn:ietf:params:scim:schemas:core:2.0:User:title", json!("CTO")),
        ]);
        assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "43", "manager": {"value": "boss"}}));
        assert_eq!(doc["title"], json!("CTO"));
    }

    #[test]
    fn unqualified_extension_attribute_paths_resolve() {
        let doc = patch_user(&[add("department", json!("R&D"))]);
        assert_eq!(doc[ENTERPRISE_USER]["department"], json!("R&D"));
    }

    #[test]
    fn bare_extension_urn_path_adds_merges_and_removes_the_extension() {
        let doc = patch_user(&[add(ENTERPRISE_USER, json!({"costCenter": "c1"}))]);
        assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "costCenter": "c1"}));
        assert!(patch_user(&[remove(ENTERPRISE_USER)]).get(ENTERPRISE_USER).is_none());
    }

    #[test]
    fn schemas_inside_an_extension_value_is_ignored() {
        // scim2-models sends the extension URN again inside the extension object.
        let value = json!({"schemas": [ENTERPRISE_USER], "costCenter": "c1"});
        for doc in [patch_user(&[add(ENTERPRISE_USER, value.clone())]), patch_user(&[replace(ENTERPRISE_USER, value)])]
        {
            assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "costCenter": "c1"}));
        }
        let doc = patch_user(&[add(SCIMD_USER, json!({"Schemas": [SCIMD_USER], "note": "n"}))]);
        assert_eq!(doc[SCIMD_USER], json!({"note": "n"}));
        let pathless = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
            ENTERPRISE_USER: {"schemas": [ENTERPRISE_USER], "department": "d"},
            "urn:ietf:params:scim:schemas:core:2.0:User": {"schemas": [], "title": "t"},
        });
        let doc = patch_user(&[op(PatchOpKind::Add, None, Some(pathless))]);
        assert_eq!(doc[ENTERPRISE_USER]["department"], json!("d"));
        assert_eq!(doc["title"], json!("t"));
        let e = fail_user(&[add(ENTERPRISE_USER, json!({"schemas": "nope"}))]);
        assert_err(&e, ScimType::InvalidSyntax, "schemas");
    }

    #[test]
    fn extension_object_left_empty_is_dropped() {
        let doc = patch_user(&[remove(&format!("{ENTERPRISE_USER}:employeeNumber"))]);
        assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
    }

    #[test]
    fn without_path_the_value_keys_are_applied_per_attribute() {
        let doc = patch_user(&[op(
            PatchOpKind::Replace,
            None,
            Some(json!({
                "active": "False",
                "Name": {"familyName": "Jones"},
                format!("{ENTERPRISE_USER}:department"): "Sales",
                ENTERPRISE_USER: {"costCenter": "c9"},
                "emails": [{"value": "only@x"}],
            })),
        )]);
        assert_eq!(doc["active"], json!(false));
        assert_eq!(doc["name"], json!({"givenName": "Alice", "familyName": "Jones"}));
        assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "department": "Sales", "costCenter": "c9"}));
        assert_eq!(doc["emails"], json!([{"value": "only@x"}]));
        let doc = patch_user(&[op(PatchOpKind::Add, None, Some(json!({"emails": [{"value": "more@x"}]})))]);
        assert_eq!(doc["emails"].as_array().expect("array").len(), 3);
    }

    #[test]
    fn without_path_the_value_must_be_an_object() {
        let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!("x")))]);
        assert_err(&e, ScimType::InvalidValue, "object");
    }

    #[test]
    fn without_path_read_only_attributes_are_ignored() {
        let doc = patch_user(&[op(
            PatchOpKind::Replace,
            None,
            Some(json!({"id": "x", "meta": {"version": "1"}, "groups": [], "nickName": "Al"})),
        )]);
        let mut expected = stored();
        expected["nickName"] = json!("Al");
        assert_eq!(doc, expected);
    }

    #[test]
    fn without_path_dotted_and_urn_keys_name_sub_attributes() {
        let doc = patch_user(&[op(
            PatchOpKind::Replace,
            None,
            Some(json!({
                "name.givenName": "Alicia",
                format!("{ENTERPRISE_USER}:employeeNumber"): "43",
                format!("{ENTERPRISE_USER}:manager.value"): "boss",
                "meta.lastModified": "2020-01-01T00:00:00Z",
            })),
        )]);
        assert_eq!(doc["name"], json!({"givenName": "Alicia", "familyName": "Smith"}));
        assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "43", "manager": {"value": "boss"}}));
        assert!(doc.get("meta").is_none(), "readOnly sub-attributes are ignored, as in PUT");
        let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"name.surname": "x"})))]);
        assert_err(&e, ScimType::InvalidPath, "name.surname");
    }

    #[test]
    fn an_echoed_id_must_be_the_resource_id() {
        let ops = [op(PatchOpKind::Replace, None, Some(json!({"id": "g1", "displayName": "new"})))];
        assert_eq!(check_echoed_id(&ops, "g1"), Ok(()));
        assert_err(&check_echoed_id(&ops, "g2").expect_err("other id"), ScimType::Mutability, "id");
        assert_eq!(check_echoed_id(&[add("title", json!("x"))], "g1"), Ok(()));
    }

    #[test]
    fn manager_given_as_a_bare_id_is_its_value() {
        let path = format!("{ENTERPRISE_USER}:manager");
        let doc = patch_user(&[replace(&path, json!("boss-id"))]);
        assert_eq!(doc[ENTERPRISE_USER]["manager"], json!({"value": "boss-id"}));
        let e = fail_user(&[add("emails", json!("a@b.example"))]);
        assert_err(&e, ScimType::InvalidValue, "emails");
    }

    #[test]
    fn without_path_unknown_keys_are_invalid_path() {
        let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"shoeSize": 9})))]);
        assert_err(&e, ScimType::InvalidPath, "shoeSize");
        let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"urn:example:x:1.0:User": {"a": 1}})))]);
        assert_err(&e, ScimType::InvalidPath, "urn:example:x:1.0:User");
    }

    #[test]
    fn unknown_paths_are_invalid_path_naming_them() {
        assert_err(&fail_user(&[add("shoeSize", json!(9))]), ScimType::InvalidPath, "shoeSize");
        assert_err(&fail_user(&[add("name.surname", json!("x"))]), ScimType::InvalidPath, "surname");
        assert_err(&fail_user(&[remove("urn:example:nope:1.0:User:x")]), ScimType::InvalidPath, "urn:example:nope");
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "name.given.x",
            "emails[type eq \"work\"",
            "emails[type eq \"work\"]value",
            "na me",
            "name[type eq \"x\"].a.b",
        ] {
            assert_err(&fail_user(&[remove(bad)]), ScimType::InvalidPath, "");
        }
    }

    #[test]
    fn value_filters_use_the_full_filter_grammar() {
        let doc = patch_user(&[remove("emails[type ne \"work\"]")]);
        assert_eq!(doc["emails"], json!([{"value": "alice@work.example", "type": "work", "primary": true}]));
        let doc = patch_user(&[replace("emails[type eq \"work\" and primary eq true].value", json!("a@new.example"))]);
        assert_eq!(doc["emails"][0]["value"], "a@new.example");
        assert_eq!(doc["emails"][1]["value"], "alice@home.example");
        let doc = patch_user(&[remove("emails[value co \"home\" or type eq \"work\"]")]);
        assert!(doc.get("emails").is_none(), "{doc}");
        let doc = patch_user(&[remove("emails[not (type pr)]")]);
        assert_eq!(doc["emails"], stored()["emails"], "nothing matches, nothing changes");
    }

    #[test]
    fn a_filter_that_describes_an_element_creates_it_and_others_are_no_target() {
        let doc = patch_user(&[add("emails[type eq \"other\" and display eq \"Other\"].value", json!("o@x.example"))]);
        assert_eq!(doc["emails"][2], json!({"type": "other", "display": "Other", "value": "o@x.example"}));
        let e = fail_user(&[replace("emails[type co \"oth\"].value", json!("o@x.example"))]);
        assert_err(&e, ScimType::NoTarget, "does not describe");
    }

    #[test]
    fn invalid_value_filters_are_invalid_path() {
        for bad in ["emails[type eq]", "emails[type eq \"work\" and]", "emails[(type eq \"work\"]"] {
            assert_err(&fail_user(&[remove(bad)]), ScimType::InvalidPath, "invalid path");
        }
        assert_err(
            &fail_user(&[remove("emails[kind eq \"work\"]")]),
            ScimType::InvalidPath,
            "unknown sub-attribute \"kind\"",
        );
        assert_err(&fail_user(&[remove("emails[type gt 5]")]), ScimType::InvalidPath, "emails.type");
    }

    #[test]
    fn value_filter_on_a_single_valued_attribute_is_invalid_path() {
        assert_err(&fail_user(&[remove("name[givenName eq \"Alice\"]")]), ScimType::InvalidPath, "single-valued");
    }

    #[test]
    fn values_are_validated_and_coerced_like_post() {
        assert_eq!(patch_user(&[replace("active", json!("TRUE"))])["active"], json!(true));
        assert_err(&fail_user(&[replace("userName", json!(5))]), ScimType::InvalidValue, "userName");
        assert_err(&fail_user(&[replace("active", json!("maybe"))]), ScimType::InvalidValue, "active");
        let e = fail_user(&[add("emails", json!([{"value": "x@y", "label": "z"}]))]);
        assert_err(&e, ScimType::InvalidSyntax, "emails.label");
        let e = fail_user(&[replace(&format!("{ENTERPRISE_USER}:employeeNumber"), json!(7))]);
        assert_err(&e, ScimType::InvalidValue, "employeeNumber");
    }

    // Value filters

    #[test]
    fn value_filter_sub_path_updates_matching_elements() {
        let doc = patch_user(&[replace("emails[type eq \"work\"].value", json!("alice@new.example"))]);
        assert_eq!(doc["emails"][0], json!({"value": "alice@new.example", "type": "work", "primary": true}));
        assert_eq!(doc["emails"][1], stored()["emails"][1]);
    }

    #[test]
    fn value_filter_matches_case_insensitively_unless_case_exact() {
        let doc = patch_user(&[replace("emails[TYPE eq \"Work\"].value", json!("w@x"))]);
        assert_eq!(doc["emails"][0]["value"], json!("w@x"));
    }

    #[test]
    fn value_filter_element_path_merges_the_object() {
        let doc = patch_user(&[replace("emails[type eq \"home\"]", json!({"display": "Home"}))]);
        assert_eq!(doc["emails"][1], json!({"value": "alice@home.example", "type": "home", "display": "Home"}));
    }

    #[test]
    fn value_filter_without_match_creates_the_element() {
        let doc = patch_user(&[add("emails[type eq \"other\"].value", json!("o@x"))]);
        assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x"}));
        let doc = patch(
            &user(),
            &json!({"userName": "a"}),
            &[replace("phoneNumbers[type eq \"mobile\"].value", json!("+1"))],
        )
        .doc;
        assert_eq!(doc["phoneNumbers"], json!([{"type": "mobile", "value": "+1"}]));
    }

    #[test]
    fn value_filter_remove_removes_matching_elements() {
        let doc = patch_user(&[remove("emails[type eq \"work\"]")]);
        assert_eq!(doc["emails"], json!([{"value": "alice@home.example", "type": "home"}]));
        let doc = patch_user(&[remove("emails[type eq \"work\"]"), remove("emails[value eq \"ALICE@home.example\"]")]);
        assert!(doc.get("emails").is_none(), "{doc}");
        assert_eq!(patch_user(&[remove("emails[type eq \"fax\"]")]), stored());
    }

    #[test]
    fn value_filter_remove_of_a_sub_attribute() {
        let doc = patch_user(&[remove("emails[type eq \"work\"].primary")]);
        assert_eq!(doc["emails"][0], json!({"value": "alice@work.example", "type": "work"}));
    }

    #[test]
    fn value_filter_on_a_multi_valued_simple_attribute_uses_value() {
        let schema = custom_user();
        let doc = json!({"userName": "a", TEST_EXT: {"tags": ["x", "y"]}});
        let out = patch(&schema, &doc, &[remove("tags[value eq \"x\"]")]).doc;
        assert_eq!(out[TEST_EXT]["tags"], json!(["y"]));
        let out = patch(&schema, &doc, &[add("tags", json!(["y", "z"]))]).doc;
        assert_eq!(out[TEST_EXT]["tags"], json!(["x", "y", "z"]));
    }

    #[test]
    fn remove_with_a_value_on_multi_valued_removes_only_those_elements() {
        let doc = patch_user(&[op(
            PatchOpKind::Remove,
            Some("emails"),
            Some(json!([{"value": "alice@home.example", "type": "home"}])),
        )]);
        assert_eq!(doc["emails"].as_array().expect("array").len(), 1);
    }

    #[test]
    fn primary_true_clears_the_other_primaries() {
        let doc = patch_user(&[replace("emails[type eq \"home\"].primary", json!(true))]);
        assert_eq!(doc["emails"][0]["primary"], json!(false));
        assert_eq!(doc["emails"][1]["primary"], json!(true));
        let doc = patch_user(&[add("emails", json!([{"value": "n@x", "primary": "true"}]))]);
        assert_eq!(doc["emails"][0]["primary"], json!(false));
        assert_eq!(doc["emails"][2]["primary"], json!(true));
    }

    #[test]
    fn two_primaries_in_one_value_are_invalid_value() {
        let e =
            fail_user(&[add("emails", json!([{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]))]);
        assert_err(&e, ScimType::InvalidValue, "primary");
    }

    // Mutability and required attributes

    #[test]
    fn read_only_targets_are_mutability_errors() {
        for path in ["id", "meta.created", "groups", &format!("{SCIMD_USER}:status"), "manager.displayName"] {
            assert_err(&fail_user(&[replace(path, json!("x"))]), ScimType::Mutability, "readOnly");
        }
        assert_err(&fail_user(&[remove("groups[value eq \"g\"]")]), ScimType::Mutability, "groups");
    }

    #[test]
    fn immutable_attribute_already_set_is_a_mutability_error() {
        let schema = custom_user();
        let doc = json!({"userName": "a", TEST_EXT: {"badge": "b1", "card": {"number": "9"}}});
        let e = fail(&schema, &doc, &[replace(&format!("{TEST_EXT}:badge"), json!("b2"))]);
        assert_err(&e, ScimType::Mutability, "badge");
        let e = fail(&schema, &doc, &[remove("badge")]);
        assert_err(&e, ScimType::Mutability, "badge");
        let e = fail(&schema, &doc, &[replace("card.number", json!("10"))]);
        assert_err(&e, ScimType::Mutability, "card.number");
        patch(&schema, &doc, &[replace("badge", json!("B1")), replace("card.label", json!("l"))]);
    }

    #[test]
    fn immutable_attribute_not_yet_set_may_be_added() {
        let schema = custom_user();
        let out = patch(&schema, &json!({"userName": "a"}), &[add("badge", json!("b1"))]).doc;
        assert_eq!(out[TEST_EXT]["badge"], json!("b1"));
    }

    #[test]
    fn removing_a_required_attribute_is_invalid_value() {
        assert_err(&fail_user(&[remove("userName")]), ScimType::InvalidValue, "userName");
        assert_err(&fail_user(&[replace("userName", json!(""))]), ScimType::InvalidValue, "userName");
        let e = fail(&group(), &json!({"displayName": "g"}), &[remove("displayName")]);
        assert_err(&e, ScimType::InvalidValue, "displayName");
    }

    #[test]
    fn errors_name_the_operation_index_and_nothing_is_returned() {
        let e = fail_user(&[replace("title", json!("ok")), replace("shoeSize", json!(1))]);
        assert_err(&e, ScimType::InvalidPath, "Operations[1]");
    }

    // Password

    #[test]
    fn password_replace_is_reported_not_stored() {
        let out = patch(&user(), &stored(), &[replace("password", json!("n3w"))]);
        assert_eq!(out.password.as_deref(), Some("n3w"));
        assert_eq!(out.doc, stored());
        let out = patch(&user(), &stored(), &[op(PatchOpKind::Replace, None, Some(json!({"password": "p2"})))]);
        assert_eq!(out.password.as_deref(), Some("p2"));
        assert_eq!(patch(&user(), &stored(), &[add("title", json!("t"))]).password, None);
    }

    #[test]
    fn password_must_be_a_string_and_cannot_be_removed() {
        assert_err(&fail_user(&[replace("password", json!(1))]), ScimType::InvalidValue, "password");
        assert_err(&fail_user(&[remove("password")]), ScimType::Mutability, "password");
    }

    // Group members

    fn stored_group() -> Value {
        json!({"displayName": "g"})
    }

    fn member(id: &str, kind: Option<MemberType>) -> MemberRef {
        MemberRef { value: id.to_owned(), kind }
    }

    fn members_of(ops: &[PatchOp]) -> MemberChanges {
        let out = patch(&group(), &stored_group(), ops);
        assert_eq!(out.doc, stored_group(), "members never enter the document");
        out.members
    }

    #[test]
    fn members_add_collects_member_refs() {
        let changes =
            members_of(&[add("members", json!([{"value": "u1", "type": "User"}, {"value": "g1", "display": "G"}]))]);
        assert_eq!(changes.add, [member("u1", Some(MemberType::User)), member("g1", None)]);
        assert!(changes.remove.is_empty() && changes.replace.is_none());
        let changes = members_of(&[op(PatchOpKind::Add, None, Some(json!({"members": [{"value": "u2"}]})))]);
        assert_eq!(changes.add, [member("u2", None)]);
    }

    #[test]
    fn members_remove_by_value_filter() {
        let changes = members_of(&[remove("members[value eq \"u1\"]")]);
        assert_eq!(changes.remove, ["u1"]);
        let changes = members_of(&[remove("members[value eq \"u1\" or value eq \"u2\"]")]);
        assert_eq!(changes.remove, ["u1", "u2"]);
    }

    #[test]
    fn members_remove_with_a_value_list_removes_only_those() {
        let changes =
            members_of(&[op(PatchOpKind::Remove, Some("members"), Some(json!([{"value": "u1"}, {"value": "u2"}])))]);
        assert_eq!(changes.remove, ["u1", "u2"]);
        assert!(changes.replace.is_none());
    }

    #[test]
    fn members_remove_without_value_clears_all() {
        assert_eq!(members_of(&[remove("members")]).replace, Some(vec![]));
    }

    #[test]
    fn members_replace_sets_the_list() {
        let changes = members_of(&[replace("members", json!([{"value": "u1"}, {"value": "u1"}]))]);
        assert_eq!(changes.replace, Some(vec![member("u1", None)]));
        assert_eq!(members_of(&[replace("members", json!([]))]).replace, Some(vec![]));
    }

    #[test]
    fn members_changes_fold_in_order() {
        let changes = members_of(&[
            add("members", json!([{"value": "a"}, {"value": "b"}])),
            remove("members[value eq \"a\"]"),
            remove("members[value eq \"c\"]"),
            add("members", json!([{"value": "c"}])),
        ]);
        assert_eq!(changes.add, [member("b", None), member("c", None)]);
        assert_eq!(changes.remove, ["a"]);
        let changes = members_of(&[
            replace("members", json!([{"value": "a"}])),
            add("members", json!([{"value": "b"}])),
            remove("members[value eq \"a\"]"),
        ]);
        assert_eq!(changes, MemberChanges { add: vec![], remove: vec![], replace: Some(vec![member("b", None)]) });
    }

    #[test]
    fn members_sub_attribute_paths_are_mutability_errors() {
        let e = fail(&group(), &stored_group(), &[replace("members.display", json!("x"))]);
        assert_err(&e, ScimType::Mutability, "members.display");
        let e = fail(&group(), &stored_group(), &[replace("members[value eq \"u\"].type", json!("Group"))]);
        assert_err(&e, ScimType::Mutability, "members");
    }

    #[test]
    fn members_filters_other_than_remove_by_value_are_invalid_path() {
        let e = fail(&group(), &stored_group(), &[remove("members[type eq \"User\"]")]);
        assert_err(&e, ScimType::InvalidPath, "members");
        let e = fail(&group(), &stored_group(), &[add("members[value eq \"u\"]", json!({"value": "u"}))]);
        assert_err(&e, ScimType::InvalidPath, "members");
    }

    #[test]
    fn members_values_are_validated() {
        let e = fail(&group(), &stored_group(), &[add("members", json!([{"value": "u", "type": "Robot"}]))]);
        assert_err(&e, ScimType::InvalidValue, "members.type");
        let e = fail(&group(), &stored_group(), &[add("members", json!({"value": "u"}))]);
        assert_err(&e, ScimType::InvalidValue, "members");
    }
}
