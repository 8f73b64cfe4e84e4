//! Membership changes on SQLite through the write queue. sqlx runs each SQLite statement on the
//! connection's own thread, so a membership PATCH (begin, look up the members, insert or delete,
//! bump the group's version, commit) crossed threads ten times; measured with perf, those switches
//! were most of its cost. Here the statements run on the writer's borrowed handle, and concurrent
//! PATCHes share a commit (`batch`).

use std::collections::HashMap;

use rusqlite::{Connection, params_from_iter};
use scimd_schemas::resource::MemberRef;

use super::audit::{AuditContext, BatchAudit};
use super::audit_events::member_events;
use super::resources::{CHUNK, member_type_name};
use super::tenants::now;
use super::{Backend, Store, StoreError, StoreResult};

impl Store {
    /// Adds and removes members of a group, as `update` would; `None` where this store cannot
    /// (PostgreSQL, an in-memory SQLite database). Evaluates to the ids skipped as unknown.
    pub(super) async fn change_members_inline(
        &self,
        tenant: &str,
        group: &str,
        add: &[MemberRef],
        remove: &[String],
        ctx: &AuditContext,
    ) -> StoreResult<Option<Vec<String>>> {
        let Backend::Sqlite { writes, points: Some(_), .. } = &*self.backend else { return Ok(None) };
        let (tenant, group, add, remove) = (tenant.to_owned(), group.to_owned(), add.to_vec(), remove.to_vec());
        let ctx = ctx.clone();
        writes.submit(move |db, audit| write_members(db, audit, &tenant, &group, &add, &remove, &ctx)).await.map(Some)
    }
}

/// Runs inside the write queue's transaction (`batch`), which commits it with its audit events.
fn write_members(
    tx: &Connection,
    audit: &mut BatchAudit,
    tenant: &str,
    group: &str,
    add: &[MemberRef],
    remove: &[String],
    ctx: &AuditContext,
) -> StoreResult<Vec<String>> {
    let mut changed = false;
    let mut removed = Vec::new();
    for chunk in remove.chunks(CHUNK) {
        let sql = format!(
            "DELETE FROM group_members WHERE tenant_id = ?1 AND group_id = ?2 AND member_id IN ({})",
            numbered(3, chunk.len())
        );
        let params = [tenant, group].into_iter().chain(chunk.iter().map(String::as_str));
        if tx.prepare_cached(&sql)?.execute(params_from_iter(params))? > 0 {
            changed = true;
            removed.extend_from_slice(chunk);
        }
    }
    let mut skipped = Vec::new();
    let mut added = Vec::new();
    for chunk in add.chunks(CHUNK) {
        let list = numbered(2, chunk.len());
        let sql = format!(
            "SELECT id, 'User' FROM users WHERE tenant_id = ?1 AND id IN ({list}) \
             UNION ALL SELECT id, 'Group' FROM groups WHERE tenant_id = ?1 AND id IN ({list})"
        );
        let params = std::iter::once(tenant).chain(chunk.iter().map(|m| m.value.as_str()));
        let found: HashMap<String, String> = tx
            .prepare_cached(&sql)?
            .query_map(params_from_iter(params), |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut values: Vec<&str> = Vec::new();
        for member in chunk {
            match found.get(&member.value) {
                Some(kind) if member.kind.is_none_or(|k| member_type_name(k) == kind) && member.value != group => {
                    values.extend([member.value.as_str(), kind.as_str()]);
                    added.push(member.value.clone());
                }
                _ => skipped.push(member.value.clone()),
            }
        }
        if values.is_empty() {
            continue;
        }
        let rows = (0..values.len() / 2).map(|i| format!("(?1, ?2, ?{}, ?{})", 2 * i + 3, 2 * i + 4));
        let sql = format!(
            "INSERT INTO group_members (tenant_id, group_id, member_id, member_type) VALUES {} \
             ON CONFLICT (tenant_id, group_id, member_id) DO NOTHING",
            rows.collect::<Vec<_>>().join(", ")
        );
        let params = [tenant, group].into_iter().chain(values);
        changed |= tx.prepare_cached(&sql)?.execute(params_from_iter(params))? > 0;
    }
    if changed {
        let bumped = tx
            .prepare_cached(
                "UPDATE groups SET version = version + 1, last_modified = ?3 WHERE tenant_id = ?1 AND id = ?2",
            )?
            .execute([tenant, group, &now()])?;
        if bumped == 0 {
            return Err(StoreError::NotFound);
        }
        audit.record(tenant.to_owned(), ctx.clone(), member_events(group, &added, &removed));
    }
    Ok(skipped)
}

/// `?first, ?first+1, …`, `n` of them.
fn numbered(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}
