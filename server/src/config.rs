//! Configuration: defaults, then `scimd.toml`, then `SCIMD_*` environment variables (later wins; a
//! nested key `server.listen` is `SCIMD_SERVER__LISTEN`), then command-line flags. This is the only
//! module that reads the environment for settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub const DEFAULT_CONFIG_FILE: &str = "scimd.toml";

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub server: ServerConfig,
    pub scim: ScimConfig,
    pub auth: AuthConfig,
    pub sync: SyncConfig,
    pub log: LogConfig,
}

/// Sync jobs: CSV imports and connector runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Where uploaded files are kept (one folder per job). Replicas on one PostgreSQL need it on
    /// shared storage, so that any of them can run a job and serve its files.
    pub files_dir: PathBuf,
    /// Largest CSV upload (`2706 CSV_FILE_SIZE_LIMIT_EXCEEDED` beyond it).
    pub csv_max_bytes: u64,
    /// A running job renews its lease this often times three; a job whose lease has expired (its
    /// process died) is marked `interrupted` and its lock released.
    pub lease_seconds: u64,
    /// Records written per transaction.
    pub batch_size: usize,
    /// How often each `scimd serve` looks for due connector schedules.
    pub schedule_poll_millis: u64,
    /// Retries of a failed connector run (a connector's `retryAttempts` overrides it).
    pub retry_attempts: u32,
    /// Wait before the first retry, doubled for each further one (`retryBackoffSeconds`).
    pub retry_backoff_seconds: u64,
    /// Mass-deprovision guard: a run that would deactivate or delete more than this percentage of
    /// the connector's users stops for an admin's approval (`guardPercent`; 100 turns it off).
    pub guard_percent: u32,
    /// … or more than this many users (`guardCount`; unset: no limit by number).
    pub guard_count: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a validated token is remembered, saving a database round trip per request.
    /// 0 checks the database on every request.
    pub token_cache_seconds: u64,
    /// Requests per second allowed per token; beyond it (after `rate_limit_burst`) requests get 429
    /// with `Retry-After`, as Entra ID expects. 0 turns the limit off.
    pub rate_limit_per_second: u32,
    /// Requests a token may send at once above its steady rate.
    pub rate_limit_burst: u32,
}

/// A database URL; `Debug` hides the password it may carry.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: &str) -> Self {
        DatabaseUrl(SecretString::from(url.to_owned()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with any password replaced by `***`, for logs and messages.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &url[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body, except on `/Bulk` (see `BulkConfig`).
    pub max_body_bytes: usize,
    /// Base URL clients reach scimd at (for `meta.location`); taken from the `Host` header when unset.
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    pub default_page_size: u32,
    pub max_page_size: u32,
    /// A PATCH of a group with more members than this answers 204 unless `attributes` is given, so a
    /// membership change never serialises a large group.
    pub large_group_members: u64,
    /// How long a paging cursor stays valid after it was issued (RFC 9865 `cursorTimeout`).
    pub cursor_timeout_seconds: u32,
    /// Custom extension schemas in the RFC 7643 §7 JSON format.
    pub extensions: Vec<ExtensionConfig>,
    pub bulk: BulkConfig,
}

/// Limits of `/Bulk`, advertised in `/ServiceProviderConfig`; beyond either, a request gets 413.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkConfig {
    pub max_operations: usize,
    /// Largest `/Bulk` body; `server.max_body_bytes` does not apply there.
    pub max_payload_bytes: usize,
    /// Bulk requests run at once; more wait their turn. A 10,000-operation request holds tens of
    /// megabytes while it runs, and SQLite has one writer anyway; raise it for PostgreSQL.
    pub max_concurrent: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionConfig {
    /// `User` or `Group`.
    pub resource: String,
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter, e.g. `info,scimd=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

#[derive(Serialize)]
struct Defaults {
    database_url: &'static str,
    server: ServerConfig,
    scim: ScimConfig,
    auth: AuthConfig,
    sync: SyncConfig,
    log: LogConfig,
}

fn defaults() -> Defaults {
    Defaults {
        database_url: "sqlite://scimd.db",
        server: ServerConfig { listen: ([127, 0, 0, 1], 8080).into(), max_body_bytes: 1024 * 1024, public_url: None },
        scim: ScimConfig {
            default_page_size: 100,
            max_page_size: 1000,
            large_group_members: 1000,
            cursor_timeout_seconds: 3600,
            extensions: Vec::new(),
            bulk: BulkConfig { max_operations: 10_000, max_payload_bytes: 16 * 1024 * 1024, max_concurrent: 1 },
        },
        auth: AuthConfig { token_cache_seconds: 5, rate_limit_per_second: 1000, rate_limit_burst: 2000 },
        sync: SyncConfig {
            files_dir: PathBuf::from("scimd-files"),
            csv_max_bytes: 100 * 1024 * 1024,
            lease_seconds: 30,
            batch_size: 1000,
            schedule_poll_millis: 1000,
            retry_attempts: 2,
            retry_backoff_seconds: 60,
            guard_percent: 10,
            guard_count: None,
        },
        log: LogConfig { format: LogFormat::Text, level: "info".into() },
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "configuration error: {0}\n(settings come from defaults < {1} < SCIMD_* environment variables < command-line flags)"
)]
pub struct ConfigError(Box<figment::Error>, String);

impl Config {
    /// Loads the configuration. `file` is `--config`; without it `./scimd.toml` is read if present.
    pub fn load(file: Option<&Path>, database_url: Option<&str>) -> Result<Config, ConfigError> {
        let path = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
        let toml = if file.is_some() { Toml::file_exact(&path) } else { Toml::file(&path) };
        let mut figment = Figment::from(Serialized::defaults(defaults()))
            .merge(toml)
            .merge(Env::prefixed("SCIMD_").split("__").ignore(&["config"]));
        if let Some(url) = database_url {
            figment = figment.merge(("database_url", url));
        }
        figment.extract().map_err(|e| ConfigError(Box::new(e), path.display().to_string()))
    }
}

#[cfg(test)]
#[expect(clippy::result_large_err, reason = "figment's Jail closures return figment::Error")]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_database_urls() {
        let url = DatabaseUrl::new("postgres://scimd:s3cret@db:5432/scimd");
        assert_eq!(url.redacted(), "postgres://scimd:***@db:5432/scimd");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(DatabaseUrl::new("sqlite://scimd.db").redacted(), "sqlite://scimd.db");
    }

    #[test]
    fn file_then_environment_then_flag() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "scimd.toml",
                "database_url = \"sqlite://file.db\"\n[server]\nlisten = \"127.0.0.1:9000\"\n",
            )?;
            let config = Config::load(None, None).expect("loads");
            assert_eq!(config.server.listen.port(), 9000);
            assert_eq!(config.database_url.expose(), "sqlite://file.db");
            jail.set_env("SCIMD_SERVER__LISTEN", "127.0.0.1:9100");
            assert_eq!(Config::load(None, None).expect("loads").server.listen.port(), 9100);
            let config = Config::load(None, Some("sqlite://flag.db")).expect("loads");
            assert_eq!(config.database_url.expose(), "sqlite://flag.db");
            Ok(())
        });
    }

    #[test]
    fn a_bad_value_names_the_key_and_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("scimd.toml", "[server]\nlisten = \"not an address\"\n")?;
            let message = Config::load(None, None).expect_err("invalid").to_string();
            assert!(message.contains("server.listen"), "{message}");
            assert!(message.contains("scimd.toml"), "{message}");
            Ok(())
        });
    }
}
