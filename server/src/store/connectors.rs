//! Connectors as rows: the sources a tenant syncs from, their configuration (JSON, validated by
//! the sync layer before it is stored) and the cursor of their last committed run.

use serde_json::{Value, json};

use super::audit::{AppendAudit, AuditContext, AuditEvent};
use super::tenants::now;
use super::{Store, StoreError, StoreResult, read, write};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectorRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub kind: String,
    /// JSON text.
    pub config: String,
    pub missing_policy: String,
    pub cursor: Option<String>,
    pub created: String,
    /// A disabled connector is not scheduled and cannot be run.
    pub enabled: bool,
    /// Overrides of the `sync.*` defaults (None: the default).
    pub retry_attempts: Option<i64>,
    pub retry_backoff_seconds: Option<i64>,
    pub guard_percent: Option<i64>,
    pub guard_count: Option<i64>,
    /// The cron schedule and its next due time, when the connector has one.
    pub schedule: Option<String>,
    pub next_run: Option<String>,
}

/// A connector's settings, as created or replaced.
pub struct ConnectorSettings<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub config: &'a str,
    pub missing_policy: &'a str,
    pub run: &'a RunSettings,
}

impl ConnectorSettings<'_> {
    /// The settings as an audit event's new values (secrets named in the config redacted).
    fn changes(&self) -> Value {
        let config = serde_json::from_str::<Value>(self.config).unwrap_or(Value::Null);
        crate::audit::created(&json!({
            "name": self.name,
            "kind": self.kind,
            "config": config,
            "missingPolicy": self.missing_policy,
        }))
    }
}

/// When and how a connector runs: its schedule, whether it may run, retries after a failure and
/// the mass-deprovision guard (None: the `sync.*` default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// A cron expression and its first due time after now.
    pub schedule: Option<(String, String)>,
    pub enabled: bool,
    pub retry_attempts: Option<i64>,
    pub retry_backoff_seconds: Option<i64>,
    pub guard_percent: Option<i64>,
    pub guard_count: Option<i64>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            schedule: None,
            enabled: true,
            retry_attempts: None,
            retry_backoff_seconds: None,
            guard_percent: None,
            guard_count: None,
        }
    }
}

/// Connectors with their schedule, for `FromRow`.
const SELECT: &str = "SELECT c.id, c.tenant_id, c.name, c.kind, c.config, c.missing_policy, c.cursor, c.created, \
     c.enabled, c.retry_attempts, c.retry_backoff_seconds, c.guard_percent, c.guard_count, s.cron AS schedule, s.next_run \
     FROM connectors c LEFT JOIN connector_schedules s ON s.connector_id = c.id";

/// Sets or removes (no cron) a connector's schedule inside the transaction `$tx`: a
/// `StoreResult` of the statement. An unchanged cron expression keeps its due time, so saving the
/// connector skips no run.
macro_rules! save_schedule {
    ($store:expr, $tx:ident, $id:expr, $tenant:expr, $run:expr) => {{
        let run: &RunSettings = $run;
        let sql = $store.sql(match run.schedule {
            Some(_) => {
                "INSERT INTO connector_schedules (connector_id, tenant_id, cron, next_run) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (connector_id) DO UPDATE SET cron = excluded.cron, next_run = CASE \
                 WHEN connector_schedules.cron = excluded.cron THEN connector_schedules.next_run ELSE excluded.next_run END"
            }
            None => "DELETE FROM connector_schedules WHERE connector_id = $1 AND tenant_id = $2",
        });
        let query = sqlx::query(sql).bind($id).bind($tenant);
        match &run.schedule {
            Some((cron, next_run)) => query.bind(cron).bind(next_run),
            None => query,
        }
        .execute(&mut *$tx)
        .await
        .map(|_| ())
    }};
}

impl Store {
    /// The tenant's connector named `name`, created with `kind` if it does not exist yet (the CSV
    /// source of a tenant is made on its first upload).
    pub async fn ensure_connector(&self, tenant: &str, name: &str, kind: &str) -> StoreResult<ConnectorRow> {
        let insert = self.sql(
            "INSERT INTO connectors (id, tenant_id, name, kind, config, missing_policy, created) \
             VALUES ($1, $2, $3, $4, '{}', 'keep', $5) ON CONFLICT (tenant_id, name) DO NOTHING",
        );
        let id = uuid::Uuid::now_v7().to_string();
        write!(self, pool => sqlx::query(insert).bind(&id).bind(tenant).bind(name).bind(kind).bind(now()).execute(pool).await.map(|_| ()))?;
        self.connector_by_name(tenant, name).await?.ok_or(StoreError::NotFound)
    }

    pub async fn connector_by_name(&self, tenant: &str, name: &str) -> StoreResult<Option<ConnectorRow>> {
        let sql = self.sql(&format!("{SELECT} WHERE c.tenant_id = $1 AND c.name = $2"));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(name).fetch_optional(pool).await)?)
    }

    pub async fn connector_by_id(&self, tenant: &str, id: &str) -> StoreResult<Option<ConnectorRow>> {
        let sql = self.sql(&format!("{SELECT} WHERE c.tenant_id = $1 AND c.id = $2"));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(id).fetch_optional(pool).await)?)
    }

    /// Creates a connector; `Conflict` if the tenant has one of that name.
    pub async fn create_connector(
        &self,
        tenant: &str,
        settings: &ConnectorSettings<'_>,
        ctx: &AuditContext,
    ) -> StoreResult<ConnectorRow> {
        let sql = self.sql(
            "INSERT INTO connectors (id, tenant_id, name, kind, config, missing_policy, created, enabled, \
             retry_attempts, retry_backoff_seconds, guard_percent, guard_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        );
        let id = uuid::Uuid::now_v7().to_string();
        let run = settings.run;
        let event = AuditEvent::new("connector.create", "Connector", &id, settings.changes());
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(sql).bind(&id).bind(tenant).bind(settings.name).bind(settings.kind)
                .bind(settings.config).bind(settings.missing_policy).bind(now()).bind(run.enabled)
                .bind(run.retry_attempts).bind(run.retry_backoff_seconds).bind(run.guard_percent).bind(run.guard_count)
                .execute(&mut *tx).await
                .map_err(|e| super::conflict_or(e, |_| format!("a connector named {:?} exists", settings.name)))?;
            save_schedule!(self, tx, &id, tenant, run)?;
            tx.append_audit(tenant, ctx, std::slice::from_ref(&event)).await?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        self.connector_by_id(tenant, &id).await?.ok_or(StoreError::NotFound)
    }

    /// Replaces a connector's name, configuration and missing policy (its kind stays). A changed
    /// configuration may name other entries, so the cursor is dropped: the next run is full.
    /// The audit event records the new settings (the old ones are in the event that set them).
    pub async fn update_connector(
        &self,
        tenant: &str,
        id: &str,
        settings: &ConnectorSettings<'_>,
        ctx: &AuditContext,
    ) -> StoreResult<ConnectorRow> {
        let sql = self.sql(
            "UPDATE connectors SET name = $3, config = $4, missing_policy = $5, \
             cursor = CASE WHEN config = $4 THEN cursor END, enabled = $6, retry_attempts = $7, \
             retry_backoff_seconds = $8, guard_percent = $9, guard_count = $10 WHERE tenant_id = $1 AND id = $2",
        );
        let run = settings.run;
        let event = AuditEvent::new("connector.replace", "Connector", id, settings.changes());
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(sql).bind(tenant).bind(id).bind(settings.name).bind(settings.config)
                .bind(settings.missing_policy).bind(run.enabled).bind(run.retry_attempts)
                .bind(run.retry_backoff_seconds).bind(run.guard_percent).bind(run.guard_count)
                .execute(&mut *tx).await
                .map_err(|e| super::conflict_or(e, |_| format!("a connector named {:?} exists", settings.name)))?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            save_schedule!(self, tx, id, tenant, run)?;
            tx.append_audit(tenant, ctx, std::slice::from_ref(&event)).await?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        self.connector_by_id(tenant, id).await?.ok_or(StoreError::NotFound)
    }

    /// The tenant's connectors, by name; only those of `kind` if given.
    pub async fn list_connectors(&self, tenant: &str, kind: Option<&str>) -> StoreResult<Vec<ConnectorRow>> {
        let sql = self.sql(&format!("{SELECT} WHERE c.tenant_id = $1 AND COALESCE(c.kind = $2, TRUE) ORDER BY c.name"));
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(kind).fetch_all(pool).await)?)
    }

    /// Deletes a connector with its links and job history; what it managed becomes local. False if
    /// there was none.
    pub async fn delete_connector(
        &self,
        tenant: &str,
        connector: &ConnectorRow,
        ctx: &AuditContext,
    ) -> StoreResult<bool> {
        let managing_entity = format!("connector:{}", connector.name);
        let local = ["users", "groups"].map(|table| {
            self.sql(&format!(
                "UPDATE {table} SET managing_entity = 'local', version = version + 1, last_modified = $3 \
                 WHERE tenant_id = $1 AND managing_entity = $2"
            ))
        });
        let delete = self.sql("DELETE FROM connectors WHERE tenant_id = $1 AND id = $2");
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let now = now();
            for sql in local {
                sqlx::query(sql).bind(tenant).bind(&managing_entity).bind(&now).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query(delete).bind(tenant).bind(&connector.id).execute(&mut *tx).await?.rows_affected();
            if deleted > 0 {
                let changes = json!({ "name": { "old": connector.name } });
                let event = AuditEvent::new("connector.delete", "Connector", &connector.id, changes);
                tx.append_audit(tenant, ctx, std::slice::from_ref(&event)).await?;
            }
            tx.commit().await?;
            Ok(deleted > 0)
        })
    }

    /// Stores the cursor a committed run ended with.
    pub async fn set_connector_cursor(&self, connector_id: &str, cursor: Option<&str>) -> StoreResult<()> {
        let sql = self.sql("UPDATE connectors SET cursor = $2 WHERE id = $1");
        write!(self, pool => sqlx::query(sql).bind(connector_id).bind(cursor).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}
