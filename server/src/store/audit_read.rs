//! Reading the audit log: filtered pages (keyset by seq), the chain check, and per-attribute
//! provenance. Every filter runs in the database.

use serde::Serialize;

use super::audit::{CHAIN_SPAN, EventContent, GENESIS};
use super::params::{Param, bind};
use super::{Store, StoreResult, read};

/// One stored event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub event_time: String,
    pub actor: String,
    pub actor_role: Option<String>,
    pub actor_name: Option<String>,
    pub job_id: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub changes: String,
    pub request_id: Option<String>,
    pub source: String,
    /// The previous event's hash (hex): the row before this one.
    pub prev_hash: String,
    /// Hex.
    pub hash: String,
}

impl AuditRow {
    fn content<'a>(&'a self, tenant: &'a str) -> EventContent<'a> {
        EventContent {
            tenant,
            seq: self.seq,
            time: &self.event_time,
            actor: &self.actor,
            role: self.actor_role.as_deref(),
            name: self.actor_name.as_deref(),
            job_id: self.job_id.as_deref(),
            action: &self.action,
            resource_type: self.resource_type.as_deref(),
            resource_id: self.resource_id.as_deref(),
            changes: &self.changes,
            request_id: self.request_id.as_deref(),
            source: &self.source,
        }
    }
}

/// Which events a page holds. Every field narrows; `after_seq` is the keyset position.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// RFC 3339 times, compared in the stored UTC form.
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub action: Option<String>,
    pub source: Option<String>,
    pub job_id: Option<String>,
}

/// What `verify_audit` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    Intact {
        events: u64,
    },
    /// The first event (by seq) where the chain does not hold, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}

/// Which source last set an attribute of a resource, and when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub attribute: String,
    pub source: String,
    #[serde(rename = "time")]
    pub event_time: String,
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub actor_name: Option<String>,
    pub job_id: Option<String>,
}

/// A tenant's chain as the range of event keys it holds: `FROM {TENANT_CHAIN} JOIN audit_events e
/// ON {IN_CHAIN}` reads the tenant's events (`$1`: the tenant), and `e.id - h.base` is an event's seq.
const TENANT_CHAIN: &str = "(SELECT chain * 1099511627776 AS base FROM audit_heads WHERE tenant_id = $1) h";
const IN_CHAIN: &str = "e.id > h.base AND e.id < h.base + 1099511627776";
const _: () = assert!(CHAIN_SPAN == 1_099_511_627_776);

/// The columns of `AuditRow`, hashes in hex, the previous hash read from the row before.
fn columns(d: super::Dialect) -> String {
    // SQLite's hex(NULL) is '', which the first event's missing predecessor must not become.
    let hex = |expr: &str| match d {
        super::Dialect::Sqlite => format!("nullif(lower(hex({expr})), '')"),
        super::Dialect::Postgres => format!("encode({expr}, 'hex')"),
    };
    format!(
        "e.id - h.base AS seq, e.event_time, e.actor, e.actor_role, e.actor_name, e.job_id, e.action, e.resource_type, \
         e.resource_id, e.changes, e.request_id, e.source, \
         coalesce({}, '{}') AS prev_hash, {} AS hash",
        hex("(SELECT p.hash FROM audit_events p WHERE p.id = e.id - 1)"),
        hex::encode(GENESIS),
        hex("e.hash")
    )
}

/// Events read per query while walking the chain.
const WALK_PAGE: i64 = 1000;

impl Store {
    /// Up to `limit` events of the tenant after `after_seq` that pass `filter`, in seq order.
    pub async fn audit_events(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let d = self.dialect();
        let mut params = vec![Param::Text(tenant.to_owned()), Param::Int(after_seq)];
        let mut condition = format!("{IN_CHAIN} AND e.id > h.base + $2");
        // Times are stored as UTC with microseconds; a bound in another offset is normalised first.
        let since = filter.since.as_deref().map(utc);
        let until = filter.until.as_deref().map(utc);
        let tests = [
            ("event_time >=", since.as_ref()),
            ("event_time <", until.as_ref()),
            ("actor =", filter.actor.as_ref()),
            ("resource_type =", filter.resource_type.as_ref()),
            ("resource_id =", filter.resource_id.as_ref()),
            ("action =", filter.action.as_ref()),
            ("source =", filter.source.as_ref()),
            ("job_id =", filter.job_id.as_ref()),
        ];
        for (test, value) in tests {
            if let Some(value) = value {
                params.push(Param::Text(value.clone()));
                condition.push_str(&format!(" AND e.{test} {}", d.placeholder(params.len())));
            }
        }
        let sql = d.placeholders(&format!(
            "SELECT {} FROM {TENANT_CHAIN} JOIN audit_events e ON {condition} ORDER BY e.id LIMIT {}",
            columns(d),
            limit.max(0)
        ));
        Ok(
            read!(self, pool => bind!(sqlx::query_as::<_, AuditRow>(sqlx::AssertSqlSafe(sql)), &params).fetch_all(pool).await)?,
        )
    }

    /// Walks the tenant's chain from its first event: each seq follows the one before, each hash
    /// matches the previous hash and its content, and the head names the last.
    pub async fn verify_audit(&self, tenant: &str) -> StoreResult<ChainCheck> {
        let mut expected_seq = 1;
        let mut prev = GENESIS;
        let mut events = 0u64;
        loop {
            let page = self.audit_events(tenant, &AuditFilter::default(), expected_seq - 1, WALK_PAGE).await?;
            for row in &page {
                let broken = |reason: String| Ok(ChainCheck::Broken { seq: row.seq, reason });
                if row.seq != expected_seq {
                    return broken(format!("event {expected_seq} is missing (the next one is {})", row.seq));
                }
                let hash = row.content(tenant).hash(&prev);
                if hex::encode(hash) != row.hash {
                    return broken(
                        "its hash does not match its content and the hash before it: it, or the event before it, \
                         was changed after it was written"
                            .into(),
                    );
                }
                prev = hash;
                expected_seq += 1;
                events += 1;
            }
            if (page.len() as i64) < WALK_PAGE {
                break;
            }
        }
        let head_sql = self.sql("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1");
        let head: Option<(i64, Vec<u8>)> =
            read!(self, pool => sqlx::query_as(head_sql).bind(tenant).fetch_optional(pool).await)?;
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_vec()));
        if head_seq != expected_seq - 1 || head_hash != prev {
            return Ok(ChainCheck::Broken {
                seq: head_seq.max(expected_seq),
                reason: format!(
                    "the chain ends at event {} but its head names event {head_seq}: events were removed",
                    expected_seq - 1
                ),
            });
        }
        Ok(ChainCheck::Intact { events })
    }

    /// Per top-level attribute of a resource, the latest event that changed it: one grouped query
    /// over the resource's events (index `audit_events_resource`).
    pub async fn provenance(&self, tenant: &str, resource_id: &str) -> StoreResult<Vec<Provenance>> {
        let keys = match self.dialect() {
            super::Dialect::Sqlite => "json_each(e.changes) AS j",
            super::Dialect::Postgres => "jsonb_each(e.changes::jsonb) AS j",
        };
        let sql = self.sql(&format!(
            "WITH latest AS (SELECT j.key AS attribute, max(e.id) AS id FROM {TENANT_CHAIN} \
             JOIN audit_events e ON {IN_CHAIN} AND e.resource_id = $2, {keys} GROUP BY j.key) \
             SELECT l.attribute, e.source, e.event_time, e.id - h.base AS seq, e.action, e.actor, e.actor_name, e.job_id \
             FROM latest l JOIN audit_events e ON e.id = l.id, {TENANT_CHAIN} ORDER BY l.attribute"
        ));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(resource_id).fetch_all(pool).await)?)
    }
}

/// An RFC 3339 time in the stored form (UTC, microseconds); text that is not one stays as it is
/// (the API checks its parameters before they come here).
fn utc(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time).map_or_else(
        |_| time.to_owned(),
        |t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )
}
