//! Values bound to dynamically built SQL, and binding them on either backend.

use sqlx::query::{Query, QueryAs};
use sqlx::{Database, Encode, Type};

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nullable values keep their type, which PostgreSQL needs even for NULL.
    OptText(Option<String>),
    OptBool(Option<bool>),
}

pub fn bind_query<'q, DB>(mut query: Query<'q, DB, DB::Arguments>, params: &[Param]) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<bool>: Encode<'a, DB> + Type<DB>,
{
    for param in params {
        query = match param {
            Param::Text(s) => query.bind(s.clone()),
            Param::Int(i) => query.bind(*i),
            Param::Float(f) => query.bind(*f),
            Param::Bool(b) => query.bind(*b),
            Param::OptText(s) => query.bind(s.clone()),
            Param::OptBool(b) => query.bind(*b),
        };
    }
    query
}

pub fn bind_query_as<'q, DB, O>(
    mut query: QueryAs<'q, DB, O, DB::Arguments>,
    params: &[Param],
) -> QueryAs<'q, DB, O, DB::Arguments>
where
    DB: Database,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> f64: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<bool>: Encode<'a, DB> + Type<DB>,
{
    for param in params {
        query = match param {
            Param::Text(s) => query.bind(s.clone()),
            Param::Int(i) => query.bind(*i),
            Param::Float(f) => query.bind(*f),
            Param::Bool(b) => query.bind(*b),
            Param::OptText(s) => query.bind(s.clone()),
            Param::OptBool(b) => query.bind(*b),
        };
    }
    query
}
