//! Filter and PATCH path parsing: scim_v2's RFC 7644 grammar, converted into our tree, plus two forms
//! real clients send that the grammar lacks (`not(` without a space, and the Microsoft
//! `emails[type eq "work"].value eq "x"`).

mod explain;
mod lex;
mod microsoft;
mod shape;

use std::fmt;

use scim_v2::filter as v2;

use super::{AttrPath, CompValue, CompareOp, Filter};
use crate::error::ScimError;

/// A PATCH operation path (RFC 7644 §3.5.2): `attr`, `attr.sub`, `attr[filter]` or
/// `attr[filter].sub`. A plain `name.familyName` keeps its sub-attribute in `attr.sub`; `sub` is the
/// sub-attribute after a value filter.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses a SCIM filter (RFC 7644 §3.4.2.2). Errors are `invalidFilter` with a detail that says
/// what is wrong in plain words.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    let input = input.trim();
    match shape::parse_by_shape(input, |shape| parse_whole(shape).ok()) {
        Some(filter) => Ok(filter),
        None => parse_whole(input),
    }
}

/// The parse itself, of a trimmed filter.
fn parse_whole(input: &str) -> Result<Filter, ScimError> {
    let fail = |problem: String| ScimError::invalid_filter(format!("invalid filter {}: {problem}", quote(input)));
    if input.is_empty() {
        return Err(ScimError::invalid_filter("the filter is empty"));
    }
    let text = lex::space_after_not(input).map_err(fail)?;
    let tokens = lex::tokenize(&text).map_err(fail)?;
    let explained =
        |error: &v2::ParseError| fail(explain::explain(&text, &tokens).unwrap_or_else(|| explain::describe(error)));

    let segments = microsoft::find_segments(&text, &tokens);
    let placeholder = placeholder_for(&text);
    let mut rewritten = String::with_capacity(text.len());
    let mut copied = 0;
    let mut cut = Vec::with_capacity(segments.len());
    for (n, segment) in segments.iter().enumerate() {
        let value_path = text[segment.value_path.clone()].parse::<v2::Filter>().map_err(|e| explained(&e))?;
        let sub = &text[segment.sub.clone()];
        let test = format!("{sub} {}", &text[segment.test.clone()]).parse::<v2::Filter>().map_err(|e| explained(&e))?;
        let (Filter::ValuePath { attr, filter, .. }, Some(then)) = (convert(value_path), test_of(test)) else {
            return Err(fail(format!("cannot read {:?}", &text[segment.whole()])));
        };
        cut.push(Some(Filter::ValuePath { attr, filter, then: Some(Box::new(then)) }));
        rewritten.push_str(&text[copied..segment.value_path.start]);
        rewritten.push_str(&format!("{placeholder}{n} pr"));
        copied = segment.test.end;
    }
    rewritten.push_str(&text[copied..]);

    let parsed = rewritten.parse::<v2::Filter>().map_err(|e| explained(&e))?;
    let filter = Splice { placeholder: &placeholder, cut }.filter(parsed);
    check_limits(&filter).map_err(fail)?;
    Ok(filter)
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2). Errors are `invalidPath`.
pub fn parse_path(input: &str) -> Result<PatchPath, ScimError> {
    let input = input.trim();
    let fail = |problem: String| ScimError::invalid_path(format!("invalid path {}: {problem}", quote(input)));
    if input.is_empty() {
        return Err(ScimError::invalid_path("the path is empty"));
    }
    let text = lex::space_after_not(input).map_err(fail)?;
    match text.parse::<v2::PatchPath>() {
        Ok(v2::PatchPath::Attr(attr)) => Ok(PatchPath { attr: attr_path(attr), filter: None, sub: None }),
        Ok(v2::PatchPath::Value(vp)) => {
            Ok(PatchPath { attr: attr_path(vp.attr), filter: Some(val_filter(vp.filter)), sub: vp.sub_attr })
        }
        Err(error) => Err(fail(explain::describe(&error))),
    }
}

fn quote(input: &str) -> String {
    const MAX: usize = 200;
    match input.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &input[..cut])),
        None => format!("{input:?}"),
    }
}

/// A name for the cut-out segments that cannot clash with anything in the filter.
fn placeholder_for(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut name = String::from("scimdSegment");
    while lower.contains(&name.to_ascii_lowercase()) {
        name.push('x');
    }
    name
}

/// The trailing test of a Microsoft segment: `sub op value` or `sub pr`.
fn test_of(parsed: v2::Filter) -> Option<Filter> {
    match parsed {
        v2::Filter::Attr(exp) => Some(attr_exp(exp)),
        _ => None,
    }
}

/// Puts the cut-out Microsoft segments back where their placeholders are.
struct Splice<'a> {
    placeholder: &'a str,
    cut: Vec<Option<Filter>>,
}

impl Splice<'_> {
    fn filter(&mut self, parsed: v2::Filter) -> Filter {
        match parsed {
            v2::Filter::Attr(v2::AttrExp::Present(path)) if path.uri.is_none() && path.sub_attr.is_none() => {
                let index = path.name.strip_prefix(self.placeholder).and_then(|n| n.parse::<usize>().ok());
                match index.and_then(|n| self.cut.get_mut(n)).and_then(Option::take) {
                    Some(segment) => segment,
                    None => Filter::Present(attr_path(path)),
                }
            }
            v2::Filter::Attr(exp) => attr_exp(exp),
            v2::Filter::ValuePath(vp) => value_path(vp),
            v2::Filter::Not(inner) => Filter::Not(Box::new(self.filter(*inner))),
            v2::Filter::And(items) => Filter::And(items.into_iter().map(|f| self.filter(f)).collect()),
            v2::Filter::Or(items) => Filter::Or(items.into_iter().map(|f| self.filter(f)).collect()),
        }
    }
}

fn convert(parsed: v2::Filter) -> Filter {
    Splice { placeholder: "", cut: Vec::new() }.filter(parsed)
}

fn value_path(vp: v2::ValuePath) -> Filter {
    Filter::ValuePath { attr: attr_path(vp.attr), filter: Box::new(val_filter(*vp.filter)), then: None }
}

fn val_filter(parsed: v2::ValFilter) -> Filter {
    match parsed {
        v2::ValFilter::Attr(exp) => attr_exp(exp),
        v2::ValFilter::Not(inner) => Filter::Not(Box::new(val_filter(*inner))),
        v2::ValFilter::And(items) => Filter::And(items.into_iter().map(val_filter).collect()),
        v2::ValFilter::Or(items) => Filter::Or(items.into_iter().map(val_filter).collect()),
    }
}

fn attr_exp(exp: v2::AttrExp) -> Filter {
    match exp {
        v2::AttrExp::Present(path) => Filter::Present(attr_path(path)),
        v2::AttrExp::Comparison(path, op, value) => Filter::Compare(attr_path(path), compare_op(op), comp_value(value)),
    }
}

fn attr_path(path: v2::AttrPath) -> AttrPath {
    AttrPath { urn: path.uri, name: path.name, sub: path.sub_attr }
}

fn compare_op(op: v2::CompareOp) -> CompareOp {
    match op {
        v2::CompareOp::Eq => CompareOp::Eq,
        v2::CompareOp::Ne => CompareOp::Ne,
        v2::CompareOp::Co => CompareOp::Co,
        v2::CompareOp::Sw => CompareOp::Sw,
        v2::CompareOp::Ew => CompareOp::Ew,
        v2::CompareOp::Gt => CompareOp::Gt,
        v2::CompareOp::Ge => CompareOp::Ge,
        v2::CompareOp::Lt => CompareOp::Lt,
        v2::CompareOp::Le => CompareOp::Le,
    }
}

fn comp_value(value: v2::CompValue) -> CompValue {
    match value {
        v2::CompValue::False => CompValue::Bool(false),
        v2::CompValue::True => CompValue::Bool(true),
        v2::CompValue::Null => CompValue::Null,
        v2::CompValue::Number(n) => CompValue::Number(n),
        v2::CompValue::Str(s) => CompValue::Str(s),
    }
}

/// scim_v2 checked each piece against its limits; a filter with Microsoft segments must also hold as a
/// whole.
fn check_limits(filter: &Filter) -> Result<(), String> {
    fn walk(filter: &Filter, depth: usize, terms: &mut usize) -> usize {
        match filter {
            Filter::Present(_) | Filter::Compare(..) => {
                *terms += 1;
                depth
            }
            Filter::ValuePath { filter, then, .. } => {
                *terms += usize::from(then.is_some());
                walk(filter, depth + 1, terms)
            }
            Filter::Not(inner) => walk(inner, depth + 1, terms),
            Filter::And(items) | Filter::Or(items) => {
                items.iter().map(|f| walk(f, depth + 1, terms)).max().unwrap_or(depth)
            }
        }
    }
    let mut terms = 0;
    let depth = walk(filter, 1, &mut terms);
    if depth > v2::MAX_FILTER_DEPTH {
        return Err(format!("the filter is nested more than {} levels deep", v2::MAX_FILTER_DEPTH));
    }
    if terms > v2::MAX_FILTER_TERMS {
        return Err(format!("the filter has more than {} terms", v2::MAX_FILTER_TERMS));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
