//! Values bound to dynamically built SQL.

#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Nullable values keep their type, which PostgreSQL needs even for NULL.
    OptText(Option<String>),
    OptBool(Option<bool>),
    OptInt(Option<i64>),
    Bytes(Vec<u8>),
}

/// Binds each parameter, in order, to a sqlx `query`/`query_as`. A macro rather than a generic
/// function: it expands where the backend is concrete (inside `read!`/`write!`), so no trait
/// bounds per parameter type are needed.
macro_rules! bind {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                $crate::store::Param::Text(s) => query.bind(s.clone()),
                $crate::store::Param::Int(i) => query.bind(*i),
                $crate::store::Param::Float(f) => query.bind(*f),
                $crate::store::Param::Bool(b) => query.bind(*b),
                $crate::store::Param::OptText(s) => query.bind(s.clone()),
                $crate::store::Param::OptBool(b) => query.bind(*b),
                $crate::store::Param::OptInt(i) => query.bind(*i),
                $crate::store::Param::Bytes(b) => query.bind(b.clone()),
            };
        }
        query
    }};
}

pub(crate) use bind;
