//! The SCIM filter syntax tree (RFC 7644 §3.4.2.2), shared by the parser, the in-memory evaluator and the
//! SQL compilers in `server/`.

use std::fmt;

/// An attribute path as written in a filter or PATCH path: an optional schema URN, an attribute name and
/// an optional sub-attribute. Names keep the client's spelling; resolution against a schema is
/// case-insensitive and happens where the schema is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: &str) -> Self {
        AttrPath { urn: None, name: name.to_owned(), sub: None }
    }

    pub fn with_sub(name: &str, sub: &str) -> Self {
        AttrPath { urn: None, name: name.to_owned(), sub: Some(sub.to_owned()) }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A comparison value (RFC 7643 JSON literal).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr pr`
    Present(AttrPath),
    /// `attr op value`
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr[valFilter]`, optionally followed by `.sub op value` / `.sub pr` (the Microsoft form
    /// `emails[type eq "work"].value eq "x"`), in which case the inner filter and the trailing test must
    /// hold for the same element. Paths inside `filter` are relative to the element (`type`, not
    /// `emails.type`).
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
        then: Option<Box<Filter>>,
    },
    /// At least two operands (scim_v2 keeps chains flat, so a 100-term `or` is not 100 levels deep).
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
        }
    }
}

/// Writes the filter back in SCIM syntax, fully parenthesised, so that parsing the output yields the
/// same tree (the parser's round-trip property).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Present(a) => write!(f, "{a} pr"),
            Filter::Compare(a, op, v) => write!(f, "{a} {} {v}", op.as_str()),
            Filter::ValuePath { attr, filter, then } => {
                write!(f, "{attr}[{filter}]")?;
                if let Some(then) = then {
                    // `then` is a Present/Compare on a path with no URN whose `name` is the sub-attribute.
                    write!(f, ".{then}")?;
                }
                Ok(())
            }
            Filter::And(items) => write_joined(f, items, " and "),
            Filter::Or(items) => write_joined(f, items, " or "),
            Filter::Not(a) => write!(f, "not ({a})"),
        }
    }
}

fn write_joined(f: &mut fmt::Formatter<'_>, items: &[Filter], sep: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(")")
}
