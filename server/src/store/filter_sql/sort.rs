//! Sort keys (RFC 7644 §3.4.2.3): what `sortBy` names, as an expression the database orders by,
//! with what index and cursor paging need to know about it.

use scimd_schemas::ScimError;
use scimd_schemas::filter::AttrPath;
use scimd_schemas::schema::{AttrType, Resolved, ResourceSchema};

use super::{Compiler, Dialect, Elements, JsonBase, JsonLoc, Result, Scalar, SortOrder, SqlBuf, is_string_like};

/// The SQL type a sort key has, which a cursor's copy of a key value must be bound back as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Text,
    /// SQLite's booleans (1/0).
    Integer,
    /// Numbers, and SQLite's instants (`julianday`).
    Real,
    /// PostgreSQL's boolean columns.
    Boolean,
    /// PostgreSQL's instants (`timestamptz`).
    Timestamp,
}

/// What `sortBy` sorts on: an expression over the row alias `r`.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: String,
    pub key_type: KeyType,
    /// The key may be NULL (the attribute is missing); such rows sort last in either order.
    pub nullable: bool,
    /// No two rows of a tenant share the key (a unique index), so it needs no tiebreaker.
    pub unique: bool,
}

/// The columns with a unique index per tenant.
const UNIQUE_COLUMNS: [&str; 3] = ["r.id", "r.user_name_lower", "r.display_name_lower"];

/// The key `sortBy` names.
pub fn compile_sort_key(buf: &mut SqlBuf, schema: &ResourceSchema, path: &AttrPath) -> Result<SortKey> {
    let mut compiler = Compiler { buf, schema, aliases: 0 };
    let resolved = schema.resolve(path).map_err(ScimError::invalid_value)?;
    compiler.sort_key(&resolved)
}

pub fn direction(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Ascending => "ASC",
        SortOrder::Descending => "DESC",
    }
}

/// An `ORDER BY` list for `sortBy`: missing values sort last in either order, ties by insertion in
/// the sort's direction (as cursor pages order them, see `keyset`).
pub fn compile_sort(buf: &mut SqlBuf, schema: &ResourceSchema, path: &AttrPath, order: SortOrder) -> Result<String> {
    let key = compile_sort_key(buf, schema, path)?;
    let direction = direction(order);
    Ok(format!("{} {direction} NULLS LAST, r.seq {direction}", key.expr))
}

impl Compiler<'_> {
    fn sort_key(&mut self, resolved: &Resolved) -> Result<SortKey> {
        let scalar = if resolved.attr.multi_valued {
            self.primary_or_first(resolved)?
        } else if resolved.attr.kind == AttrType::Complex && resolved.sub.is_none() {
            return Err(ScimError::invalid_value(format!(
                "sortBy \"{}\" is complex: sort by one of its sub-attributes",
                resolved.attr.name
            )));
        } else {
            self.resource_scalar(resolved)
        };
        let dialect = self.dialect();
        let (expr, key_type) = match scalar.kind {
            AttrType::Integer | AttrType::Decimal => (dialect.number(&scalar.expr), KeyType::Real),
            AttrType::DateTime if scalar.json => (
                dialect.instant(&scalar.expr),
                if dialect == Dialect::Sqlite { KeyType::Real } else { KeyType::Timestamp },
            ),
            // Booleans: SQLite's are 1/0; PostgreSQL reads JSON ones as text.
            AttrType::Boolean if dialect == Dialect::Sqlite => (scalar.expr, KeyType::Integer),
            AttrType::Boolean if !scalar.json => (scalar.expr, KeyType::Boolean),
            _ if !scalar.case_exact && !scalar.pre_lowered && is_string_like(scalar.kind) => {
                (format!("lower({})", scalar.expr), KeyType::Text)
            }
            _ => (scalar.expr, KeyType::Text),
        };
        let unique = UNIQUE_COLUMNS.contains(&expr.as_str());
        Ok(SortKey { expr, key_type, nullable: scalar.nullable, unique })
    }

    /// RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else its first.
    fn primary_or_first(&mut self, resolved: &Resolved) -> Result<Scalar> {
        let elements = self.elements(resolved)?;
        let Elements::Json(alias) = &elements else {
            return Err(ScimError::invalid_value(format!("cannot sort by \"{}\"", resolved.attr.name)));
        };
        let sub = match resolved.sub {
            Some(sub) => Some(sub),
            None => resolved.attr.sub_attribute("value"),
        };
        let element = self.element_scalar(&elements, resolved.attr, sub)?;
        let loc = Self::doc_loc(resolved);
        let from = self.dialect().json_elements(&loc, alias);
        let primary = JsonLoc { base: JsonBase::Element(alias.clone()), keys: vec!["primary".into()] };
        let primary_true = format!(
            "{} = {}",
            self.dialect().json_scalar(&primary),
            match self.dialect() {
                Dialect::Sqlite => "1",
                Dialect::Postgres => "'true'",
            }
        );
        let mut first_keys = loc.keys.clone();
        first_keys.push("0".into());
        first_keys.extend(sub.map(|s| s.name.clone()));
        let first = match self.dialect() {
            Dialect::Sqlite => {
                let mut path = format!("$.\"{}\"[0]", loc.keys.join("\".\""));
                if let Some(sub) = sub {
                    path.push_str(&format!(".\"{}\"", sub.name));
                }
                format!("json_extract(r.doc, '{path}')")
            }
            Dialect::Postgres => self.dialect().json_scalar(&JsonLoc { base: JsonBase::Doc, keys: first_keys }),
        };
        let expr = format!("coalesce((SELECT {} FROM {from} WHERE {primary_true} LIMIT 1), {first})", element.expr);
        Ok(Scalar { expr, ..element })
    }
}
