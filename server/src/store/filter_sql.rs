//! Compiles SCIM filters and sort keys to SQL (DESIGN.md §2), so that every filter runs in the
//! database. Attributes with their own column use it (and its index); everything else is read from the
//! JSON document; multi-valued attributes become `EXISTS` over their elements, group members and a
//! user's groups `EXISTS` over membership rows.
//!
//! Every predicate compiled here is two-valued (never SQL NULL), so `not` means what it means in the
//! in-memory evaluator, which is the oracle these compilers are tested against.

use chrono::{DateTime, SecondsFormat};
use scimd_schemas::ScimError;
use scimd_schemas::filter::{AttrPath, CompValue, CompareOp, Filter};
use scimd_schemas::schema::{AttrType, AttributeDef, Resolved, ResourceKind, ResourceSchema, SCIMD_USER};

use super::dialect::{Dialect, JsonBase, JsonLoc};
use super::params::Param;

mod sort;

pub use sort::{KeyType, SortKey, compile_sort, compile_sort_key, direction};

type Result<T> = std::result::Result<T, ScimError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// SQL text under construction and the values bound to its placeholders.
pub struct SqlBuf {
    pub dialect: Dialect,
    pub params: Vec<Param>,
}

impl SqlBuf {
    pub fn new(dialect: Dialect) -> Self {
        SqlBuf { dialect, params: Vec::new() }
    }

    pub fn param(&mut self, value: Param) -> String {
        self.params.push(value);
        self.dialect.placeholder(self.params.len())
    }
}

/// A boolean SQL expression over the row alias `r`, with its parameters added to `buf`.
pub fn compile_filter(buf: &mut SqlBuf, schema: &ResourceSchema, filter: &Filter) -> Result<String> {
    Compiler { buf, schema, aliases: 0 }.filter(filter, &Scope::Resource)
}

/// A single value to test: a column or a JSON location, with what the schema says about it.
struct Scalar {
    expr: String,
    kind: AttrType,
    case_exact: bool,
    /// The column holds the value lower-cased by scimd (userName, group displayName): compare with
    /// the parameter lower-cased the same way, which keeps the column's index usable.
    pre_lowered: bool,
    /// JSON booleans bind differently from boolean columns.
    json: bool,
    /// SQL for `pr`.
    present: String,
    /// The value may be SQL NULL.
    nullable: bool,
}

enum Elements {
    Json(String),
    Members(String),
    Ancestors(String),
}

enum Scope<'a> {
    Resource,
    Element { parent: &'a AttributeDef, elements: &'a Elements },
}

struct Compiler<'a> {
    buf: &'a mut SqlBuf,
    schema: &'a ResourceSchema,
    aliases: usize,
}

fn is_string_like(kind: AttrType) -> bool {
    matches!(kind, AttrType::String | AttrType::Reference | AttrType::Binary)
}

/// The smallest string greater than every string starting with `prefix` (code-point order).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl<'a> Compiler<'a> {
    fn dialect(&self) -> Dialect {
        self.buf.dialect
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    fn filter(&mut self, filter: &Filter, scope: &Scope) -> Result<String> {
        match filter {
            Filter::And(items) => self.join(items, " AND ", scope),
            Filter::Or(items) => self.join(items, " OR ", scope),
            Filter::Not(inner) => Ok(format!("NOT ({})", self.filter(inner, scope)?)),
            Filter::Present(path) => self.leaf(path, None, scope),
            Filter::Compare(path, op, value) => self.leaf(path, Some((*op, value)), scope),
            Filter::ValuePath { attr, filter, then } => {
                if !matches!(scope, Scope::Resource) {
                    return Err(ScimError::invalid_filter(format!("value filters cannot be nested: \"{attr}[…]\"")));
                }
                let resolved = self.resolve(attr)?;
                if !resolved.attr.multi_valued || resolved.sub.is_some() {
                    return Err(ScimError::invalid_filter(format!(
                        "\"{attr}[…]\": a value filter needs a multi-valued attribute"
                    )));
                }
                let elements = self.elements(&resolved)?;
                let scope = Scope::Element { parent: resolved.attr, elements: &elements };
                let mut predicate = self.filter(filter, &scope)?;
                if let Some(then) = then {
                    predicate = format!("({predicate}) AND ({})", self.filter(then, &scope)?);
                }
                Ok(self.exists(&resolved, &elements, &predicate))
            }
        }
    }

    fn join(&mut self, items: &[Filter], separator: &str, scope: &Scope) -> Result<String> {
        let parts = items.iter().map(|f| Ok(format!("({})", self.filter(f, scope)?))).collect::<Result<Vec<_>>>()?;
        Ok(parts.join(separator))
    }

    fn resolve(&self, path: &AttrPath) -> Result<Resolved<'a>> {
        let schema: &'a ResourceSchema = self.schema;
        schema.resolve(path).map_err(ScimError::invalid_filter)
    }

    /// `pr` (`test` is None) or a comparison on one attribute path.
    fn leaf(&mut self, path: &AttrPath, test: Option<(CompareOp, &CompValue)>, scope: &Scope) -> Result<String> {
        // `eq null` is "not present" and `ne null` "present", for the path as a whole.
        if let Some((op, CompValue::Null)) = test {
            let present = self.leaf(path, None, scope)?;
            return match op {
                CompareOp::Eq => Ok(format!("NOT ({present})")),
                CompareOp::Ne => Ok(present),
                _ => Err(ScimError::invalid_filter(format!(
                    "\"{path} {} null\": only eq and ne apply to null",
                    op.as_str()
                ))),
            };
        }
        let Scope::Element { parent, elements } = scope else {
            let resolved = self.resolve(path)?;
            return self.resource_leaf(path, &resolved, test);
        };
        if path.urn.is_some() || path.sub.is_some() {
            return Err(ScimError::invalid_filter(format!(
                "\"{path}\": inside a value filter, name a sub-attribute of \"{}\"",
                parent.name
            )));
        }
        let sub = parent.sub_attribute(&path.name).ok_or_else(|| {
            ScimError::invalid_filter(format!("unknown sub-attribute \"{}\" of \"{}\"", path.name, parent.name))
        })?;
        let scalar = self.element_scalar(elements, parent, Some(sub))?;
        self.test(&scalar, &path.to_string(), test)
    }

    fn resource_leaf(
        &mut self,
        path: &AttrPath,
        resolved: &Resolved,
        test: Option<(CompareOp, &CompValue)>,
    ) -> Result<String> {
        if !resolved.attr.multi_valued {
            if resolved.attr.kind == AttrType::Complex && resolved.sub.is_none() && test.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "\"{path}\" is complex: compare one of its sub-attributes, e.g. \"{path}.{}\"",
                    resolved.attr.sub_attributes.first().map_or("value", |a| a.name.as_str())
                )));
            }
            let scalar = self.resource_scalar(resolved);
            return self.test(&scalar, &path.to_string(), test);
        }
        let elements = self.elements(resolved)?;
        // `emails pr`: some element is present.
        if test.is_none() && resolved.sub.is_none() {
            let predicate = match &elements {
                Elements::Json(_) => self.element_scalar(&elements, resolved.attr, None)?.present,
                _ => "1 = 1".to_owned(),
            };
            return Ok(self.exists(resolved, &elements, &predicate));
        }
        // `emails co "x"` compares each element's `value` (RFC 7644 §3.4.2.2).
        let sub = match resolved.sub {
            Some(sub) => Some(sub),
            None if resolved.attr.kind == AttrType::Complex => {
                Some(resolved.attr.sub_attribute("value").ok_or_else(|| {
                    ScimError::invalid_filter(format!("\"{path}\" has no \"value\": name a sub-attribute"))
                })?)
            }
            None => None,
        };
        let scalar = self.element_scalar(&elements, resolved.attr, sub)?;
        // `ne` is "no element equals", not "some element differs".
        if let Some((CompareOp::Ne, value)) = test {
            let predicate = self.test(&scalar, &path.to_string(), Some((CompareOp::Eq, value)))?;
            return Ok(format!("NOT {}", self.exists(resolved, &elements, &predicate)));
        }
        let predicate = self.test(&scalar, &path.to_string(), test)?;
        Ok(self.exists(resolved, &elements, &predicate))
    }

    fn doc_loc(resolved: &Resolved) -> JsonLoc {
        let mut keys: Vec<String> = resolved.extension.map(str::to_owned).into_iter().collect();
        keys.push(resolved.attr.name.clone());
        JsonLoc { base: JsonBase::Doc, keys }
    }

    /// How the elements of a multi-valued attribute are iterated.
    fn elements(&mut self, resolved: &Resolved) -> Result<Elements> {
        let core = resolved.extension.is_none();
        Ok(match (self.schema.kind, resolved.attr.name.as_str()) {
            (ResourceKind::Group, "members") if core => Elements::Members(self.alias("m")),
            (ResourceKind::User, "groups") if core => Elements::Ancestors(self.alias("a")),
            _ => Elements::Json(self.alias("e")),
        })
    }

    fn exists(&self, resolved: &Resolved, elements: &Elements, predicate: &str) -> String {
        match elements {
            Elements::Json(alias) => {
                let from = self.dialect().json_elements(&Self::doc_loc(resolved), alias);
                format!("EXISTS (SELECT 1 FROM {from} WHERE {predicate})")
            }
            Elements::Members(m) => format!(
                "EXISTS (SELECT 1 FROM group_members {m} WHERE {m}.tenant_id = r.tenant_id AND {m}.group_id = r.id \
                 AND {predicate})"
            ),
            // The groups a user is in, directly or through nested groups; a group reached both ways
            // counts as direct, as the rendered `groups` attribute shows it.
            Elements::Ancestors(a) => format!(
                "EXISTS (WITH RECURSIVE {a}_up(id, direct) AS (\
                 SELECT gm.group_id, 1 FROM group_members gm WHERE gm.tenant_id = r.tenant_id AND gm.member_id = r.id \
                 UNION SELECT gm.group_id, 0 FROM group_members gm JOIN {a}_up ON gm.member_id = {a}_up.id \
                 WHERE gm.tenant_id = r.tenant_id) \
                 SELECT 1 FROM (SELECT id, max(direct) AS direct FROM {a}_up GROUP BY id) {a} \
                 JOIN groups {a}_g ON {a}_g.tenant_id = r.tenant_id AND {a}_g.id = {a}.id WHERE {predicate})"
            ),
        }
    }

    fn column(expr: &str, attr: &AttributeDef, nullable: bool) -> Scalar {
        let present = if !nullable {
            "1 = 1".to_owned()
        } else if is_string_like(attr.kind) {
            format!("({expr} IS NOT NULL AND {expr} <> '')")
        } else {
            format!("{expr} IS NOT NULL")
        };
        Scalar {
            expr: expr.to_owned(),
            kind: attr.kind,
            case_exact: attr.case_exact,
            pre_lowered: false,
            json: false,
            present,
            nullable,
        }
    }

    fn json_scalar(&self, loc: JsonLoc, attr: &AttributeDef) -> Scalar {
        Scalar {
            expr: self.dialect().json_scalar(&loc),
            kind: attr.kind,
            case_exact: attr.case_exact,
            pre_lowered: false,
            json: true,
            present: self.dialect().json_present(&loc),
            nullable: true,
        }
    }

    /// A singular attribute of the resource row `r`.
    fn resource_scalar(&self, resolved: &Resolved) -> Scalar {
        let leaf = resolved.leaf();
        let attr = resolved.attr.name.as_str();
        let sub = resolved.sub.map(|s| s.name.as_str());
        let kind = self.schema.kind;
        let column = match (resolved.extension, attr, sub) {
            (None, "id", None) => Some(("r.id", false)),
            (None, "externalId", None) => Some(("r.external_id", true)),
            (None, "meta", Some("created")) => Some(("r.created", false)),
            (None, "meta", Some("lastModified")) => Some(("r.last_modified", false)),
            (None, "meta", Some("resourceType")) => {
                return Self::column(&format!("'{}'", kind.name()), leaf, false);
            }
            (None, "meta", Some("version")) => {
                return Self::column("('W/\"' || r.version || '\"')", leaf, false);
            }
            (None, "meta", None) => return Self::column("r.id", leaf, false),
            (None, "userName", None) if kind == ResourceKind::User => {
                return Scalar { pre_lowered: true, ..Self::column("r.user_name_lower", leaf, false) };
            }
            (None, "displayName", None) if kind == ResourceKind::Group => {
                return Scalar { pre_lowered: true, ..Self::column("r.display_name_lower", leaf, false) };
            }
            (None, "displayName", None) => Some(("r.display_name", true)),
            (None, "active", None) => Some(("r.active", true)),
            (Some(SCIMD_USER), "managingEntity", None) => Some(("r.managing_entity", false)),
            (Some(SCIMD_USER), "status", None) => {
                let status = "(CASE WHEN r.active IS NOT NULL AND NOT r.active THEN 'inactive' ELSE 'active' END)";
                return Self::column(status, leaf, false);
            }
            _ => None,
        };
        match column {
            Some((expr, nullable)) => Self::column(expr, leaf, nullable),
            None => self.json_scalar(
                JsonLoc { base: JsonBase::Doc, keys: resolved.keys().into_iter().map(str::to_owned).collect() },
                leaf,
            ),
        }
    }

    /// The current element (or its sub-attribute `sub`) of a multi-valued attribute.
    fn element_scalar(&self, elements: &Elements, parent: &AttributeDef, sub: Option<&AttributeDef>) -> Result<Scalar> {
        let attr = sub.unwrap_or(parent);
        let name = sub.map_or("", |s| s.name.as_str());
        let unfilterable = || ScimError::invalid_filter(format!("\"{}.{name}\" cannot be filtered", parent.name));
        Ok(match elements {
            Elements::Json(alias) => {
                let keys = sub.map(|s| s.name.clone()).into_iter().collect();
                self.json_scalar(JsonLoc { base: JsonBase::Element(alias.clone()), keys }, attr)
            }
            Elements::Members(m) => match name {
                "value" => Self::column(&format!("{m}.member_id"), attr, false),
                "type" => Self::column(&format!("{m}.member_type"), attr, false),
                "display" => Self::column(
                    &format!(
                        "(CASE WHEN {m}.member_type = 'User' THEN \
                         (SELECT coalesce(mu.display_name, mu.user_name) FROM users mu WHERE mu.tenant_id = {m}.tenant_id AND mu.id = {m}.member_id) \
                         ELSE (SELECT mg.display_name FROM groups mg WHERE mg.tenant_id = {m}.tenant_id AND mg.id = {m}.member_id) END)"
                    ),
                    attr,
                    true,
                ),
                _ => return Err(unfilterable()),
            },
            Elements::Ancestors(a) => match name {
                "value" => Self::column(&format!("{a}.id"), attr, false),
                "display" => Self::column(&format!("{a}_g.display_name"), attr, false),
                "type" => {
                    Self::column(&format!("(CASE WHEN {a}.direct = 1 THEN 'direct' ELSE 'indirect' END)"), attr, false)
                }
                _ => return Err(unfilterable()),
            },
        })
    }

    fn test(&mut self, scalar: &Scalar, path: &str, test: Option<(CompareOp, &CompValue)>) -> Result<String> {
        let Some((op, value)) = test else {
            return Ok(scalar.present.clone());
        };
        let wrong_type = |what: &str| {
            ScimError::invalid_filter(format!(
                "\"{path} {} {value}\": {path} is of type {:?}, {what}",
                op.as_str(),
                scalar.kind
            ))
        };
        let x = &scalar.expr;
        let comparison = match value {
            CompValue::Null => {
                return match op {
                    CompareOp::Eq => Ok(format!("NOT ({})", scalar.present)),
                    CompareOp::Ne => Ok(scalar.present.clone()),
                    _ => Err(wrong_type("and null can only be tested with eq or ne")),
                };
            }
            CompValue::Bool(b) => {
                if scalar.kind != AttrType::Boolean {
                    return Err(wrong_type("not boolean"));
                }
                if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    return Err(wrong_type("and booleans can only be tested with eq or ne"));
                }
                let p = self.buf.param(self.dialect().bool_param(*b, scalar.json));
                format!("{x} = {p}")
            }
            CompValue::Number(n) => {
                if !matches!(scalar.kind, AttrType::Integer | AttrType::Decimal) {
                    return Err(wrong_type("not a number"));
                }
                let sql_op = Self::ordering_op(op).ok_or_else(|| wrong_type("and co/sw/ew need a string"))?;
                let p = self.buf.param(Param::Float(n.as_f64().unwrap_or(f64::NAN)));
                format!("{} {sql_op} {p}", self.dialect().number(x))
            }
            CompValue::Str(s) if scalar.kind == AttrType::DateTime => {
                let sql_op = Self::ordering_op(op).ok_or_else(|| wrong_type("and co/sw/ew need a string"))?;
                let instant = DateTime::parse_from_rfc3339(s).map_err(|_| {
                    ScimError::invalid_filter(format!("\"{path}\": {s:?} is not an RFC 3339 date-time"))
                })?;
                if scalar.json {
                    let p = self.buf.param(Param::Text(s.clone()));
                    format!("{} {sql_op} {}", self.dialect().instant(x), self.dialect().instant(&p))
                } else {
                    // Columns hold scimd's canonical UTC form: compare text, using the index.
                    let canonical = instant.to_utc().to_rfc3339_opts(SecondsFormat::Micros, true);
                    format!("{x} {sql_op} {}", self.buf.param(Param::Text(canonical)))
                }
            }
            CompValue::Str(s) => {
                if !is_string_like(scalar.kind) {
                    return Err(wrong_type("not a string"));
                }
                return Ok(self.string_test(scalar, op, s));
            }
        };
        Ok(Self::negate_if_ne(op, format!("({x} IS NOT NULL AND {comparison})")))
    }

    fn ordering_op(op: CompareOp) -> Option<&'static str> {
        Some(match op {
            CompareOp::Eq | CompareOp::Ne => "=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
        })
    }

    fn negate_if_ne(op: CompareOp, eq: String) -> String {
        if op == CompareOp::Ne { format!("NOT {eq}") } else { eq }
    }

    fn string_test(&mut self, scalar: &Scalar, op: CompareOp, value: &str) -> String {
        let folded = !scalar.case_exact;
        // Pre-lowered columns were lowered by scimd (Unicode); SQL's lower() folds ASCII only (SQLite,
        // and PostgreSQL under the "C" collation), so a value compared with lower(x) is folded the same
        // way here. Binding it folded, rather than as lower(?), keeps `eq` and `sw` index-friendly.
        let (x, value) = match (folded, scalar.pre_lowered) {
            (true, true) => (scalar.expr.clone(), value.to_lowercase()),
            (true, false) => (format!("lower({})", scalar.expr), value.to_ascii_lowercase()),
            (false, _) => (scalar.expr.clone(), value.to_owned()),
        };
        if value.is_empty() && matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            return format!("{} IS NOT NULL", scalar.expr);
        }
        // A prefix test is a range, which an index on the expression answers.
        if op == CompareOp::Sw {
            let low = self.buf.param(Param::Text(value.clone()));
            let range = match prefix_successor(&value) {
                Some(high) => format!("{x} >= {low} AND {x} < {}", self.buf.param(Param::Text(high))),
                None => format!("{x} >= {low}"),
            };
            // Guarded on `x` itself (lower(NULL) is NULL): an index on `x` answers the whole test.
            return format!("({x} IS NOT NULL AND {range})");
        }
        let v = self.buf.param(Param::Text(value));
        let dialect = self.dialect();
        let comparison = match op {
            CompareOp::Co => dialect.contains(&x, &v),
            CompareOp::Sw => dialect.starts_with(&x, &v),
            CompareOp::Ew => dialect.ends_with(&x, &v),
            other => format!("{x} {} {v}", Self::ordering_op(other).unwrap_or("=")),
        };
        Self::negate_if_ne(op, format!("({x} IS NOT NULL AND {comparison})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_the_prefix_range() {
        assert_eq!(prefix_successor("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor(""), None);
    }
}
