//! Cursor pages (RFC 9865) by keyset: a page is the rows after a position in the sort order, read as
//! a range of an index on (tenant, sort key, seq), so the 10,000th page costs what the first does.
//!
//! The order is the sort key, then `seq` in the same direction; rows missing the key come last in
//! either direction. Rows with a key and rows without one are read by separate queries ("phases"),
//! each a plain index range: `(key, seq)` after the position, then `seq` among the rows without.
//! A page that crosses from one phase to the other runs both.

use scimd_schemas::ScimError;
use scimd_schemas::filter::{AttrPath, Filter};
use scimd_schemas::schema::ResourceSchema;
use serde::{Deserialize, Serialize};

use super::filter_sql::{KeyType, SortKey, SqlBuf, compile_sort_key, direction};
use super::params::{Param, bind};
use super::resources::{SqlitePageRow, list_scope, table};
use super::{Backend, ResourceRow, SortOrder, Store, StoreError, StoreResult, read};

/// Where a page ends: the last row's sort key (as `Dialect::key_text` reads it) and `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// None without `sortBy`, and for a row that lacks the key.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "s")]
    pub seq: i64,
}

pub struct KeysetQuery<'a> {
    pub filter: Option<&'a Filter>,
    pub sort: Option<(&'a AttrPath, SortOrder)>,
    /// None for the first page.
    pub after: Option<&'a Position>,
    pub count: u64,
    /// Count the matches too (the first page of a walk).
    pub with_total: bool,
}

pub struct KeysetPage {
    pub rows: Vec<ResourceRow>,
    /// Where the next page starts; None on the last page.
    pub next: Option<Position>,
    pub total: Option<u64>,
}

#[derive(sqlx::FromRow)]
struct KeyedRow {
    #[sqlx(flatten)]
    row: ResourceRow,
    seq: i64,
    sort_key: Option<String>,
}

/// Which rows a phase reads, in what order, after which position.
struct Phase<'a> {
    key: Option<&'a SortKey>,
    /// Reading the rows that lack the (nullable) key.
    missing: bool,
    order: SortOrder,
    after: Option<&'a Position>,
}

fn invalid_position() -> ScimError {
    ScimError::invalid_cursor("the cursor does not fit this query: start again with an empty cursor")
}

/// A key read back from a cursor, bound as the key's type.
fn key_param(buf: &mut SqlBuf, key: &SortKey, text: &str) -> Result<String, ScimError> {
    let value = match key.key_type {
        KeyType::Text | KeyType::Timestamp => Some(Param::Text(text.to_owned())),
        KeyType::Integer => text.parse().ok().map(Param::Int),
        KeyType::Real => text.parse().ok().map(Param::Float),
        KeyType::Boolean => text.parse().ok().map(Param::Bool),
    }
    .ok_or_else(invalid_position)?;
    let placeholder = buf.param(value);
    Ok(buf.dialect.key_param(&placeholder, key.key_type))
}

impl Phase<'_> {
    /// The condition beyond the list's own, and the `ORDER BY` list.
    fn sql(&self, buf: &mut SqlBuf) -> Result<(String, String), ScimError> {
        let dir = direction(self.order);
        let (op, bound) = match self.order {
            SortOrder::Ascending => (">", ">="),
            SortOrder::Descending => ("<", "<="),
        };
        let seq_after = |buf: &mut SqlBuf| match self.after {
            Some(p) => format!(" AND r.seq {op} {}", buf.param(Param::Int(p.seq))),
            None => String::new(),
        };
        Ok(match self.key {
            None => (seq_after(buf), format!("r.seq {dir}")),
            Some(key) if self.missing => {
                (format!(" AND {} IS NULL{}", key.expr, seq_after(buf)), format!("r.seq {dir}"))
            }
            Some(key) => {
                let k = &key.expr;
                let order = if key.unique { format!("{k} {dir}") } else { format!("{k} {dir}, r.seq {dir}") };
                let condition = match self.after {
                    None if key.nullable => format!(" AND {k} IS NOT NULL"),
                    None => String::new(),
                    Some(Position { key: None, .. }) => return Err(invalid_position()),
                    Some(Position { key: Some(text), .. }) if key.unique => {
                        format!(" AND {k} {op} {}", key_param(buf, key, text)?)
                    }
                    // The plain bound lets either planner range-scan an expression index.
                    Some(Position { key: Some(text), seq }) => {
                        let value = key_param(buf, key, text)?;
                        let seq = buf.param(Param::Int(*seq));
                        format!(" AND {k} {bound} {value} AND ({k}, r.seq) {op} ({value}, {seq})")
                    }
                };
                (condition, order)
            }
        })
    }
}

impl Store {
    /// One page of a cursor walk: `count` rows after `after`, where the next page starts, and the
    /// number of matches when asked.
    pub async fn keyset_page(
        &self,
        schema: &ResourceSchema,
        tenant: &str,
        query: &KeysetQuery<'_>,
    ) -> StoreResult<KeysetPage> {
        let mut buf = SqlBuf::new(self.dialect());
        let (condition, total_sql) = list_scope(&mut buf, schema, tenant, query.filter)?;
        let total_params = buf.params.len();
        let key = query.sort.map(|(path, _)| compile_sort_key(&mut buf, schema, path)).transpose()?;
        let order = query.sort.map_or(SortOrder::Ascending, |(_, order)| order);
        let nullable = key.as_ref().is_some_and(|k| k.nullable);
        let in_missing = nullable && query.after.is_some_and(|p| p.key.is_none());
        let total = match query.with_total {
            true => Some(self.count_rows(&total_sql, &buf.params[..total_params]).await?),
            false => None,
        };
        if query.count == 0 {
            return Ok(KeysetPage { rows: Vec::new(), next: None, total });
        }
        let limit = query.count + 1;
        let phase = Phase { key: key.as_ref(), missing: in_missing, order, after: query.after };
        let mut rows = self.phase_rows(schema, &buf, &condition, &phase, limit).await?;
        if nullable && !in_missing && (rows.len() as u64) < limit {
            let rest = Phase { key: key.as_ref(), missing: true, order, after: None };
            rows.extend(self.phase_rows(schema, &buf, &condition, &rest, limit - rows.len() as u64).await?);
        }
        let more = rows.len() as u64 > query.count;
        rows.truncate(query.count as usize);
        let next = rows.last().filter(|_| more).map(|last| Position { key: last.sort_key.clone(), seq: last.seq });
        Ok(KeysetPage { rows: rows.into_iter().map(|r| r.row).collect(), next, total })
    }

    async fn count_rows(&self, sql: &str, params: &[Param]) -> StoreResult<u64> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let (total,): (i64,) = read!(self, pool => bind!(sqlx::query_as(sql), params).fetch_one(pool).await)?;
        Ok(total.max(0) as u64)
    }

    /// Up to `limit` rows of one phase, in order.
    async fn phase_rows(
        &self,
        schema: &ResourceSchema,
        base: &SqlBuf,
        condition: &str,
        phase: &Phase<'_>,
        limit: u64,
    ) -> StoreResult<Vec<KeyedRow>> {
        let mut buf = SqlBuf { dialect: base.dialect, params: base.params.clone() };
        let (after, order) = phase.sql(&mut buf)?;
        let limit = buf.param(Param::Int(limit as i64));
        let sort_key = match phase.key {
            Some(key) => buf.dialect.key_text(&key.expr, key.key_type),
            None => "CAST(NULL AS TEXT)".to_owned(),
        };
        // The page's keys first, from the index alone; then only those rows are read.
        let sql = format!(
            "SELECT {select}, r.seq AS seq, {sort_key} AS sort_key FROM {table} r WHERE r.seq IN \
             (SELECT r.seq FROM {table} r WHERE {condition}{after} ORDER BY {order} LIMIT {limit}) ORDER BY {order}",
            select = self.select_list(schema.kind),
            table = table(schema.kind).name,
        );
        Ok(match &*self.backend {
            // One row of JSON instead of one thread hand-over per row (see `list_resources`).
            Backend::Sqlite { read, .. } => {
                let sql = format!(
                    "SELECT json_group_array(json_array(json_array(p.id, p.doc, p.created, p.last_modified, \
                     p.version, p.managing_entity, p.active, p.in_groups, p.deactivation_reason), p.seq, p.sort_key)) \
                     FROM ({sql}) p"
                );
                let (page,): (String,) =
                    bind!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &buf.params).fetch_one(read).await?;
                serde_json::from_str::<Vec<(SqlitePageRow, i64, Option<String>)>>(&page)
                    .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?
                    .into_iter()
                    .map(|(row, seq, sort_key)| KeyedRow { row: row.into(), seq, sort_key })
                    .collect()
            }
            Backend::Postgres(pool) => {
                bind!(sqlx::query_as::<_, KeyedRow>(sqlx::AssertSqlSafe(sql)), &buf.params).fetch_all(pool).await?
            }
        })
    }
}
