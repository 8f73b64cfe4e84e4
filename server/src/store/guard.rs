//! What the mass-deprovision guard reads: how many users of a connector a run's missing policy
//! would deactivate or delete, against how many it has.

use super::sync_batch::Candidates;
use super::{MissingScope, Store, StoreResult, read};

impl Store {
    /// (users in `scope`, of them the `Unseen` candidates of the job's missing policy).
    pub async fn missing_share(
        &self,
        tenant: &str,
        job_id: &str,
        scope: &MissingScope<'_>,
        active_only: bool,
    ) -> StoreResult<(i64, i64)> {
        let (scope_sql, scope_param) = scope.condition("$3");
        let active = if active_only { "u.active IS NOT FALSE AND " } else { "" };
        let sql = self.sql(&format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN {active}{} THEN 1 ELSE 0 END), 0) \
             FROM users u WHERE u.tenant_id = $1 AND {scope_sql}",
            Candidates::Unseen.condition_for("$2"),
        ));
        let (total, affected): (i64, i64) =
            read!(self, pool => sqlx::query_as(sql).bind(tenant).bind(job_id).bind(scope_param).fetch_one(pool).await)?;
        Ok((total, affected))
    }

    /// The highest outcome seq of a job (0 without outcomes): where a resumed job goes on.
    pub async fn last_outcome_seq(&self, job_id: &str) -> StoreResult<i64> {
        let sql = self.sql("SELECT COALESCE(MAX(seq), 0) FROM sync_outcomes WHERE job_id = $1");
        let (seq,): (i64,) = read!(self, pool => sqlx::query_as(sql).bind(job_id).fetch_one(pool).await)?;
        Ok(seq)
    }
}
