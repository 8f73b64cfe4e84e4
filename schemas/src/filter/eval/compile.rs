//! Filter → plan: resolves every path against the schema and checks each comparison against the
//! attribute's type.

use chrono::DateTime;

use super::{Node, Target, Test};
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{AttrType, AttributeDef, ResourceSchema};

/// What paths are relative to: the resource, or one element of a value filter's attribute.
pub(super) enum Scope<'a> {
    Resource(&'a ResourceSchema),
    Element { parent: &'a AttributeDef, parent_path: String },
}

/// A resolved path: where its values are and the attribute definition that types them.
struct Leaf<'a> {
    target: Target<'a>,
    def: &'a AttributeDef,
    /// How to name the attribute in errors.
    shown: String,
}

pub(super) fn filter<'a>(filter: &Filter, scope: &Scope<'a>) -> Result<Node<'a>, ScimError> {
    Ok(match filter {
        Filter::Present(path) => Node::Present(resolve(path, scope)?.target),
        Filter::Compare(path, op, value) => compare(resolve(path, scope)?, *op, value)?,
        Filter::ValuePath { attr, filter: inner, then } => {
            let leaf = resolve(attr, scope)?;
            if leaf.def.kind != AttrType::Complex || leaf.target.sub.is_some() || matches!(scope, Scope::Element { .. })
            {
                return Err(ScimError::invalid_filter(format!(
                    "a value filter needs a complex attribute of the resource, and \"{}\" is not one",
                    leaf.shown
                )));
            }
            let element = Scope::Element { parent: leaf.def, parent_path: leaf.shown };
            let then = then.as_deref().map(|t| self::filter(t, &element)).transpose()?;
            Node::ValuePath {
                target: leaf.target,
                filter: Box::new(self::filter(inner, &element)?),
                then: then.map(Box::new),
            }
        }
        Filter::And(items) => Node::And(items.iter().map(|f| self::filter(f, scope)).collect::<Result<_, _>>()?),
        Filter::Or(items) => Node::Or(items.iter().map(|f| self::filter(f, scope)).collect::<Result<_, _>>()?),
        Filter::Not(inner) => Node::Not(Box::new(self::filter(inner, scope)?)),
    })
}

fn resolve<'a>(path: &AttrPath, scope: &Scope<'a>) -> Result<Leaf<'a>, ScimError> {
    match scope {
        Scope::Resource(resource) => {
            let resolved = resource.resolve(path).map_err(ScimError::invalid_filter)?;
            Ok(Leaf {
                target: Target {
                    extension: resolved.extension,
                    attr: &resolved.attr.name,
                    multi: resolved.attr.multi_valued,
                    sub: resolved.sub.map(|s| s.name.as_str()),
                },
                def: resolved.sub.unwrap_or(resolved.attr),
                shown: path.to_string(),
            })
        }
        Scope::Element { parent, parent_path } => {
            let sub = (path.urn.is_none() && path.sub.is_none())
                .then(|| parent.sub_attribute(&path.name))
                .flatten()
                .ok_or_else(|| {
                    ScimError::invalid_filter(format!(
                        "unknown sub-attribute \"{path}\" in the value filter of \"{parent_path}\""
                    ))
                })?;
            Ok(Leaf {
                target: Target { extension: None, attr: &sub.name, multi: sub.multi_valued, sub: None },
                def: sub,
                shown: format!("{parent_path}.{path}"),
            })
        }
    }
}

fn compare<'a>(mut leaf: Leaf<'a>, op: CompareOp, value: &CompValue) -> Result<Node<'a>, ScimError> {
    match (op, value) {
        (CompareOp::Eq, CompValue::Null) => {
            return Ok(Node::Not(Box::new(Node::Present(leaf.target))));
        }
        (CompareOp::Ne, CompValue::Null) => return Ok(Node::Present(leaf.target)),
        (_, CompValue::Null) => {
            return Err(ScimError::invalid_filter(format!(
                "\"{}\" cannot be compared with null using \"{}\": only eq and ne apply to null",
                leaf.shown,
                op.as_str()
            )));
        }
        (CompareOp::Ne, _) => return Ok(Node::Not(Box::new(compare(leaf, CompareOp::Eq, value)?))),
        _ => {}
    }
    // A multi-valued complex attribute compares by its `value` sub-attribute (RFC 7644 §3.4.2.2).
    if leaf.def.kind == AttrType::Complex
        && leaf.def.multi_valued
        && leaf.target.sub.is_none()
        && let Some(sub) = leaf.def.sub_attribute("value")
    {
        leaf.target.sub = Some(&sub.name);
        leaf.def = sub;
    }
    let test = test(&leaf, op, value)?;
    Ok(Node::Compare(leaf.target, test))
}

fn test(leaf: &Leaf<'_>, op: CompareOp, value: &CompValue) -> Result<Test, ScimError> {
    let kind = leaf.def.kind;
    let wrong_op = |allowed: &str| {
        ScimError::invalid_filter(format!(
            "\"{}\" is a {} attribute: \"{}\" does not apply to it ({allowed})",
            leaf.shown,
            type_name(kind),
            op.as_str()
        ))
    };
    let wrong_value = |expected: &str| {
        ScimError::invalid_filter(format!(
            "\"{}\" is a {} attribute: expected {expected}, got {value}",
            leaf.shown,
            type_name(kind)
        ))
    };
    let ordering_op = !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    match kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let CompValue::Str(s) = value else {
                return Err(wrong_value("a string in double quotes"));
            };
            let fold = !leaf.def.case_exact;
            Ok(Test::Str { op, value: if fold { s.to_lowercase() } else { s.clone() }, fold })
        }
        AttrType::Boolean => {
            if op != CompareOp::Eq {
                return Err(wrong_op("only eq, ne and pr do"));
            }
            let CompValue::Bool(b) = value else {
                return Err(wrong_value("true or false"));
            };
            Ok(Test::Bool(*b))
        }
        AttrType::Integer | AttrType::Decimal => {
            if !ordering_op {
                return Err(wrong_op("co, sw and ew apply only to strings"));
            }
            let number = match value {
                CompValue::Number(n) => n.as_f64(),
                _ => None,
            };
            let value = number.ok_or_else(|| wrong_value("a number"))?;
            Ok(Test::Num { op, value })
        }
        AttrType::DateTime => {
            if !ordering_op {
                return Err(wrong_op("co, sw and ew apply only to strings"));
            }
            let CompValue::Str(s) = value else {
                return Err(wrong_value("a date-time string"));
            };
            let value = DateTime::parse_from_rfc3339(s)
                .map_err(|_| wrong_value("an RFC 3339 date-time such as \"2011-05-13T04:42:34Z\""))?;
            Ok(Test::Date { op, value })
        }
        AttrType::Complex => Err(ScimError::invalid_filter(format!(
            "\"{}\" is a complex attribute: compare one of its sub-attributes instead",
            leaf.shown
        ))),
    }
}

fn type_name(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}
