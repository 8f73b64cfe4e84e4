//! Configured connectors (LDAP and, later, Graph and Google): checking a configuration before it
//! is stored, queueing a run under the connector's lock, and opening its source for the engine.

use scimd_connectors::Connector;
use scimd_connectors::azure::{AzureConfig, AzureSource};
use scimd_connectors::google::{GoogleConfig, GoogleSource};
use scimd_connectors::ldap::{LdapConfig, LdapSource};
use serde_json::Value;

use super::csv::Actor;
use super::{JobError, Jobs, original_file};
use crate::config::Config;
use crate::store::{ConnectorRow, JobRow, NewJob};

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
    let id = uuid::Uuid::now_v7().to_string();
    let lock_key = lock_key(&connector.id);
    let job = NewJob {
        id: &id,
        tenant_id: &connector.tenant_id,
        kind: "connector_sync",
        connector_id: &connector.id,
        lock_key: &lock_key,
        trigger: request.actor.trigger,
        actor_token: request.actor.token_id,
        actor_name: request.actor.name,
        dry_run: request.dry_run,
        full_run: request.full || connector.cursor.is_none(),
        missing_policy: &connector.missing_policy,
        file_name: None,
        total: None,
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
