//! The in-memory filter evaluator (RFC 7644 §3.4.2.2): the reference semantics the SQL compilers are
//! tested against. A filter is first checked against the schema (unknown attributes, operators that
//! do not apply to a type, values of the wrong type), so errors never depend on the data; the checked
//! plan then runs over resource documents.
//!
//! Documents use canonical attribute names: core and common attributes at the top level, extension
//! attributes under the extension's URN.
//!
//! Choices the RFC leaves open, which the SQL side must mirror:
//! - `ne` is exactly `not eq`: it holds when the attribute is absent, and for a multi-valued attribute
//!   when no value equals.
//! - `attr eq null` holds when the attribute is not present (see `pr`), `attr ne null` when it is.
//! - `pr` is false for null, `""`, `[]` and `{}`.
//! - A stored value of the wrong JSON type (or an unparsable stored dateTime) matches nothing.

mod compile;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::{CompareOp, Filter};
use crate::error::ScimError;
use crate::schema::{AttributeDef, ResourceSchema};

/// Does `doc` match `filter`? Errors (`invalidFilter`) come from the filter alone, never the document.
pub fn matches(filter: &Filter, resource: &ResourceSchema, doc: &Value) -> Result<bool, ScimError> {
    Ok(compile(filter, resource)?.matches(doc))
}

/// Checks `filter` against the schema once, to test many documents.
pub fn compile<'a>(filter: &Filter, resource: &'a ResourceSchema) -> Result<Matcher<'a>, ScimError> {
    compile::filter(filter, &compile::Scope::Resource(resource)).map(Matcher)
}

/// Checks a value filter (`emails[type eq "work" and primary eq true]`) against the sub-attributes
/// of the complex attribute `attr`, to test its elements.
pub fn compile_element<'a>(filter: &Filter, attr: &'a AttributeDef) -> Result<Matcher<'a>, ScimError> {
    compile::filter(filter, &compile::Scope::Element { parent: attr, parent_path: attr.name.clone() }).map(Matcher)
}

/// A filter checked against a resource schema.
#[derive(Debug, Clone)]
pub struct Matcher<'a>(Node<'a>);

impl Matcher<'_> {
    pub fn matches(&self, doc: &Value) -> bool {
        self.0.eval(doc)
    }
}

#[derive(Debug, Clone)]
enum Node<'a> {
    Present(Target<'a>),
    Compare(Target<'a>, Test),
    /// Some element of `target` satisfies `filter` (and `then`, a test on the same element).
    ValuePath {
        target: Target<'a>,
        filter: Box<Node<'a>>,
        then: Option<Box<Node<'a>>>,
    },
    And(Vec<Node<'a>>),
    Or(Vec<Node<'a>>),
    Not(Box<Node<'a>>),
}

/// Where the values are in a document (or, inside a value filter, in one element): canonical names.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    extension: Option<&'a str>,
    attr: &'a str,
    /// Multi-valued attributes are arrays whose elements are tested one by one.
    multi: bool,
    sub: Option<&'a str>,
}

/// A comparison, `ne` already turned into `not eq`, the value checked against the attribute's type.
#[derive(Debug, Clone)]
enum Test {
    /// `fold`: compare lowercased (caseExact false); `value` is then already lowercased.
    Str {
        op: CompareOp,
        value: String,
        fold: bool,
    },
    Num {
        op: CompareOp,
        value: f64,
    },
    Bool(bool),
    Date {
        op: CompareOp,
        value: DateTime<FixedOffset>,
    },
}

impl Node<'_> {
    fn eval(&self, doc: &Value) -> bool {
        match self {
            Node::Present(target) => target.values(doc).iter().any(|v| is_present(v)),
            Node::Compare(target, test) => target.values(doc).iter().any(|v| test.holds(v)),
            Node::ValuePath { target, filter, then } => target
                .values(doc)
                .iter()
                .any(|element| filter.eval(element) && then.as_ref().is_none_or(|t| t.eval(element))),
            Node::And(items) => items.iter().all(|n| n.eval(doc)),
            Node::Or(items) => items.iter().any(|n| n.eval(doc)),
            Node::Not(inner) => !inner.eval(doc),
        }
    }
}

impl Target<'_> {
    /// The values at this target, one per element for multi-valued attributes; nulls included.
    fn values<'v>(&self, doc: &'v Value) -> Vec<&'v Value> {
        let container = match self.extension {
            Some(urn) => doc.get(urn),
            None => Some(doc),
        };
        let Some(value) = container.and_then(|c| c.get(self.attr)) else {
            return Vec::new();
        };
        let items: Vec<&Value> = match value {
            Value::Array(items) if self.multi => items.iter().collect(),
            single => vec![single],
        };
        match self.sub {
            None => items,
            Some(sub) => items
                .into_iter()
                .filter_map(|item| item.get(sub))
                .flat_map(|v| match v {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                })
                .collect(),
        }
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(fields) => !fields.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

impl Test {
    fn holds(&self, actual: &Value) -> bool {
        match self {
            Test::Str { op, value, fold } => actual.as_str().is_some_and(|s| {
                if *fold { compare_str(*op, &s.to_lowercase(), value) } else { compare_str(*op, s, value) }
            }),
            Test::Num { op, value } => actual.as_f64().is_some_and(|n| compare_ord(*op, n.partial_cmp(value))),
            Test::Bool(value) => actual.as_bool() == Some(*value),
            Test::Date { op, value } => actual
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .is_some_and(|d| compare_ord(*op, Some(d.cmp(value)))),
        }
    }
}

fn compare_str(op: CompareOp, actual: &str, value: &str) -> bool {
    match op {
        CompareOp::Co => actual.contains(value),
        CompareOp::Sw => actual.starts_with(value),
        CompareOp::Ew => actual.ends_with(value),
        _ => compare_ord(op, Some(actual.cmp(value))),
    }
}

fn compare_ord(op: CompareOp, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let Some(ordering) = ordering else {
        return false;
    };
    match op {
        CompareOp::Eq => ordering == Equal,
        CompareOp::Ne => ordering != Equal,
        CompareOp::Gt => ordering == Greater,
        CompareOp::Ge => ordering != Less,
        CompareOp::Lt => ordering == Less,
        CompareOp::Le => ordering != Greater,
        // Rejected by the compiler for non-strings.
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests;
