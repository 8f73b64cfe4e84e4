//! Connectors as rows: the sources a tenant syncs from, their configuration (JSON, validated by
//! the sync layer before it is stored) and the cursor of their last committed run.

use serde_json::{Value, json};

use super::audit::{AuditContext, AuditEvent, append_audit};
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
}

/// A connector's settings, as created or replaced.
pub struct ConnectorSettings<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub config: &'a str,
    pub missing_policy: &'a str,
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
        let sql = self.sql("SELECT * FROM connectors WHERE tenant_id = $1 AND name = $2");
        Ok(read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(name).fetch_optional(pool).await)?)
    }

    pub async fn connector_by_id(&self, tenant: &str, id: &str) -> StoreResult<Option<ConnectorRow>> {
        let sql = self.sql("SELECT * FROM connectors WHERE tenant_id = $1 AND id = $2");
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
            "INSERT INTO connectors (id, tenant_id, name, kind, config, missing_policy, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        );
        let id = uuid::Uuid::now_v7().to_string();
        let event = AuditEvent::new("connector.create", "Connector", &id, settings.changes());
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(sql).bind(&id).bind(tenant).bind(settings.name).bind(settings.kind)
                .bind(settings.config).bind(settings.missing_policy).bind(now()).execute(&mut *tx).await
                .map_err(|e| super::conflict_or(e, |_| format!("a connector named {:?} exists", settings.name)))?;
            append_audit!(self, tx, tenant, ctx, std::slice::from_ref(&event))?;
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
             cursor = CASE WHEN config = $4 THEN cursor END WHERE tenant_id = $1 AND id = $2",
        );
        let event = AuditEvent::new("connector.replace", "Connector", id, settings.changes());
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(sql).bind(tenant).bind(id).bind(settings.name).bind(settings.config)
                .bind(settings.missing_policy).execute(&mut *tx).await
                .map_err(|e| super::conflict_or(e, |_| format!("a connector named {:?} exists", settings.name)))?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            append_audit!(self, tx, tenant, ctx, std::slice::from_ref(&event))?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        self.connector_by_id(tenant, id).await?.ok_or(StoreError::NotFound)
    }

    /// The tenant's connectors, by name; only those of `kind` if given.
    pub async fn list_connectors(&self, tenant: &str, kind: Option<&str>) -> StoreResult<Vec<ConnectorRow>> {
        let sql = self.sql("SELECT * FROM connectors WHERE tenant_id = $1 AND COALESCE(kind = $2, TRUE) ORDER BY name");
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
                append_audit!(self, tx, tenant, ctx, std::slice::from_ref(&event))?;
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
