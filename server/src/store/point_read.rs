//! Point reads on SQLite without a thread hand-over. sqlx runs each SQLite connection on a thread
//! of its own, so every query crosses threads twice; for an indexed single-row lookup those
//! crossings cost more than the lookup (measured with perf: most of a GET's time was the kernel
//! switching threads). These lookups run on the calling thread instead, through rusqlite on a few
//! read-only connections. Only bounded index lookups come here; anything that may scan stays on
//! sqlx's threads, where blocking is harmless.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value as SqlValue};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql};

use super::{Param, ResourceRow, TokenRow};

/// Idle connections kept for reuse; more may be open at a moment of contention.
const KEEP: usize = 8;

pub struct PointReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl PointReader {
    pub fn new(path: PathBuf) -> PointReader {
        PointReader { path, idle: Mutex::new(Vec::new()) }
    }

    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                conn.busy_timeout(Duration::from_secs(10))?;
                conn.set_prepared_statement_cache_capacity(64);
                conn.pragma_update(None, "cache_size", super::SQLITE_CACHE_KIB)?;
                conn
            }
        };
        let result = read(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < KEEP
        {
            idle.push(conn);
        }
        result
    }

    /// The rows of a resource query (the columns of `Store::select_list`).
    pub fn resources(&self, sql: &str, params: &[Param]) -> rusqlite::Result<Vec<ResourceRow>> {
        self.with(|conn| {
            conn.prepare_cached(sql)?
                .query_map(rusqlite::params_from_iter(params), |row| {
                    Ok(ResourceRow {
                        id: row.get(0)?,
                        doc: row.get(1)?,
                        created: row.get(2)?,
                        last_modified: row.get(3)?,
                        version: row.get(4)?,
                        managing_entity: row.get(5)?,
                        active: row.get(6)?,
                        in_groups: row.get(7)?,
                        deactivation_reason: row.get(8)?,
                    })
                })?
                .collect()
        })
    }

    pub fn token(&self, sql: &str, hash: &str) -> rusqlite::Result<Option<TokenRow>> {
        self.with(|conn| {
            conn.prepare_cached(sql)?
                .query_row([hash], |row| {
                    Ok(TokenRow { id: row.get(0)?, tenant_id: row.get(1)?, role: row.get(2)?, client: row.get(3)? })
                })
                .optional()
        })
    }
}

impl PointReader {
    /// The rows of any bounded query, each read by `map`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: &[Param],
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        self.with(|conn| conn.prepare_cached(sql)?.query_map(rusqlite::params_from_iter(params), map)?.collect())
    }

    pub fn count(&self, sql: &str, params: &[Param]) -> rusqlite::Result<i64> {
        self.with(|conn| conn.prepare_cached(sql)?.query_row(rusqlite::params_from_iter(params), |row| row.get(0)))
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef;
        Ok(match self {
            Param::Text(s) | Param::OptText(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Int(i) | Param::OptInt(Some(i)) => ToSqlOutput::Owned(SqlValue::Integer(*i)),
            Param::Float(f) => ToSqlOutput::Owned(SqlValue::Real(*f)),
            Param::Bool(b) | Param::OptBool(Some(b)) => ToSqlOutput::Owned(SqlValue::Integer((*b).into())),
            Param::OptText(None) | Param::OptBool(None) | Param::OptInt(None) => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}
