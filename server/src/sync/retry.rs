//! Retries after a failed connector run: a new job (trigger `retry`, linked to the failed one by
//! `retryOf`) that waits out its backoff (`notBefore`) before a worker may claim it. The backoff
//! doubles with each attempt; the connector's settings override the `sync.*` defaults.

use chrono::{Duration, Utc};

use super::connector::lock_key;
use crate::config::Config;
use crate::store::{JobRow, NewJob, Store};

/// The wait before retry number `attempt` (1 for the first retry), doubling from `backoff`.
pub fn backoff_seconds(backoff: i64, attempt: i64) -> i64 {
    backoff.saturating_mul(1 << (attempt - 1).clamp(0, 20))
}

/// Queues the retry of a failed connector run, if it has attempts left. A retry that cannot be
/// queued (another run took the lock meanwhile) is not needed: that run converges as well.
pub async fn queue_retry(store: &Store, config: &Config, failed: &JobRow) {
    if failed.kind != "connector_sync" {
        return;
    }
    let connector = match store.connector_by_id(&failed.tenant_id, &failed.connector_id).await {
        Ok(Some(connector)) => connector,
        _ => return,
    };
    let attempts = connector.retry_attempts.unwrap_or(i64::from(config.sync.retry_attempts));
    if failed.attempt > attempts {
        return;
    }
    let backoff = connector.retry_backoff_seconds.unwrap_or(config.sync.retry_backoff_seconds as i64);
    let not_before = (Utc::now() + Duration::seconds(backoff_seconds(backoff, failed.attempt)))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let id = uuid::Uuid::now_v7().to_string();
    let lock_key = lock_key(&connector.id);
    let job = NewJob {
        actor_token: failed.actor_token.as_deref(),
        actor_name: failed.actor_name.as_deref(),
        dry_run: failed.dry_run,
        retry_of: Some(&failed.id),
        attempt: failed.attempt + 1,
        not_before: Some(&not_before),
        ..NewJob::connector_run(
            &id,
            &failed.tenant_id,
            &connector.id,
            &lock_key,
            "retry",
            &connector.missing_policy,
            failed.full_run || connector.cursor.is_none(),
        )
    };
    match store.queue_job(&job).await {
        Ok(Ok(retry)) => tracing::info!(job = %retry.id, retry_of = %failed.id, not_before, "retry queued"),
        Ok(Err(held)) => tracing::info!(job = %failed.id, ?held, "no retry: another run holds the connector's lock"),
        Err(e) => tracing::error!(job = %failed.id, error = %e, "could not queue the retry"),
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn the_backoff_doubles_per_attempt() {
        assert_eq!([1, 2, 3, 4].map(|attempt| backoff_seconds(60, attempt)), [60, 120, 240, 480]);
    }
}
