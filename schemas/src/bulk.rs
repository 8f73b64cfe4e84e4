//! Bulk requests (RFC 7644 §3.7): the `BulkRequest` message, the `bulkId:` references between its
//! operations, and the order the operations run in. No I/O: the server runs the plan.
//!
//! Each operation's `data` stays unparsed JSON until the operation runs, so a request of 10,000
//! operations is held as its body plus a few strings per operation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{ScimError, ScimResult};
use crate::schema::ResourceKind;

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const REFERENCE: &str = "bulkId:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    fn parse(name: &str) -> Option<BulkMethod> {
        [BulkMethod::Post, BulkMethod::Put, BulkMethod::Patch, BulkMethod::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

/// One operation of a bulk request.
#[derive(Debug)]
pub struct BulkOperation<'a> {
    pub method: BulkMethod,
    pub path: String,
    pub bulk_id: Option<String>,
    /// The `version` (an ETag), which acts as `If-Match`.
    pub version: Option<String>,
    /// The resource or PatchOp body, unparsed; `None` for DELETE.
    pub data: Option<&'a RawValue>,
    /// The bulkIds this operation references, in its path or anywhere in its data.
    pub references: Vec<String>,
}

impl BulkOperation<'_> {
    /// The resource type and, except for POST, the resource id the path names. `Err` is the
    /// error a single request to that path would get (404 or 405).
    pub fn target(&self) -> ScimResult<(ResourceKind, Option<&str>)> {
        let path = self.path.strip_prefix('/').unwrap_or(&self.path);
        let (endpoint, id) = match path.split_once('/') {
            Some((endpoint, id)) => (endpoint, Some(id)),
            None => (path, None),
        };
        let kind = [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .find(|k| &k.endpoint()[1..] == endpoint)
            .filter(|_| id.is_none_or(|id| !id.is_empty() && !id.contains('/')))
            .ok_or_else(|| ScimError::not_found(format!("no such endpoint: {:?}", self.path)))?;
        match (self.method, id) {
            (BulkMethod::Post, None) | (BulkMethod::Put | BulkMethod::Patch | BulkMethod::Delete, Some(_)) => {
                Ok((kind, id))
            }
            _ => Err(ScimError::new(405, None, format!("{} is not allowed on {:?}", self.method.as_str(), self.path))),
        }
    }
}

#[derive(Debug)]
pub struct BulkRequest<'a> {
    /// Stop after this many failed operations (RFC 7644 §3.7.3); `None` runs them all.
    pub fail_on_errors: Option<u64>,
    pub operations: Vec<BulkOperation<'a>>,
}

/// A JSON object's members, values unparsed; names match case-insensitively, as SCIM's do.
struct Fields<'a>(HashMap<String, &'a RawValue>);

impl<'a> Fields<'a> {
    fn parse(json: &'a str, what: &str) -> ScimResult<Fields<'a>> {
        serde_json::from_str(json)
            .map(Fields)
            .map_err(|e| ScimError::invalid_syntax(format!("{what} must be a JSON object: {e}")))
    }

    /// The member `name`, absent when missing or `null`.
    fn get<T: Deserialize<'a>>(&self, name: &str) -> ScimResult<Option<T>> {
        let Some(raw) = self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v) else {
            return Ok(None);
        };
        serde_json::from_str::<Option<T>>(raw.get())
            .map_err(|e| ScimError::invalid_syntax(format!("\"{name}\" has the wrong type: {e}")))
    }
}

impl<'a> BulkRequest<'a> {
    /// Parses a request body. More than `max_operations` operations is 413 (RFC 7644 §3.7.4). A body
    /// that is not a valid BulkRequest, or a bulkId used twice, is 400: nothing runs.
    pub fn parse(body: &'a str, max_operations: usize) -> ScimResult<BulkRequest<'a>> {
        let fields = Fields::parse(body, "a BulkRequest")?;
        let schemas: Vec<String> = fields.get("schemas")?.unwrap_or_default();
        if !schemas.iter().any(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA)) {
            return Err(ScimError::invalid_syntax(format!(
                "\"schemas\" must be an array containing \"{BULK_REQUEST_SCHEMA}\""
            )));
        }
        let fail_on_errors = match fields.get::<Value>("failOnErrors")? {
            None => None,
            Some(n) => Some(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value(format!("\"failOnErrors\" must be a positive integer, not {n}"))
            })?),
        };
        let raw_ops: Vec<&RawValue> =
            fields.get("Operations")?.ok_or_else(|| ScimError::invalid_syntax("\"Operations\" must be an array"))?;
        if raw_ops.len() > max_operations {
            return Err(ScimError::new(
                413,
                None,
                format!("the bulk request has {} operations; maxOperations is {max_operations}", raw_ops.len()),
            ));
        }
        let operations = raw_ops
            .into_iter()
            .enumerate()
            .map(|(i, raw)| {
                parse_operation(raw).map_err(|e| ScimError { detail: format!("Operations[{i}]: {}", e.detail), ..e })
            })
            .collect::<ScimResult<Vec<_>>>()?;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, op) in operations.iter().enumerate() {
            if let Some(first) = op.bulk_id.as_deref().and_then(|id| seen.insert(id, i)) {
                return Err(ScimError::invalid_value(format!(
                    "Operations[{first}] and Operations[{i}] have the same bulkId {:?}: a bulkId must be unique",
                    op.bulk_id.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok(BulkRequest { fail_on_errors, operations })
    }
}

fn parse_operation(raw: &RawValue) -> ScimResult<BulkOperation<'_>> {
    let fields = Fields::parse(raw.get(), "an operation")?;
    let method: String = fields.get("method")?.ok_or_else(|| ScimError::invalid_syntax("\"method\" is missing"))?;
    let method = BulkMethod::parse(&method).ok_or_else(|| {
        ScimError::invalid_syntax(format!("unknown \"method\" {method:?}: expected POST, PUT, PATCH or DELETE"))
    })?;
    let path: String = fields.get("path")?.ok_or_else(|| ScimError::invalid_syntax("\"path\" is missing"))?;
    let bulk_id: Option<String> = fields.get("bulkId")?;
    if bulk_id.as_deref().is_some_and(str::is_empty) {
        return Err(ScimError::invalid_value("\"bulkId\" must not be empty"));
    }
    if method == BulkMethod::Post && bulk_id.is_none() {
        return Err(ScimError::invalid_syntax("a POST needs a \"bulkId\" (RFC 7644 §3.7)"));
    }
    let data = match method {
        BulkMethod::Delete => None,
        _ => Some(
            fields
                .get::<&RawValue>("data")?
                .ok_or_else(|| ScimError::invalid_syntax(format!("a {} needs \"data\"", method.as_str())))?,
        ),
    };
    let mut references = Vec::new();
    if let Some(id) = path.rsplit('/').next().and_then(|segment| segment.strip_prefix(REFERENCE)) {
        references.push(id.to_owned());
    }
    // Most data references nothing: look for the prefix before parsing.
    if let Some(data) = data.filter(|d| d.get().contains(REFERENCE)) {
        let value: Value = serde_json::from_str(data.get())
            .map_err(|e| ScimError::invalid_syntax(format!("\"data\" is not valid JSON: {e}")))?;
        collect_references(&value, &mut references);
    }
    references.sort_unstable();
    references.dedup();
    Ok(BulkOperation { method, path, bulk_id, version: fields.get("version")?, data, references })
}

fn collect_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(s.strip_prefix(REFERENCE).map(str::to_owned)),
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// `s` with a `bulkId:` reference replaced by what `lookup` resolves it to; `None` when `s` is no
/// reference.
pub fn resolve_str(s: &str, lookup: &impl Fn(&str) -> ScimResult<String>) -> ScimResult<Option<String>> {
    s.strip_prefix(REFERENCE).map(lookup).transpose()
}

/// Replaces every `bulkId:` reference in `value`, at any depth, with what `lookup` resolves it to.
pub fn resolve_references(value: &mut Value, lookup: &impl Fn(&str) -> ScimResult<String>) -> ScimResult<()> {
    match value {
        Value::String(s) => {
            if let Some(resolved) = resolve_str(s, lookup)? {
                *s = resolved;
            }
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| resolve_references(v, lookup))?,
        Value::Object(map) => map.values_mut().try_for_each(|v| resolve_references(v, lookup))?,
        _ => {}
    }
    Ok(())
}

/// The order operations run in, and which are part of a circular reference.
#[derive(Debug, PartialEq, Eq)]
pub struct BulkPlan {
    /// Every operation once. A POST runs before the operations that reference its bulkId;
    /// otherwise an operation runs as early as its index allows.
    pub order: Vec<usize>,
    /// `circular[i]`: operation `i` references itself, directly or through others. RFC 7644 §3.7.1
    /// lets a service provider answer such operations with 409 Conflict, which scimd does.
    pub circular: Vec<bool>,
}

/// Orders `ops` by their references. A reference to a bulkId no POST declares creates no
/// dependency: the operation fails when it runs.
pub fn plan(ops: &[BulkOperation]) -> BulkPlan {
    let declared: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == BulkMethod::Post)
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|id| (id, i)))
        .collect();
    let mut graph = DiGraph::<(), ()>::with_capacity(ops.len(), 0);
    let nodes: Vec<NodeIndex> = ops.iter().map(|_| graph.add_node(())).collect();
    for (i, op) in ops.iter().enumerate() {
        for dependency in op.references.iter().filter_map(|r| declared.get(r.as_str())) {
            graph.add_edge(nodes[*dependency], nodes[i], ());
        }
    }
    let mut circular = vec![false; ops.len()];
    for component in tarjan_scc(&graph) {
        if component.len() > 1 || graph.contains_edge(component[0], component[0]) {
            component.iter().for_each(|n| circular[n.index()] = true);
        }
    }
    // Kahn's algorithm, lowest index first. A circular operation waits for nothing (it fails at
    // once), which leaves no cycle to wait on.
    let mut waiting: Vec<usize> = (0..ops.len())
        .map(|i| if circular[i] { 0 } else { graph.neighbors_directed(nodes[i], petgraph::Incoming).count() })
        .collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len()).filter(|i| waiting[*i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for dependent in graph.neighbors(nodes[i]).map(NodeIndex::index) {
            if !circular[dependent] {
                waiting[dependent] -= 1;
                if waiting[dependent] == 0 {
                    ready.push(Reverse(dependent));
                }
            }
        }
    }
    BulkPlan { order, circular }
}

#[cfg(test)]
mod tests;
