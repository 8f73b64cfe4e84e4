//! Configured connectors (LDAP and, later, Graph and Google): checking a configuration before it
//! is stored, queueing a run under the connector's lock, and opening its source for the engine.

use scimd_connectors::Connector;
use scimd_connectors::azure::{AzureConfig, AzureSource};
use scimd_connectors::google::{GoogleConfig, GoogleSource};
use scimd_connectors::ldap::{LdapConfig, LdapSource};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::csv::Actor;
use super::{JobError, Jobs, original_file};
use crate::config::Config;
use crate::store::{ConnectorRow, JobRow, NewJob, RunSettings};

/// Kinds that can be configured through the admin API and the CLI.
pub const CONFIGURABLE_KINDS: [&str; 3] = ["ldap", "azure", "google"];

/// The lock a connector's runs take: one at a time per connector.
pub fn lock_key(connector_id: &str) -> String {
    format!("connector:{connector_id}")
}

pub fn invalid_config(message: impl Into<String>) -> JobError {
    JobError::new(400, 0, "CONNECTOR_CONFIG_INVALID", message)
}

/// Checks a connector's kind, configuration and missing policy; the configuration as it is stored.
pub fn check_settings(kind: &str, config: &Value, missing_policy: &str) -> Result<String, JobError> {
    if !matches!(missing_policy, "deactivate" | "keep" | "delete") {
        return Err(invalid_config(format!(
            "missingPolicy {missing_policy:?} is not a policy; use deactivate, keep or delete"
        )));
    }
    match kind {
        "ldap" => {
            LdapConfig::from_value(config.clone()).map_err(|e| invalid_config(e.to_string()))?;
            Ok(config.to_string())
        }
        "azure" => {
            AzureConfig::from_value(config.clone()).map_err(|e| invalid_config(e.to_string()))?;
            Ok(config.to_string())
        }
        "google" => {
            GoogleConfig::from_value(config.clone()).map_err(|e| invalid_config(e.to_string()))?;
            Ok(config.to_string())
        }
        "csv" => Err(invalid_config(
            "the CSV source is made by its first upload: POST /admin/v1/csv-sync or `scimd csv-sync`",
        )),
        other => Err(invalid_config(format!(
            "kind {other:?} cannot be configured in this version; use one of {CONFIGURABLE_KINDS:?}"
        ))),
    }
}

/// When and how a connector runs, as the admin API and the CLI set it. An absent key keeps the
/// current value (the default on create); `null` clears an override back to the `sync.*` default.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    /// A cron expression (five fields, or six with seconds first), or null for none.
    #[serde(default, deserialize_with = "present")]
    pub schedule: Option<Option<String>>,
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub retry_attempts: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub retry_backoff_seconds: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub guard_percent: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub guard_count: Option<Option<i64>>,
}

/// A key that is present, null or not: `Some(None)` for null, so null differs from absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Checks run options against the connector's current settings (None on create): the settings to
/// store, or `CONNECTOR_CONFIG_INVALID` naming the key.
pub fn run_settings(options: &RunOptions, current: Option<&ConnectorRow>) -> Result<RunSettings, JobError> {
    let base = current.map_or_else(RunSettings::default, |c| RunSettings {
        schedule: c.schedule.clone().map(|cron| (cron, c.next_run.clone().unwrap_or_default())),
        enabled: c.enabled,
        retry_attempts: c.retry_attempts,
        retry_backoff_seconds: c.retry_backoff_seconds,
        guard_percent: c.guard_percent,
        guard_count: c.guard_count,
    });
    let schedule = match &options.schedule {
        None => base.schedule,
        Some(None) => None,
        Some(Some(expr)) => {
            super::schedule::parse(expr)
                .map_err(|e| invalid_config(format!("schedule {expr:?} is not a cron expression: {e}")))?;
            let next = super::schedule::next_after(expr, chrono::Utc::now()).unwrap_or_default();
            Some((expr.clone(), next))
        }
    };
    let ranged =
        |key: &str, value: &Option<Option<i64>>, old: Option<i64>, range: std::ops::RangeInclusive<i64>| match value {
            None => Ok(old),
            Some(None) => Ok(None),
            Some(Some(n)) if range.contains(n) => Ok(Some(*n)),
            Some(Some(n)) => Err(invalid_config(format!(
                "{key} {n} is out of range; use {} to {} (or null for the default)",
                range.start(),
                range.end()
            ))),
        };
    Ok(RunSettings {
        schedule,
        enabled: options.enabled.unwrap_or(base.enabled),
        retry_attempts: ranged("retryAttempts", &options.retry_attempts, base.retry_attempts, 0..=20)?,
        retry_backoff_seconds: ranged(
            "retryBackoffSeconds",
            &options.retry_backoff_seconds,
            base.retry_backoff_seconds,
            1..=86_400,
        )?,
        guard_percent: ranged("guardPercent", &options.guard_percent, base.guard_percent, 0..=100)?,
        guard_count: ranged("guardCount", &options.guard_count, base.guard_count, 0..=i64::MAX)?,
    })
}

/// A run of a configured connector.
pub struct RunRequest<'a> {
    pub connector: &'a ConnectorRow,
    /// Read everything (and apply the missing policy), not only what changed since the last run.
    pub full: bool,
    pub dry_run: bool,
    pub actor: Actor<'a>,
}

/// Queues a run: a full one when asked or when the connector has no cursor yet (its first run, or
/// its configuration changed). `2714`/`2715` when a run of the connector holds the lock.
pub async fn queue_run(jobs: &Jobs, request: &RunRequest<'_>) -> Result<JobRow, JobError> {
    let connector = request.connector;
    if !connector.enabled {
        return Err(JobError::new(
            409,
            0,
            "CONNECTOR_DISABLED",
            format!("connector {} is disabled; enable it (\"enabled\": true) to run it", connector.name),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let lock_key = lock_key(&connector.id);
    let job = NewJob {
        actor_token: request.actor.token_id,
        actor_name: request.actor.name,
        dry_run: request.dry_run,
        ..NewJob::connector_run(
            &id,
            &connector.tenant_id,
            &connector.id,
            &lock_key,
            request.actor.trigger,
            &connector.missing_policy,
            request.full || connector.cursor.is_none(),
        )
    };
    let queued = jobs.store.queue_job(&job).await.map_err(|e| {
        tracing::error!(error = %e, "connector run could not be queued");
        JobError::new(500, 0, "INTERNAL_ERROR", "the run could not be queued; try again later")
    })?;
    match queued {
        Ok(job) => {
            jobs.queued.notify_one();
            Ok(job)
        }
        Err(held) => Err(JobError::lock_held(&held)),
    }
}

/// The source a job reads.
pub fn open_source(config: &Config, connector: &ConnectorRow, job: &JobRow) -> Result<Box<dyn Connector>, String> {
    match connector.kind.as_str() {
        "csv" => super::csv::open_source(&original_file(config, &job.id)).map_err(|e| e.to_string()),
        "ldap" => {
            let config = LdapConfig::from_json(&connector.config).map_err(|e| e.to_string())?;
            Ok(Box::new(LdapSource::new(config)))
        }
        "azure" => {
            let config = AzureConfig::from_json(&connector.config).map_err(|e| e.to_string())?;
            Ok(Box::new(AzureSource::new(config)))
        }
        "google" => {
            let config = GoogleConfig::from_json(&connector.config).map_err(|e| e.to_string())?;
            Ok(Box::new(GoogleSource::new(config)))
        }
        other => Err(format!("connectors of kind {other} cannot run in this version")),
    }
}
