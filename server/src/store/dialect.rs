//! What differs between SQLite and PostgreSQL SQL: placeholders and JSON access.

use super::Param;
use super::filter_sql::KeyType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Where a JSON value sits: in the resource document, or in the current element of a multi-valued
/// attribute being iterated under `alias`.
#[derive(Debug, Clone)]
pub enum JsonBase {
    Doc,
    Element(String),
}

/// A JSON location: a base and the object keys below it.
#[derive(Debug, Clone)]
pub struct JsonLoc {
    pub base: JsonBase,
    pub keys: Vec<String>,
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Dialect {
    /// Rewrites `$1`-style placeholders into this dialect (`?1` for SQLite, whose numbered
    /// parameters bind by number whatever order they appear in).
    pub fn placeholders(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => sql.to_owned(),
            Dialect::Sqlite => sql.replace('$', "?"),
        }
    }

    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// The `n`th parameter of a statement that uses each parameter once, in order. SQLite gets a
    /// plain `?`: binding a numbered `?NNN` makes it search a list of all the statement's names,
    /// which grows quadratic in a multi-row INSERT.
    pub fn positional(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// `n` parameters numbered from `first`, each used once and bound in that order (see
    /// `positional`), comma-separated: an IN list.
    pub fn positional_list(self, first: usize, n: usize) -> String {
        (first..first + n).map(|i| self.positional(i)).collect::<Vec<_>>().join(", ")
    }

    /// A multi-row VALUES body: `rows` rows of `per_row` positional parameters, bound row by row,
    /// each row ending with the SQL `tail` (constant columns such as `, 'User'`).
    pub fn value_rows(self, rows: usize, per_row: usize, tail: &str) -> String {
        (0..rows)
            .map(|row| format!("({}{tail})", self.positional_list(row * per_row + 1, per_row)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Tells SQLite to read `table` through `index`: given a long IN list on the index's second
    /// column, SQLite (without statistics) scans the primary key's tenant range instead.
    /// PostgreSQL plans by its statistics.
    pub fn table_via(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{table} INDEXED BY {index}"),
            Dialect::Postgres => table.to_owned(),
        }
    }

    /// A JSON text parameter as the document column's type.
    pub fn json_param(self, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => placeholder.to_owned(),
            Dialect::Postgres => format!("{placeholder}::jsonb"),
        }
    }

    /// The document column read back as JSON text.
    pub fn doc_text(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }

    /// A boolean parameter for a column or JSON value (SQLite has no boolean type: 1/0).
    pub fn bool_param(self, value: bool, json: bool) -> Param {
        match (self, json) {
            (Dialect::Sqlite, _) => Param::Int(value.into()),
            (Dialect::Postgres, true) => Param::Text(value.to_string()),
            (Dialect::Postgres, false) => Param::Bool(value),
        }
    }

    fn sqlite_path(keys: &[String]) -> String {
        let mut path = String::from("$");
        for key in keys {
            path.push_str(&format!(".\"{}\"", key.replace('"', "\\\"")));
        }
        quote_literal(&path)
    }

    fn pg_path(keys: &[String]) -> String {
        let items: Vec<String> = keys.iter().map(|k| quote_literal(k)).collect();
        format!("ARRAY[{}]::text[]", items.join(","))
    }

    /// The value at `loc` as SQL text (strings), number or SQLite's 1/0 for booleans; NULL if absent.
    pub fn json_scalar(self, loc: &JsonLoc) -> String {
        match (self, &loc.base) {
            (Dialect::Sqlite, JsonBase::Doc) => format!("json_extract(r.doc, {})", Self::sqlite_path(&loc.keys)),
            (Dialect::Sqlite, JsonBase::Element(e)) if loc.keys.is_empty() => format!("{e}.value"),
            (Dialect::Sqlite, JsonBase::Element(e)) => {
                format!("json_extract({e}.value, {})", Self::sqlite_path(&loc.keys))
            }
            // COLLATE "C": code-point order, as SQLite and the in-memory evaluator compare.
            (Dialect::Postgres, base) => {
                format!("({} #>> {}) COLLATE \"C\"", self.pg_base(base), Self::pg_path(&loc.keys))
            }
        }
    }

    fn pg_base(self, base: &JsonBase) -> String {
        match base {
            JsonBase::Doc => "r.doc".to_owned(),
            JsonBase::Element(e) => format!("{e}.v"),
        }
    }

    /// The JSON value at `loc` (PostgreSQL jsonb).
    fn pg_json(self, loc: &JsonLoc) -> String {
        format!("({} #> {})", self.pg_base(&loc.base), Self::pg_path(&loc.keys))
    }

    /// True when the value at `loc` is present and not null, "", [] or {} (RFC 7644 `pr`).
    pub fn json_present(self, loc: &JsonLoc) -> String {
        match self {
            Dialect::Sqlite => {
                let (t, x) = match &loc.base {
                    JsonBase::Element(e) if loc.keys.is_empty() => (format!("{e}.type"), format!("{e}.value")),
                    JsonBase::Element(e) => {
                        let path = Self::sqlite_path(&loc.keys);
                        (format!("json_type({e}.value, {path})"), format!("json_extract({e}.value, {path})"))
                    }
                    JsonBase::Doc => {
                        let path = Self::sqlite_path(&loc.keys);
                        (format!("json_type(r.doc, {path})"), format!("json_extract(r.doc, {path})"))
                    }
                };
                // `{t} IS NOT NULL` first: the test must be false, never NULL, for an absent value.
                format!(
                    "({t} IS NOT NULL AND ({t} IN ('true', 'false', 'integer', 'real') OR ({t} = 'text' AND {x} <> '') \
                     OR ({t} = 'array' AND json_array_length({x}) > 0) OR ({t} = 'object' AND {x} <> '{{}}')))"
                )
            }
            Dialect::Postgres => {
                let j = self.pg_json(loc);
                format!("({j} IS NOT NULL AND {j} NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{{}}'::jsonb))")
            }
        }
    }

    /// A FROM item iterating the elements of the JSON array at `loc` under `alias`.
    pub fn json_elements(self, loc: &JsonLoc, alias: &str) -> String {
        match self {
            Dialect::Sqlite => match &loc.base {
                JsonBase::Doc => format!("json_each(r.doc, {}) AS {alias}", Self::sqlite_path(&loc.keys)),
                JsonBase::Element(e) => format!("json_each({e}.value, {}) AS {alias}", Self::sqlite_path(&loc.keys)),
            },
            Dialect::Postgres => {
                let j = self.pg_json(loc);
                format!("jsonb_array_elements(CASE WHEN jsonb_typeof({j}) = 'array' THEN {j} END) AS {alias}(v)")
            }
        }
    }

    /// A numeric view of a scalar expression.
    pub fn number(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => expr.to_owned(),
            Dialect::Postgres => format!("({expr})::float8"),
        }
    }

    /// An instant view of an RFC 3339 text expression, comparable across time zones.
    pub fn instant(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("julianday({expr})"),
            Dialect::Postgres => format!("({expr})::timestamptz"),
        }
    }

    /// `haystack` contains `needle` (case-sensitive; callers lower both for case-insensitive tests).
    pub fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Dialect::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    pub fn starts_with(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({haystack}, 1, length({needle})) = {needle}"),
            Dialect::Postgres => format!("left({haystack}, length({needle})) = {needle}"),
        }
    }

    pub fn ends_with(self, haystack: &str, needle: &str) -> String {
        match self {
            Dialect::Sqlite => format!("substr({haystack}, -length({needle})) = {needle}"),
            Dialect::Postgres => format!("right({haystack}, length({needle})) = {needle}"),
        }
    }

    /// A sort key as text that reads back exactly (a cursor keeps it). SQLite writes a REAL with 15
    /// significant digits unless told otherwise; 17 make any double round-trip.
    pub fn key_text(self, expr: &str, key_type: KeyType) -> String {
        match (self, key_type) {
            (_, KeyType::Text) => expr.to_owned(),
            (Dialect::Sqlite, KeyType::Real) => {
                format!("(CASE WHEN {expr} IS NULL THEN NULL ELSE printf('%!.17g', {expr}) END)")
            }
            (Dialect::Sqlite, _) => format!("CAST({expr} AS TEXT)"),
            (Dialect::Postgres, _) => format!("({expr})::text"),
        }
    }

    /// A placeholder holding a key read back by `key_text`, as the key's type.
    pub fn key_param(self, placeholder: &str, key_type: KeyType) -> String {
        match (self, key_type) {
            (Dialect::Postgres, KeyType::Timestamp) => format!("CAST({placeholder} AS timestamptz)"),
            _ => placeholder.to_owned(),
        }
    }
}
