//! What the sync engine reads and writes for group records (DESIGN.md §3): the groups a batch
//! names, the resources their members are linked as, and a batch of group changes with its
//! outcomes and job counters in one transaction.

use scimd_schemas::schema::ResourceKind;

use super::audit::AppendAudit;
use super::audit_events::group_events;
use super::insert::{insert_sql, prepare_insert};
use super::params::{Param, bind};
use super::resources::{CHUNK, text};
use super::sync_batch::{FromSqliteRow, counters, outcome_params};
use super::tenants::now;
use super::{
    BatchJob, LinkMark, LinkWrite, Outcome, PlannedWrite, ResourceWrite, Store, StoreError, StoreResult, read, write,
};

/// A group as the engine diffs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncGroup {
    pub id: String,
    pub doc: String,
    pub version: i64,
    pub managing_entity: String,
    pub display_name_lower: String,
    pub external_id: Option<String>,
    pub seq: i64,
}

const GROUP_COLUMNS: &str =
    "g.id, {doc} AS doc, g.version, g.managing_entity, g.display_name_lower, g.external_id, g.seq";

impl SyncGroup {
    fn from_sqlite_columns(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(SyncGroup {
            id: row.get(at)?,
            doc: row.get(at + 1)?,
            version: row.get(at + 2)?,
            managing_entity: row.get(at + 3)?,
            display_name_lower: row.get(at + 4)?,
            external_id: row.get(at + 5)?,
            seq: row.get(at + 6)?,
        })
    }
}

impl FromSqliteRow for SyncGroup {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        SyncGroup::from_sqlite_columns(row, 0)
    }
}

#[derive(sqlx::FromRow)]
struct LinkedGroup {
    external_key: String,
    record_hash: Option<String>,
    synced_version: Option<i64>,
    external_name: Option<String>,
    #[sqlx(flatten)]
    group: SyncGroup,
}

impl FromSqliteRow for LinkedGroup {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(LinkedGroup {
            external_key: row.get(0)?,
            record_hash: row.get(1)?,
            synced_version: row.get(2)?,
            external_name: row.get(3)?,
            group: SyncGroup::from_sqlite_columns(row, 4)?,
        })
    }
}

/// A resource linked to a connector, found by the key or name it has in the source.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkedResource {
    /// The key or name it was looked up by.
    pub found_by: String,
    pub resource_type: String,
    pub resource_id: String,
}

impl FromSqliteRow for LinkedResource {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(LinkedResource { found_by: row.get(0)?, resource_type: row.get(1)?, resource_id: row.get(2)? })
    }
}

/// One member of a group, and the connector that added it (None: SCIM or admin).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupMembership {
    pub group_id: String,
    pub member_id: String,
    pub source: Option<String>,
}

impl FromSqliteRow for GroupMembership {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(GroupMembership { group_id: row.get(0)?, member_id: row.get(1)?, source: row.get(2)? })
    }
}

/// How a link is looked up.
#[derive(Debug, Clone, Copy)]
pub enum LinkBy {
    Key,
    Name,
}

/// Which groups' column `groups_by` matches.
#[derive(Debug, Clone, Copy)]
pub enum GroupKeyColumn {
    ExternalId,
    /// The lower-cased displayName.
    DisplayName,
}

/// Everything one group record changes.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// The group it concerns; None for a record that failed before one was found.
    pub id: Option<String>,
    /// Create, update or delete the group (a `deactivation_reason` is ignored: groups have none).
    pub write: Option<PlannedWrite>,
    pub link: Option<LinkWrite>,
    /// Members the source adds: (member id, `User` or `Group`).
    pub add: Vec<(String, &'static str)>,
    /// Members the source added before and no longer lists.
    pub remove: Vec<String>,
    /// None while the group's members are still to be planned (the outcome is written with them).
    pub outcome: Option<Outcome>,
}

impl Store {
    fn group_columns(&self) -> String {
        GROUP_COLUMNS.replace("{doc}", &self.dialect().doc_text("g.doc"))
    }

    /// Groups linked to the connector under the given keys, with their keys and links' marks.
    pub async fn linked_groups(
        &self,
        connector_id: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, SyncGroup, LinkMark)>> {
        let sql = format!(
            "SELECT l.external_key, l.record_hash, l.synced_version, l.external_name, {} FROM source_links l \
             JOIN groups g ON g.tenant_id = l.tenant_id AND g.id = l.resource_id \
             WHERE l.connector_id = $1 AND l.external_key IN ({{list}})",
            self.group_columns()
        );
        let rows: Vec<LinkedGroup> = self.rows_in(&sql, connector_id, keys).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.external_key,
                    r.group,
                    LinkMark { hash: r.record_hash, version: r.synced_version, name: r.external_name },
                )
            })
            .collect())
    }

    /// Groups whose `column` is one of `values` (lower-cased for display names).
    pub async fn groups_by(
        &self,
        tenant: &str,
        column: GroupKeyColumn,
        values: &[String],
    ) -> StoreResult<Vec<SyncGroup>> {
        let column = match column {
            GroupKeyColumn::ExternalId => "external_id",
            GroupKeyColumn::DisplayName => "display_name_lower",
        };
        let sql = format!(
            "SELECT {} FROM groups g WHERE g.tenant_id = $1 AND g.{column} IN ({{list}})",
            self.group_columns()
        );
        self.rows_in(&sql, tenant, values).await
    }

    /// The resources linked to the connector under the given source keys or names.
    pub async fn linked_resources(
        &self,
        connector_id: &str,
        by: LinkBy,
        values: &[String],
    ) -> StoreResult<Vec<LinkedResource>> {
        let column = match by {
            LinkBy::Key => "external_key",
            LinkBy::Name => "external_name",
        };
        let sql = format!(
            "SELECT {column} AS found_by, resource_type, resource_id FROM source_links WHERE connector_id = $1 AND {column} IN ({{list}})"
        );
        self.rows_in(&sql, connector_id, values).await
    }

    /// Users whose lower-cased userName is one of `names`: (userName, id).
    pub async fn user_ids_named(&self, tenant: &str, names: &[String]) -> StoreResult<Vec<(String, String)>> {
        let sql = "SELECT user_name_lower, id FROM users WHERE tenant_id = $1 AND user_name_lower IN ({list})";
        self.rows_in(sql, tenant, names).await
    }

    /// Every member of the given groups, with who added it.
    pub async fn group_memberships(&self, tenant: &str, group_ids: &[String]) -> StoreResult<Vec<GroupMembership>> {
        let sql = "SELECT group_id, member_id, source FROM group_members WHERE tenant_id = $1 AND group_id IN ({list})";
        self.rows_in(sql, tenant, group_ids).await
    }

    /// Up to `limit` groups linked to the connector that the job has no outcome for, after
    /// `after_seq`, in seq order: the candidates of the missing policy.
    pub async fn unseen_groups(
        &self,
        tenant: &str,
        job_id: &str,
        connector_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<SyncGroup>> {
        let sql = self.sql(&format!(
            "SELECT {} FROM groups g WHERE g.tenant_id = $1 AND g.seq > $3 \
             AND g.id IN (SELECT l.resource_id FROM source_links l WHERE l.tenant_id = $1 AND l.connector_id = $4) \
             AND NOT EXISTS (SELECT 1 FROM sync_outcomes o WHERE o.job_id = $2 AND o.resource_id = g.id) \
             ORDER BY g.seq LIMIT {limit}",
            self.group_columns()
        ));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(job_id).bind(after_seq).bind(connector_id)
            .fetch_all(pool).await)?)
    }

    /// Writes a batch of group plans in one transaction: groups, links and memberships (unless a
    /// dry run), the outcomes the plans carry, and the job's counters and progress.
    /// `VersionMismatch` if a group changed since it was read and `Conflict` on a displayName
    /// already taken: nothing is written then.
    pub async fn apply_group_batch(&self, job: &BatchJob<'_>, plans: &[GroupPlan]) -> StoreResult<()> {
        let tenant = job.tenant;
        let now = now();
        let d = self.dialect();
        let update_sql = d.placeholders(&format!(
            "UPDATE groups SET display_name = $4, display_name_lower = $5, external_id = $6, doc = {}, \
             version = version + 1, last_modified = $8 WHERE tenant_id = $1 AND id = $2 AND version = $3",
            d.json_param("$7")
        ));
        let delete_sql = [
            "DELETE FROM group_members WHERE tenant_id = $1 AND (member_id = $2 OR group_id = $2)",
            "DELETE FROM source_links WHERE tenant_id = $1 AND resource_id = $2",
            "DELETE FROM groups WHERE tenant_id = $1 AND id = $2",
        ]
        .map(|sql| d.placeholders(sql));
        let unlink_sql = d.placeholders(
            "DELETE FROM source_links WHERE connector_id = $1 AND (resource_id = $2 OR external_key = $3)",
        );
        let mark_sql = d.placeholders(
            "UPDATE source_links SET record_hash = $3, synced_version = $4, external_name = $5 \
             WHERE connector_id = $1 AND external_key = $2",
        );
        let link_sql = d.placeholders(
            "INSERT INTO source_links (tenant_id, connector_id, resource_id, external_key, linked, record_hash, \
             synced_version, external_name, resource_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Group')",
        );
        let bump_sql = d.placeholders(
            "UPDATE groups SET version = version + 1, last_modified = $3 WHERE tenant_id = $1 AND id = $2",
        );
        let outcomes: Vec<&Outcome> = plans.iter().filter_map(|p| p.outcome.as_ref()).collect();
        let counts = counters(outcomes.iter().map(|o| o.status));
        let processed = outcomes.len() as i64;

        let events = if job.dry_run { Vec::new() } else { group_events(plans) };
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            for plan in plans.iter().filter(|_| !job.dry_run) {
                let Some(id) = plan.id.as_deref() else { continue };
                match &plan.write {
                    Some(PlannedWrite::Create { doc, managing_entity, .. }) => {
                        let write = ResourceWrite { doc, password_hash: None, managing_entity, members: None };
                        let insert = prepare_insert(ResourceKind::Group, tenant, id.to_owned(), &write, &now);
                        let name = text(doc, "displayName").unwrap_or_default();
                        bind!(sqlx::query(sqlx::AssertSqlSafe(insert_sql(d, ResourceKind::Group, 1))), &insert.params)
                            .execute(&mut *tx).await
                            .map_err(|e| super::conflict_or(e, |_| format!("a group named {name:?} exists")))?;
                    }
                    Some(PlannedWrite::Update { doc, version, .. }) => {
                        let name = text(doc, "displayName").unwrap_or_default();
                        let updated = sqlx::query(sqlx::AssertSqlSafe(update_sql.clone())).bind(tenant).bind(id).bind(version).bind(&name)
                            .bind(name.to_lowercase()).bind(text(doc, "externalId")).bind(doc.to_string()).bind(&now)
                            .execute(&mut *tx).await
                            .map_err(|e| super::conflict_or(e, |_| format!("a group named {name:?} exists")))?;
                        if updated.rows_affected() == 0 {
                            return Err(StoreError::VersionMismatch);
                        }
                    }
                    Some(PlannedWrite::Delete { .. }) => {
                        for sql in &delete_sql {
                            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).bind(id).execute(&mut *tx).await?;
                        }
                    }
                    None => {}
                }
                if let Some(link) = &plan.link {
                    use super::LinkAction;
                    if link.action == LinkAction::Replace {
                        sqlx::query(sqlx::AssertSqlSafe(unlink_sql.clone())).bind(job.connector_id).bind(id).bind(&link.key).execute(&mut *tx).await?;
                    }
                    if link.action == LinkAction::Mark {
                        sqlx::query(sqlx::AssertSqlSafe(mark_sql.clone())).bind(job.connector_id).bind(&link.key).bind(&link.mark.hash)
                            .bind(link.mark.version).bind(&link.mark.name).execute(&mut *tx).await?;
                    } else {
                        sqlx::query(sqlx::AssertSqlSafe(link_sql.clone())).bind(tenant).bind(job.connector_id).bind(id).bind(&link.key).bind(&now)
                            .bind(&link.mark.hash).bind(link.mark.version).bind(&link.mark.name)
                            .execute(&mut *tx).await
                            .map_err(|e| super::conflict_or(e, |_| "a source key is linked twice".to_owned()))?;
                    }
                }
                for chunk in plan.remove.chunks(CHUNK) {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "DELETE FROM group_members WHERE tenant_id = {} AND group_id = {} AND source = {} AND member_id IN ({})",
                        d.positional(1), d.positional(2), d.positional(3), d.positional_list(4, chunk.len())
                    ));
                    let mut query = sqlx::query(sql).bind(tenant).bind(id).bind(job.connector_id);
                    for member in chunk {
                        query = query.bind(member);
                    }
                    query.execute(&mut *tx).await?;
                }
                for chunk in plan.add.chunks(CHUNK) {
                    let sql = self.sql(&format!(
                        "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, source) VALUES {} \
                         ON CONFLICT (tenant_id, group_id, member_id) DO NOTHING",
                        d.value_rows(chunk.len(), 5, "")
                    ));
                    let params = chunk.iter().flat_map(|(member, kind)| {
                        [tenant, id, member.as_str(), kind, job.connector_id].map(|v| Param::Text(v.to_owned()))
                    });
                    bind!(sqlx::query(sql), params.collect::<Vec<_>>().iter()).execute(&mut *tx).await?;
                }
                let members_changed = !plan.add.is_empty() || !plan.remove.is_empty();
                if members_changed && matches!(plan.write, None | Some(PlannedWrite::Create { .. })) {
                    sqlx::query(sqlx::AssertSqlSafe(bump_sql.clone())).bind(tenant).bind(id).bind(&now).execute(&mut *tx).await?;
                }
            }
            if !job.dry_run {
                tx.append_audit(tenant, job.audit, &events).await?;
            }
            for chunk in outcomes.chunks(CHUNK) {
                let params = chunk.iter().flat_map(|o| outcome_params(job.job_id, "Group", o));
                bind!(sqlx::query(self.outcomes_sql(chunk.len())), params.collect::<Vec<_>>().iter()).execute(&mut *tx).await?;
            }
            let mut query = sqlx::query(self.job_progress_sql()).bind(job.job_id).bind(job.lease_owner)
                .bind(job.lease_expires).bind(processed);
            for count in counts {
                query = query.bind(count);
            }
            if query.execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(StoreError::LeaseLost);
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
