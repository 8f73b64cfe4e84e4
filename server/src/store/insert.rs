//! The INSERT of new users and groups, for one resource or for many users in one transaction
//! (`/Bulk`): a few multi-row INSERTs instead of one statement, one commit and (on SQLite) one
//! thread hand-over per user.

use scimd_schemas::schema::ResourceKind;
use serde_json::Value;

use super::audit::{AppendAudit, AuditContext};
use super::audit_events::created_event;
use super::params::{Param, bind};
use super::resources::{email_lower, text};
use super::tenants::now;
use super::{Dialect, ResourceRow, ResourceWrite, Store, StoreResult, conflict_or, write};

/// Rows per INSERT: at 13 parameters a row, well under SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Inserts users in one transaction, all or none: on any error, such as a userName already
    /// taken, nothing is written and the caller can retry row by row to learn which failed.
    /// Returns the rows in the order of `writes`. Their audit events go in the same transaction.
    pub async fn create_users(
        &self,
        tenant: &str,
        writes: &[ResourceWrite<'_>],
        ctx: &AuditContext,
    ) -> StoreResult<Vec<ResourceRow>> {
        let now = now();
        let inserts: Vec<Insert> =
            writes.iter().map(|write| prepare_insert(ResourceKind::User, tenant, new_id(), write, &now)).collect();
        let events: Vec<_> = inserts
            .iter()
            .zip(writes)
            .map(|(insert, write)| created_event(ResourceKind::User, &insert.row.id, write, &[]))
            .collect();
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in inserts.chunks(ROWS_PER_STATEMENT) {
                let sql = insert_sql(self.dialect(), ResourceKind::User, chunk.len());
                bind!(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk.iter().flat_map(|insert| &insert.params))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, |_| "a userName of the batch is already taken".to_owned()))?;
            }
            tx.append_audit(tenant, ctx, &events).await?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        Ok(inserts.into_iter().map(|insert| insert.row).collect())
    }
}

/// One resource about to be inserted: the parameters of its row in `insert_sql`, and the row as it
/// will read back (no need to read it back).
pub(super) struct Insert {
    pub params: Vec<Param>,
    pub row: ResourceRow,
}

/// A new resource id: time-ordered, so new rows land at the end of the id index.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(super) fn prepare_insert(
    kind: ResourceKind,
    tenant: &str,
    id: String,
    write: &ResourceWrite<'_>,
    now: &str,
) -> Insert {
    let doc_json = write.doc.to_string();
    let text_param = |key: &str| Param::OptText(text(write.doc, key));
    let params = match kind {
        ResourceKind::User => {
            let user_name = text(write.doc, "userName").unwrap_or_default();
            vec![
                Param::Text(tenant.to_owned()),
                Param::Text(id.clone()),
                Param::Text(user_name.clone()),
                Param::Text(user_name.to_lowercase()),
                text_param("externalId"),
                text_param("displayName"),
                Param::OptBool(write.doc.get("active").and_then(Value::as_bool)),
                Param::OptText(email_lower(write.doc)),
                Param::Text(write.managing_entity.to_owned()),
                Param::OptText(write.password_hash.clone()),
                Param::Text(now.to_owned()),
                Param::Text(now.to_owned()),
                Param::Text(doc_json.clone()),
            ]
        }
        ResourceKind::Group => {
            let name = text(write.doc, "displayName").unwrap_or_default();
            vec![
                Param::Text(tenant.to_owned()),
                Param::Text(id.clone()),
                Param::Text(name.clone()),
                Param::Text(name.to_lowercase()),
                text_param("externalId"),
                Param::Text(write.managing_entity.to_owned()),
                Param::Text(now.to_owned()),
                Param::Text(now.to_owned()),
                Param::Text(doc_json.clone()),
            ]
        }
    };
    let row = ResourceRow {
        id,
        doc: doc_json,
        created: now.to_owned(),
        last_modified: now.to_owned(),
        version: 1,
        managing_entity: write.managing_entity.to_owned(),
        active: if kind == ResourceKind::User { write.doc.get("active").and_then(Value::as_bool) } else { None },
        in_groups: false,
        deactivation_reason: None,
    };
    Insert { params, row }
}

/// An INSERT of `rows` resources, each binding its `prepare_insert` parameters in turn.
pub(super) fn insert_sql(d: Dialect, kind: ResourceKind, rows: usize) -> String {
    let (head, per_row) = match kind {
        ResourceKind::User => (
            "INSERT INTO users (tenant_id, id, user_name, user_name_lower, external_id, display_name, active, \
             email_lower, managing_entity, password_hash, created, last_modified, doc, version)",
            13,
        ),
        ResourceKind::Group => (
            "INSERT INTO groups (tenant_id, id, display_name, display_name_lower, external_id, \
             managing_entity, created, last_modified, doc, version)",
            9,
        ),
    };
    let tuples: Vec<String> = (0..rows)
        .map(|row| {
            let p = |n: usize| d.positional(row * per_row + n);
            // Every parameter in order, the last being the document; then version 1.
            let mut values: Vec<String> = (1..per_row).map(p).collect();
            values.extend([d.json_param(&p(per_row)), "1".to_owned()]);
            format!("({})", values.join(", "))
        })
        .collect();
    format!("{head} VALUES {}", tuples.join(", "))
}
