//! Many users in one transaction, for `/Bulk`: a few multi-row INSERTs instead of one statement, one
//! commit and (on SQLite) one thread hand-over per user.

use scimd_schemas::schema::ResourceKind;

use super::params::bind;
use super::resources::{Insert, insert_sql, prepare_insert};
use super::tenants::now;
use super::{ResourceRow, ResourceWrite, Store, StoreResult, conflict_or, write};

/// Rows per INSERT: at 11 parameters a row, well under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Inserts users in one transaction, all or none: on any error, such as a userName already
    /// taken, nothing is written and the caller can retry row by row to learn which failed.
    /// Returns the rows in the order of `writes`.
    pub async fn create_users(&self, tenant: &str, writes: &[ResourceWrite<'_>]) -> StoreResult<Vec<ResourceRow>> {
        let now = now();
        let inserts: Vec<Insert> =
            writes.iter().map(|write| prepare_insert(ResourceKind::User, tenant, write, &now)).collect();
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
                let sql = insert_sql(self.dialect(), ResourceKind::User, chunk.len());
                bind!(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk.iter().flat_map(|insert| &insert.params))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, |_| "a userName of the batch is already taken".to_owned()))?;
            }
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        Ok(inserts.into_iter().map(|insert| insert.row).collect())
    }
}
