//! Tenants and API tokens. A token is shown once; only its SHA-256 hash is stored (DESIGN.md §6).

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::audit::{AppendAudit, AuditContext, AuditEvent};
use super::{Backend, Store, StoreError, StoreResult, conflict_or, read, write};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created: String,
}

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Role {
    /// An identity provider pushing users and groups over SCIM.
    Scim,
    /// A tenant administrator.
    Admin,
    /// Read-only access to history and audit.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Scim => "scim",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "scim" => Some(Role::Scim),
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub tenant_id: String,
    pub role: String,
    pub client: Option<String>,
}

/// A newly created token: the secret is in `token` and exists nowhere else.
pub struct NewToken {
    pub id: String,
    pub token: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Store {
    /// Creates a tenant; the first event of its audit log records it.
    pub async fn create_tenant(&self, name: &str, ctx: &AuditContext) -> StoreResult<Tenant> {
        let tenant = Tenant { id: uuid::Uuid::now_v7().to_string(), name: name.to_owned(), created: now() };
        let sql = self.sql("INSERT INTO tenants (id, name, created) VALUES ($1, $2, $3)");
        let event = AuditEvent::new("tenant.create", "Tenant", &tenant.id, json!({ "name": { "new": name } }));
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(sql).bind(&tenant.id).bind(&tenant.name).bind(&tenant.created).execute(&mut *tx).await
                .map_err(|e| conflict_or(e, |_| format!("a tenant named {name:?} already exists")))?;
            tx.append_audit(&tenant.id, ctx, std::slice::from_ref(&event)).await?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        Ok(tenant)
    }

    pub async fn tenant_by_name(&self, name: &str) -> StoreResult<Tenant> {
        let sql = self.sql("SELECT id, name, created FROM tenants WHERE name = $1");
        read!(self, pool => sqlx::query_as::<_, Tenant>(sql).bind(name).fetch_optional(pool).await)?
            .ok_or(StoreError::NotFound)
    }

    pub async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = self.sql("SELECT id, name, created FROM tenants ORDER BY name");
        Ok(read!(self, pool => sqlx::query_as::<_, Tenant>(sql).fetch_all(pool).await)?)
    }

    /// Creates a token; its audit event names its role and client, never its secret.
    pub async fn create_token(
        &self,
        tenant_id: &str,
        role: Role,
        client: Option<&str>,
        ctx: &AuditContext,
    ) -> StoreResult<NewToken> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let token = format!("scimd_{}", hex::encode(secret));
        let id = uuid::Uuid::now_v7().to_string();
        let sql =
            self.sql("INSERT INTO tokens (id, tenant_id, role, client, hash, created) VALUES ($1, $2, $3, $4, $5, $6)");
        let changes = json!({ "role": { "new": role.as_str() }, "client": { "new": client } });
        let event = AuditEvent::new("token.create", "Token", &id, changes);
        write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(sql)
                .bind(&id).bind(tenant_id).bind(role.as_str()).bind(client).bind(hash_token(&token)).bind(now())
                .execute(&mut *tx).await?;
            tx.append_audit(tenant_id, ctx, std::slice::from_ref(&event)).await?;
            tx.commit().await?;
            StoreResult::Ok(())
        })?;
        Ok(NewToken { id, token })
    }

    /// The live (not revoked) token whose secret hashes to `hash`.
    pub async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRow>> {
        let sql = self.sql("SELECT id, tenant_id, role, client FROM tokens WHERE hash = $1 AND revoked IS NULL");
        if let Backend::Sqlite { points: Some(points), .. } = &*self.backend {
            return Ok(points.token(&sql.0, hash)?);
        }
        Ok(read!(self, pool => sqlx::query_as::<_, TokenRow>(sql).bind(hash).fetch_optional(pool).await)?)
    }
}
