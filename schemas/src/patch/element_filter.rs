//! Value filters in PATCH paths (`emails[type eq "work"]`): which elements they select, and the
//! element they describe for add/replace when none matches.

use serde_json::{Map, Value};

use crate::error::{ScimError, ScimResult};
use crate::filter::{CompValue, CompareOp, Filter, Matcher, compile_element};
use crate::resource::{coerce_element, same_value};
use crate::schema::{AttrType, AttributeDef};

/// A value filter on the elements of a multi-valued attribute.
pub(super) struct ElementFilter<'s> {
    select: Selector<'s>,
    /// The element the filter describes when it is `sub eq value` terms joined by `and`: what
    /// add/replace create when no element matches. None when the filter describes no one element.
    pub(super) template: Option<Value>,
    /// The ids named by `value eq "…"` terms joined by `or`, for removing group members.
    pub(super) ids: Option<Vec<String>>,
}

enum Selector<'s> {
    /// Elements of a complex attribute, tested by the filter evaluator.
    Complex(Matcher<'s>),
    /// Elements of a multi-valued simple attribute equal to this value (`[value eq "x"]`).
    Equal(Value),
}

impl ElementFilter<'_> {
    pub(super) fn matches(&self, attr: &AttributeDef, element: &Value) -> bool {
        match &self.select {
            Selector::Complex(matcher) => matcher.matches(element),
            Selector::Equal(value) => same_value(attr, element, value),
        }
    }
}

pub(super) fn resolve_filter<'s>(raw: &str, attr: &'s AttributeDef, filter: &Filter) -> ScimResult<ElementFilter<'s>> {
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
