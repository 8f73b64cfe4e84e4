//! What the sync engine reads and writes (DESIGN.md §3): the resources a batch of records names,
//! loaded in a few queries, and the batch's changes, outcomes and job counters written in one
//! transaction, so a batch is applied whole or not at all.

use std::collections::BTreeSet;

use scimd_schemas::schema::ResourceKind;
use serde_json::Value;

use super::audit::{AppendAudit, AuditContext, AuditEvent};
use super::audit_events::user_events;
use super::insert::{insert_sql, prepare_insert};
use super::params::{Param, bind};
use super::resources::{CHUNK, email_lower, text};
use super::tenants::now;
use super::{ResourceWrite, Store, StoreError, StoreResult, read, write};

/// A user as the engine diffs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncUser {
    pub id: String,
    pub doc: String,
    pub version: i64,
    pub managing_entity: String,
    pub active: Option<bool>,
    pub deactivation_reason: Option<String>,
    pub user_name_lower: String,
    pub email_lower: Option<String>,
    pub seq: i64,
}

#[derive(sqlx::FromRow)]
struct LinkedUser {
    external_key: String,
    record_hash: Option<String>,
    synced_version: Option<i64>,
    external_name: Option<String>,
    #[sqlx(flatten)]
    user: SyncUser,
}

/// Reads a row of a batch lookup from rusqlite, by column position (rusqlite looks names up by
/// comparing every column's name, which showed in profiles).
pub trait FromSqliteRow: Sized {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl SyncUser {
    /// The `USER_COLUMNS` from column `at` on.
    fn from_sqlite_columns(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(SyncUser {
            id: row.get(at)?,
            doc: row.get(at + 1)?,
            version: row.get(at + 2)?,
            managing_entity: row.get(at + 3)?,
            active: row.get(at + 4)?,
            deactivation_reason: row.get(at + 5)?,
            user_name_lower: row.get(at + 6)?,
            email_lower: row.get(at + 7)?,
            seq: row.get(at + 8)?,
        })
    }
}

impl FromSqliteRow for SyncUser {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        SyncUser::from_sqlite_columns(row, 0)
    }
}

impl FromSqliteRow for LinkedUser {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(LinkedUser {
            external_key: row.get(0)?,
            record_hash: row.get(1)?,
            synced_version: row.get(2)?,
            external_name: row.get(3)?,
            user: SyncUser::from_sqlite_columns(row, 4)?,
        })
    }
}

impl FromSqliteRow for GroupKey {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(GroupKey { id: row.get(0)?, external_id: row.get(1)?, display_name_lower: row.get(2)? })
    }
}

impl FromSqliteRow for UserMembership {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserMembership { member_id: row.get(0)?, group_id: row.get(1)?, source: row.get(2)? })
    }
}

impl FromSqliteRow for (String, String) {
    fn from_sqlite_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

/// What a link remembers of the last record applied through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMark {
    /// The record's fingerprint.
    pub hash: Option<String>,
    /// The resource's version after that record was applied.
    pub version: Option<i64>,
    /// The record's name in the source (`Record::name`).
    pub name: Option<String>,
}

const USER_COLUMNS: &str = "u.id, {doc} AS doc, u.version, u.managing_entity, u.active, u.deactivation_reason, \
     u.user_name_lower, u.email_lower, u.seq";

/// A group a record may name, with the keys it can be named by.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupKey {
    pub id: String,
    pub external_id: Option<String>,
    pub display_name_lower: String,
}

/// One membership of a user: the group, and the connector that added it (None: SCIM or admin).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserMembership {
    pub member_id: String,
    pub group_id: String,
    pub source: Option<String>,
}

/// Which users the missing policy considers after a full run.
pub enum MissingScope<'a> {
    /// Active users managed by the source (`managing_entity`) or created locally (CSV).
    ManagedOrLocal { managing_entity: &'a str },
    /// Users linked to the connector.
    Linked { connector_id: &'a str },
}

impl MissingScope<'_> {
    /// The SQL condition on users `u` with its parameter at `param`, and the parameter's value.
    pub(super) fn condition(&self, param: &str) -> (String, &str) {
        match self {
            MissingScope::ManagedOrLocal { managing_entity } => {
                (format!("u.managing_entity IN ('local', {param})"), managing_entity)
            }
            MissingScope::Linked { connector_id } => (
                format!(
                    "u.id IN (SELECT l.resource_id FROM source_links l WHERE l.tenant_id = u.tenant_id \
                     AND l.connector_id = {param})"
                ),
                connector_id,
            ),
        }
    }
}

/// Which users of the scope the missing policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates {
    /// Those the run did not see (no outcome in the job).
    Unseen,
    /// Those the guard held for approval and nothing has applied yet.
    Held,
}

/// The outcome status of a user held by the mass-deprovision guard; it counts in no counter.
pub const HELD: &str = "AWAITING_APPROVAL";

impl Candidates {
    /// The SQL condition on users `u` with the job id at `job`.
    pub(super) fn condition_for(self, job: &str) -> String {
        let outcome = format!("SELECT 1 FROM sync_outcomes o WHERE o.job_id = {job} AND o.resource_id = u.id");
        match self {
            Candidates::Unseen => format!("NOT EXISTS ({outcome})"),
            Candidates::Held => format!(
                "EXISTS ({outcome} AND o.status = '{HELD}') AND NOT EXISTS ({outcome} AND o.status <> '{HELD}')"
            ),
        }
    }
}

/// The write a record needs.
#[derive(Debug, Clone)]
pub enum PlannedWrite {
    Create {
        id: String,
        doc: Value,
        managing_entity: String,
        deactivation_reason: Option<String>,
    },
    /// `changes`: what the audit log records, old → new (`crate::audit::diff`), computed where the
    /// plan had both documents in hand.
    Update {
        id: String,
        doc: Value,
        version: i64,
        deactivation_reason: Option<String>,
        changes: Value,
    },
    Delete {
        id: String,
        /// The deleted resource's attributes, old (`crate::audit::deleted`).
        changes: Value,
    },
}

/// The outcome of one record, as the job's history keeps it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub seq: i64,
    /// CREATED, UPDATED, UNCHANGED, DEACTIVATED, DELETED, MAINTAINED, FAILED (data errors) or
    /// NOT_REGISTERED (system errors).
    pub status: &'static str,
    pub resource_id: Option<String>,
    pub source_key: Option<String>,
    pub line: Option<i64>,
    pub changed_fields: Option<String>,
    pub error: Option<String>,
    /// The record's values as the source gave them, as a JSON array.
    pub report: Option<String>,
}

/// Everything one record changes.
#[derive(Debug, Clone)]
pub struct RecordPlan {
    pub write: Option<PlannedWrite>,
    /// Group ids the user joins (memberships owned by the connector).
    pub join: Vec<String>,
    /// Group ids whose connector-owned membership the user leaves.
    pub leave: Vec<String>,
    /// The resource's link to the connector under the record's key.
    pub link: Option<LinkWrite>,
    pub outcome: Outcome,
    /// The outcome is written by a later pass (the record names users not linked yet when it was
    /// planned); the record counts as processed now.
    pub outcome_later: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// A new link.
    Create,
    /// A new link, after dropping the resource's and the key's earlier links.
    Replace,
    /// The existing link, with a new mark.
    Mark,
}

#[derive(Debug, Clone)]
pub struct LinkWrite {
    pub key: String,
    pub action: LinkAction,
    pub mark: LinkMark,
}

impl RecordPlan {
    /// A plan that changes no membership or link: at most `write`, and the outcome.
    pub fn only(write: Option<PlannedWrite>, outcome: Outcome) -> Self {
        RecordPlan { write, join: Vec::new(), leave: Vec::new(), link: None, outcome, outcome_later: false }
    }
}

/// The job a batch belongs to.
pub struct BatchJob<'a> {
    /// Who the batch's audit events name.
    pub audit: &'a AuditContext,
    pub tenant: &'a str,
    pub job_id: &'a str,
    pub lease_owner: &'a str,
    pub lease_expires: &'a str,
    pub connector_id: &'a str,
    /// A dry run records outcomes and counts only.
    pub dry_run: bool,
    /// Records read from the source in this batch (progress).
    pub processed: i64,
}

/// Counters of `sync_jobs` in the order of `COUNTERS`, for outcomes of these statuses.
pub(super) fn counters<'a>(statuses: impl IntoIterator<Item = &'a str>) -> [i64; 8] {
    let mut counts = [0; 8];
    for status in statuses {
        let index = match status {
            "CREATED" => 0,
            "UPDATED" => 1,
            "UNCHANGED" => 2,
            "DEACTIVATED" => 3,
            "DELETED" => 4,
            "MAINTAINED" => 5,
            "NOT_REGISTERED" => 6,
            HELD => continue,
            _ => 7,
        };
        counts[index] += 1;
    }
    counts
}

const COUNTERS: [&str; 8] = [
    "created_count",
    "updated_count",
    "unchanged_count",
    "deactivated_count",
    "deleted_count",
    "maintained_count",
    "not_registered_count",
    "invalid_count",
];

/// Columns per outcome row.
const OUTCOME_COLUMNS: usize = 10;

/// The parameters of an outcome's row in `outcomes_sql`.
pub(super) fn outcome_params(job_id: &str, resource_type: &str, o: &Outcome) -> [Param; OUTCOME_COLUMNS] {
    [
        Param::Text(job_id.to_owned()),
        Param::Int(o.seq),
        Param::Text(o.status.to_owned()),
        Param::OptText(o.resource_id.as_ref().map(|_| resource_type.to_owned())),
        Param::OptText(o.resource_id.clone()),
        Param::OptText(o.source_key.clone()),
        Param::OptInt(o.line),
        Param::OptText(o.changed_fields.clone()),
        Param::OptText(o.error.clone()),
        Param::OptText(o.report.clone()),
    ]
}

impl Store {
    /// The INSERT of `rows` outcomes, each binding its `outcome_params`.
    pub(super) fn outcomes_sql(&self, rows: usize) -> sqlx::AssertSqlSafe<String> {
        self.sql(&format!(
            "INSERT INTO sync_outcomes (job_id, seq, status, resource_type, resource_id, source_key, line, \
             changed_fields, error, report) VALUES {}",
            self.dialect().value_rows(rows, OUTCOME_COLUMNS, "")
        ))
    }

    /// The UPDATE of a job's progress, lease and counters: binds the job id, lease owner, lease
    /// expiry, records processed, then the `counters`. No row: the lease was lost.
    pub(super) fn job_progress_sql(&self) -> sqlx::AssertSqlSafe<String> {
        self.sql(&format!(
            "UPDATE sync_jobs SET processed = processed + $4, lease_expires = $3, {} \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
            COUNTERS.iter().enumerate().map(|(i, c)| format!("{c} = {c} + ${}", i + 5)).collect::<Vec<_>>().join(", ")
        ))
    }

    fn user_columns(&self) -> String {
        USER_COLUMNS.replace("{doc}", &self.dialect().doc_text("u.doc"))
    }

    /// The rows of `sql` for `values`, a chunk at a time: `sql` takes `first` as its first parameter
    /// and the chunk in place of `{list}`. On a SQLite file they are read through rusqlite on a
    /// blocking thread: sqlx hands every row from its connection's thread to the caller, which
    /// made a resync's lookups four times slower than the lookups themselves (see `point_read`).
    pub(super) async fn rows_in<T>(&self, sql: &str, first: &str, values: &[String]) -> StoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + FromSqliteRow
            + Send
            + Unpin
            + 'static,
    {
        let d = self.dialect();
        if let super::Backend::Sqlite { points: Some(points), .. } = &*self.backend {
            let (points, sql, first, values) = (points.clone(), sql.to_owned(), first.to_owned(), values.to_vec());
            let read = move || -> StoreResult<Vec<T>> {
                let mut found = Vec::new();
                for chunk in values.chunks(CHUNK) {
                    let sql = sql.replacen("$1", "?", 1).replace("{list}", &d.positional_list(2, chunk.len()));
                    let params: Vec<Param> =
                        std::iter::once(&first).chain(chunk).map(|v| Param::Text(v.clone())).collect();
                    found.extend(points.rows(&sql, &params, T::from_sqlite_row)?);
                }
                Ok(found)
            };
            return tokio::task::spawn_blocking(read).await.expect("a batch lookup does not panic");
        }
        let mut found = Vec::new();
        for chunk in values.chunks(CHUNK) {
            let sql = sql.replacen("$1", &d.positional(1), 1).replace("{list}", &d.positional_list(2, chunk.len()));
            let rows: Vec<T> = read!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(first);
                for value in chunk {
                    query = query.bind(value);
                }
                query.fetch_all(pool).await
            })?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Users linked to the connector under the given keys, with their keys and links' marks.
    pub async fn linked_users(
        &self,
        connector_id: &str,
        keys: &[String],
    ) -> StoreResult<Vec<(String, SyncUser, LinkMark)>> {
        let sql = format!(
            "SELECT l.external_key, l.record_hash, l.synced_version, l.external_name, {} FROM source_links l JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.resource_id \
             WHERE l.connector_id = $1 AND l.external_key IN ({{list}})",
            self.user_columns()
        );
        let rows: Vec<LinkedUser> = self.rows_in(&sql, connector_id, keys).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.external_key,
                    r.user,
                    LinkMark { hash: r.record_hash, version: r.synced_version, name: r.external_name },
                )
            })
            .collect())
    }

    /// Users whose `column` (`email_lower` or `user_name_lower`) is one of `values` (lower-cased).
    pub async fn users_by(&self, tenant: &str, column: UserKey, values: &[String]) -> StoreResult<Vec<SyncUser>> {
        let column = match column {
            UserKey::Email => "email_lower",
            UserKey::UserName => "user_name_lower",
        };
        let sql =
            format!("SELECT {} FROM users u WHERE u.tenant_id = $1 AND u.{column} IN ({{list}})", self.user_columns());
        self.rows_in(&sql, tenant, values).await
    }

    /// Groups whose externalId is one of `names`, or whose displayName is one of them ignoring case.
    pub async fn groups_named(&self, tenant: &str, names: &[String]) -> StoreResult<Vec<GroupKey>> {
        const SELECT: &str = "SELECT id, external_id, display_name_lower FROM groups WHERE tenant_id = $1 AND ";
        let mut found: Vec<GroupKey> =
            self.rows_in(&format!("{SELECT}external_id IN ({{list}})"), tenant, names).await?;
        let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let named: Vec<GroupKey> =
            self.rows_in(&format!("{SELECT}display_name_lower IN ({{list}})"), tenant, &lower).await?;
        let seen: std::collections::HashSet<String> = found.iter().map(|g| g.id.clone()).collect();
        found.extend(named.into_iter().filter(|g| !seen.contains(&g.id)));
        Ok(found)
    }

    /// The group memberships of the given users.
    pub async fn memberships_of(&self, tenant: &str, user_ids: &[String]) -> StoreResult<Vec<UserMembership>> {
        let sql = format!(
            "SELECT member_id, group_id, source FROM {} WHERE tenant_id = $1 AND member_id IN ({{list}})",
            self.dialect().table_via("group_members", "group_members_member")
        );
        self.rows_in(&sql, tenant, user_ids).await
    }

    /// Brings PostgreSQL's planner statistics up to date during and after a bulk load. With the
    /// statistics of the still small tables it read a batch's 500 link keys by scanning all the
    /// connector's links (quadratic over a run: 100 s for 100,000 users), and planned the missing
    /// policy's anti-join as a nested loop over both tables (minutes). SQLite plans these
    /// statements the same way whatever the table sizes, so it is left alone.
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        if let super::Backend::Postgres(pool) = &*self.backend {
            sqlx::query("ANALYZE users, groups, group_members, source_links, sync_outcomes").execute(pool).await?;
        }
        Ok(())
    }

    /// Up to `limit` users in `scope` that are `candidates` of the job's missing policy, after
    /// `after_seq`, in seq order: a page at a time.
    #[expect(clippy::too_many_arguments, reason = "one query's parameters")]
    pub async fn missing_users(
        &self,
        tenant: &str,
        job_id: &str,
        scope: &MissingScope<'_>,
        candidates: Candidates,
        active_only: bool,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<SyncUser>> {
        let (scope_sql, scope_param) = scope.condition("$4");
        let active = if active_only { " AND u.active IS NOT FALSE" } else { "" };
        let sql = self.sql(&format!(
            "SELECT {} FROM users u WHERE u.tenant_id = $1 AND u.seq > $3 AND {scope_sql}{active} AND {} \
             ORDER BY u.seq LIMIT {limit}",
            self.user_columns(),
            candidates.condition_for("$2"),
        ));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(job_id).bind(after_seq).bind(scope_param)
            .fetch_all(pool).await)?)
    }

    /// Writes a batch in one transaction: resources, memberships and links (unless a dry run), the
    /// outcomes, and the job's counters. `VersionMismatch` if a resource changed since it was read
    /// and `Conflict` on a unique key: nothing is written then, and the engine retries.
    pub async fn apply_sync_batch(&self, job: &BatchJob<'_>, plans: &[RecordPlan]) -> StoreResult<()> {
        let tenant = job.tenant;
        let now = now();
        let d = self.dialect();
        let creates: Vec<_> = plans
            .iter()
            .filter_map(|p| match &p.write {
                Some(PlannedWrite::Create { id, doc, managing_entity, deactivation_reason }) => {
                    Some((id, doc, managing_entity, deactivation_reason))
                }
                _ => None,
            })
            .collect();
        let inserts: Vec<_> = creates
            .iter()
            .map(|(id, doc, managing_entity, _)| {
                let write = ResourceWrite { doc, password_hash: None, managing_entity, members: None };
                prepare_insert(ResourceKind::User, tenant, (*id).clone(), &write, &now)
            })
            .collect();
        let update_sql = d.placeholders(&format!(
            "UPDATE users SET user_name = $4, user_name_lower = $5, external_id = $6, display_name = $7, active = $8, \
             email_lower = $9, deactivation_reason = $10, doc = {}, version = version + 1, last_modified = $12 \
             WHERE tenant_id = $1 AND id = $2 AND version = $3",
            d.json_param("$11")
        ));
        let reason_sql = d.placeholders("UPDATE users SET deactivation_reason = $3 WHERE tenant_id = $1 AND id = $2");
        let delete_sql = [
            d.placeholders("DELETE FROM group_members WHERE tenant_id = $1 AND (member_id = $2 OR group_id = $2)"),
            d.placeholders("DELETE FROM source_links WHERE tenant_id = $1 AND resource_id = $2"),
            d.placeholders("DELETE FROM users WHERE tenant_id = $1 AND id = $2"),
        ];
        let leave_sql = d.placeholders(
            "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND member_id = $3 AND source = $4",
        );
        let unlink_sql = d.placeholders(
            "DELETE FROM source_links WHERE connector_id = $1 AND (resource_id = $2 OR external_key = $3)",
        );
        let bump_sql = d.placeholders(
            "UPDATE groups SET version = version + 1, last_modified = $3 WHERE tenant_id = $1 AND id = $2",
        );
        let joins: Vec<(&str, &str)> = plans
            .iter()
            .flat_map(|p| p.join.iter().filter_map(move |g| resource_id(p).map(|u| (g.as_str(), u))))
            .collect();
        let changed_groups: BTreeSet<&str> =
            plans.iter().flat_map(|p| p.join.iter().chain(&p.leave)).map(String::as_str).collect();
        let links: Vec<(&LinkWrite, &str)> =
            plans.iter().filter_map(|p| Some((p.link.as_ref()?, resource_id(p)?))).collect();
        let mark_sql = d.placeholders(
            "UPDATE source_links SET record_hash = $3, synced_version = $4, external_name = $5 \
             WHERE connector_id = $1 AND external_key = $2",
        );
        let outcomes: Vec<&Outcome> = plans.iter().filter(|p| !p.outcome_later).map(|p| &p.outcome).collect();
        let counts = counters(outcomes.iter().map(|o| o.status));
        let job_sql = self.job_progress_sql();

        // Made before the transaction, so that the writer only numbers and hashes them.
        let events = if job.dry_run { Vec::new() } else { user_events(plans) };
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            if !job.dry_run {
                for chunk in inserts.chunks(CHUNK) {
                    let sql = insert_sql(d, ResourceKind::User, chunk.len());
                    bind!(sqlx::query(sqlx::AssertSqlSafe(sql)), chunk.iter().flat_map(|i| &i.params))
                        .execute(&mut *tx).await
                        .map_err(|e| super::conflict_or(e, |_| "a userName of the batch is already taken".to_owned()))?;
                }
                for (id, _, _, reason) in &creates {
                    if let Some(reason) = reason {
                        sqlx::query(sqlx::AssertSqlSafe(reason_sql.clone())).bind(tenant).bind(*id).bind(reason).execute(&mut *tx).await?;
                    }
                }
                for plan in plans {
                    match &plan.write {
                        Some(PlannedWrite::Update { id, doc, version, deactivation_reason, .. }) => {
                            let user_name = text(doc, "userName").unwrap_or_default();
                            let updated = sqlx::query(sqlx::AssertSqlSafe(update_sql.clone())).bind(tenant).bind(id).bind(version)
                                .bind(&user_name).bind(user_name.to_lowercase()).bind(text(doc, "externalId"))
                                .bind(text(doc, "displayName")).bind(doc.get("active").and_then(Value::as_bool))
                                .bind(email_lower(doc)).bind(deactivation_reason).bind(doc.to_string()).bind(&now)
                                .execute(&mut *tx).await
                                .map_err(|e| super::conflict_or(e, |_| format!("userName {user_name:?} is already taken")))?;
                            if updated.rows_affected() == 0 {
                                return Err(StoreError::VersionMismatch);
                            }
                        }
                        Some(PlannedWrite::Delete { id, .. }) => {
                            for sql in &delete_sql {
                                sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(tenant).bind(id).execute(&mut *tx).await?;
                            }
                        }
                        _ => {}
                    }
                    if let Some(user) = resource_id(plan) {
                        for group in &plan.leave {
                            sqlx::query(sqlx::AssertSqlSafe(leave_sql.clone())).bind(tenant).bind(group).bind(user).bind(job.connector_id)
                                .execute(&mut *tx).await?;
                        }
                    }
                }
                for chunk in joins.chunks(CHUNK) {
                    let sql = self.sql(&format!(
                        "INSERT INTO group_members (tenant_id, group_id, member_id, source, member_type) VALUES {} \
                         ON CONFLICT (tenant_id, group_id, member_id) DO NOTHING",
                        d.value_rows(chunk.len(), 4, ", 'User'")
                    ));
                    let mut query = sqlx::query(sql);
                    for (group, user) in chunk {
                        query = query.bind(tenant).bind(*group).bind(*user).bind(job.connector_id);
                    }
                    query.execute(&mut *tx).await?;
                }
                for group in &changed_groups {
                    sqlx::query(sqlx::AssertSqlSafe(bump_sql.clone())).bind(tenant).bind(*group).bind(&now).execute(&mut *tx).await?;
                }
                for (link, id) in &links {
                    match link.action {
                        LinkAction::Replace => {
                            sqlx::query(sqlx::AssertSqlSafe(unlink_sql.clone())).bind(job.connector_id).bind(*id).bind(&link.key)
                                .execute(&mut *tx).await?;
                        }
                        LinkAction::Mark => {
                            sqlx::query(sqlx::AssertSqlSafe(mark_sql.clone())).bind(job.connector_id).bind(&link.key)
                                .bind(&link.mark.hash).bind(link.mark.version).bind(&link.mark.name).execute(&mut *tx).await?;
                        }
                        LinkAction::Create => {}
                    }
                }
                let new_links: Vec<_> = links.iter().filter(|(link, _)| link.action != LinkAction::Mark).collect();
                for chunk in new_links.chunks(CHUNK) {
                    let sql = self.sql(&format!(
                        "INSERT INTO source_links (tenant_id, connector_id, resource_id, external_key, linked, record_hash, \
                         synced_version, external_name, resource_type) VALUES {}",
                        d.value_rows(chunk.len(), 8, ", 'User'")
                    ));
                    let mut query = sqlx::query(sql);
                    for (link, id) in chunk {
                        query = query.bind(tenant).bind(job.connector_id).bind(*id).bind(&link.key).bind(&now)
                            .bind(&link.mark.hash).bind(link.mark.version).bind(&link.mark.name);
                    }
                    query.execute(&mut *tx).await.map_err(|e| super::conflict_or(e, |_| "a source key is linked twice".to_owned()))?;
                }
                tx.append_audit(tenant, job.audit, &events).await?;
            }
            for chunk in outcomes.chunks(CHUNK) {
                let params = chunk.iter().flat_map(|o| outcome_params(job.job_id, "User", o));
                bind!(sqlx::query(self.outcomes_sql(chunk.len())), params.collect::<Vec<_>>().iter()).execute(&mut *tx).await?;
            }
            let mut query = sqlx::query(job_sql).bind(job.job_id).bind(job.lease_owner).bind(job.lease_expires).bind(job.processed);
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

    /// Removes a resource's link to a connector; a resource the connector managed becomes local.
    /// False if there was no such link.
    pub async fn unlink(
        &self,
        tenant: &str,
        resource_id: &str,
        connector: &super::ConnectorRow,
        ctx: &AuditContext,
    ) -> StoreResult<bool> {
        let delete =
            self.sql("DELETE FROM source_links WHERE tenant_id = $1 AND resource_id = $2 AND connector_id = $3");
        let local = self.sql(
            "UPDATE users SET managing_entity = 'local', version = version + 1, last_modified = $4 \
             WHERE tenant_id = $1 AND id = $2 AND managing_entity = $3",
        );
        let managing_entity = format!("connector:{}", connector.name);
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query(delete).bind(tenant).bind(resource_id).bind(&connector.id).execute(&mut *tx).await?.rows_affected();
            if removed > 0 {
                sqlx::query(local).bind(tenant).bind(resource_id).bind(&managing_entity).bind(now()).execute(&mut *tx).await?;
                let changes = serde_json::json!({ "links": { "removed": [connector.name] } });
                tx.append_audit(tenant, ctx, &[AuditEvent::new("link.delete", "User", resource_id, changes)]).await?;
            }
            tx.commit().await?;
            Ok(removed > 0)
        })
    }
}

/// A stored outcome, as result files list it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutcomeRow {
    pub seq: i64,
    pub status: String,
    pub changed_fields: Option<String>,
    pub error: Option<String>,
    pub report: Option<String>,
}

impl Store {
    /// (resource id, connector name) of every link of the given resources.
    pub async fn link_names(&self, tenant: &str, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        let sql = "SELECT l.resource_id, c.name FROM source_links l JOIN connectors c ON c.id = l.connector_id \
                   WHERE l.tenant_id = $1 AND l.resource_id IN ({list})";
        self.rows_in(sql, tenant, ids).await
    }

    /// Up to `limit` outcomes of a job after `after_seq`, in order: all but failures, or failures only.
    pub async fn outcomes(
        &self,
        job_id: &str,
        failures: bool,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<OutcomeRow>> {
        let negate = if failures { "" } else { "NOT " };
        let sql = self.sql(&format!(
            "SELECT seq, status, changed_fields, error, report FROM sync_outcomes WHERE job_id = $1 AND seq > $2 \
             AND {negate}(status IN ('FAILED', 'NOT_REGISTERED')) ORDER BY seq LIMIT {limit}"
        ));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(job_id).bind(after_seq).fetch_all(pool).await)?)
    }
}

/// Which users' column `users_by` matches.
#[derive(Debug, Clone, Copy)]
pub enum UserKey {
    Email,
    UserName,
}

fn resource_id(plan: &RecordPlan) -> Option<&str> {
    plan.outcome.resource_id.as_deref()
}
