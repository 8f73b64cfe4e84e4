//! The connector's configuration: camelCase JSON, stored as the connector's config. The client
//! secret is never part of it, only where to read it from (`clientSecretEnv` or `clientSecretFile`).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::mapping::{Mapping, default_group_mapping, default_user_mapping};
use crate::ConnectorError;
use crate::retry::RetryPolicy;
use crate::secret::{SecretKeys, SecretSource};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
/// Graph's largest page for users, groups and members.
const MAX_PAGE_SIZE: u32 = 999;
const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// The settings keys of the client secret's source.
pub const CLIENT_SECRET_KEYS: SecretKeys =
    SecretKeys { env: "clientSecretEnv", file: "clientSecretFile", what: "client secret" };

#[derive(Debug, Clone, PartialEq)]
pub struct AzureConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretSource,
    /// Without a trailing slash.
    pub authority: String,
    /// Without a trailing slash.
    pub graph_url: String,
    /// Whether groups and their members are read.
    pub read_groups: bool,
    pub page_size: u32,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub user_mapping: Mapping,
    pub group_mapping: Mapping,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    tenant_id: String,
    client_id: String,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    authority: Option<String>,
    graph_url: Option<String>,
    read_groups: Option<bool>,
    page_size: Option<u32>,
    max_retries: Option<u32>,
    max_backoff_seconds: Option<u64>,
    timeout_seconds: Option<u64>,
    user_mapping: Option<Map<String, Value>>,
    group_mapping: Option<Map<String, Value>>,
}

pub(super) fn invalid(message: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Source(format!("azure connector configuration: {message}"))
}

impl AzureConfig {
    pub fn from_json(text: &str) -> Result<Self, ConnectorError> {
        // The path names the key of a value of the wrong type (serde_json alone gives a column).
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|error| {
                let key = error.path().to_string();
                let error = if key == "." { error.inner().to_string() } else { format!("{key}: {}", error.inner()) };
                let hint = if error.contains("`clientSecret`") {
                    " (the secret is never stored in the configuration: name an environment variable in \
                 clientSecretEnv or a file in clientSecretFile)"
                } else {
                    ""
                };
                invalid(format!("{error}{hint}"))
            })?;
        raw.resolve()
    }

    pub fn from_value(value: Value) -> Result<Self, ConnectorError> {
        Self::from_json(&value.to_string())
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant_id)
    }
}

impl RawConfig {
    fn resolve(self) -> Result<AzureConfig, ConnectorError> {
        let tenant_id = required_id("tenantId", self.tenant_id, "contoso.onmicrosoft.com or the directory's GUID")?;
        let client_id = required_id("clientId", self.client_id, "the application (client) ID")?;
        let client_secret =
            SecretSource::from_settings(CLIENT_SECRET_KEYS, self.client_secret_env, self.client_secret_file)
                .map_err(invalid)?
                .ok_or_else(|| {
                    invalid(
                        "no client secret: set clientSecretEnv (an environment variable's name) or clientSecretFile (a \
                     file holding the secret)",
                    )
                })?;
        let page_size = self.page_size.unwrap_or(MAX_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(invalid(format!("pageSize must be between 1 and {MAX_PAGE_SIZE} (the default is 999)")));
        }
        let defaults = RetryPolicy::default();
        let max_backoff = self.max_backoff_seconds.unwrap_or(defaults.max_backoff.as_secs());
        if max_backoff == 0 {
            return Err(invalid("maxBackoffSeconds must be at least 1 (the default is 60)"));
        }
        let retry = RetryPolicy {
            max_retries: self.max_retries.unwrap_or(defaults.max_retries),
            base_backoff: defaults.base_backoff.min(Duration::from_secs(max_backoff)),
            max_backoff: Duration::from_secs(max_backoff),
        };
        let timeout_seconds = self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if timeout_seconds == 0 {
            return Err(invalid("timeoutSeconds must be at least 1 (the default is 60)"));
        }
        let user_mapping = match self.user_mapping {
            Some(map) => Mapping::from_json("userMapping", map)?,
            None => default_user_mapping(),
        };
        if !user_mapping.maps("userName") {
            return Err(invalid("userMapping has no userName: map userName to a property such as userPrincipalName"));
        }
        let group_mapping = match self.group_mapping {
            Some(map) => Mapping::from_json("groupMapping", map)?,
            None => default_group_mapping(),
        };
        Ok(AzureConfig {
            tenant_id,
            client_id,
            client_secret,
            authority: base_url("authority", self.authority.as_deref().unwrap_or(DEFAULT_AUTHORITY))?,
            graph_url: base_url("graphUrl", self.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH_URL))?,
            read_groups: self.read_groups.unwrap_or(true),
            page_size,
            retry,
            timeout: Duration::from_secs(timeout_seconds),
            user_mapping,
            group_mapping,
        })
    }
}

/// Ids end up in URL paths: only the characters tenant names and GUIDs use.
fn required_id(key: &str, value: String, example: &str) -> Result<String, ConnectorError> {
    let value = value.trim().to_owned();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
        return Err(invalid(format!("{key} {value:?} is not an id: give {example}")));
    }
    Ok(value)
}

/// An http(s) URL without query or trailing slash.
fn base_url(key: &str, text: &str) -> Result<String, ConnectorError> {
    let url = Url::parse(text).map_err(|error| invalid(format!("{key} {text:?} is not a URL: {error}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.query().is_some() || url.host_str().is_none() {
        return Err(invalid(format!("{key} {text:?} must be an https:// URL without a query")));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {

    use super::{AzureConfig, CLIENT_SECRET_KEYS, SecretSource};

    fn parse(text: &str) -> Result<AzureConfig, String> {
        AzureConfig::from_json(text).map_err(|error| error.to_string())
    }

    const MINIMAL: &str =
        r#"{"tenantId": "contoso.onmicrosoft.com", "clientId": "1111-2222", "clientSecretEnv": "AZ"}"#;

    #[test]
    fn fills_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.token_url(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(config.graph_url, "https://graph.microsoft.com/v1.0");
        assert_eq!((config.page_size, config.read_groups), (999, true));
        assert_eq!((config.retry.max_retries, config.retry.max_backoff.as_secs()), (8, 60));
        assert_eq!(config.client_secret, SecretSource::Env { name: "AZ".into(), keys: CLIENT_SECRET_KEYS });
        assert_eq!(config.user_mapping.property_of("userName"), Some("userPrincipalName"));
        assert_eq!(config.group_mapping.property_of("displayName"), Some("displayName"));
    }

    #[test]
    fn takes_local_urls_and_retry_limits() {
        let config = parse(
            r#"{"tenantId": "t", "clientId": "c", "clientSecretFile": "/s", "authority": "http://127.0.0.1:9/",
                "graphUrl": "http://127.0.0.1:9/v1.0/", "maxRetries": 2, "maxBackoffSeconds": 5, "readGroups": false}"#,
        )
        .unwrap();
        assert_eq!(config.token_url(), "http://127.0.0.1:9/t/oauth2/v2.0/token");
        assert_eq!(config.graph_url, "http://127.0.0.1:9/v1.0");
        assert_eq!((config.retry.max_retries, config.retry.max_backoff.as_secs()), (2, 5));
        assert!(!config.read_groups);
    }

    #[test]
    fn names_the_key_of_bad_input() {
        let cases = [
            (r#"{"tenantId": "t", "clientId": "c", "clientSecret": "x"}"#, "clientSecretEnv"),
            (
                r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "pagesize": 5}"#,
                "unknown field `pagesize`",
            ),
            (r#"{"tenantId": "t", "clientId": "c"}"#, "clientSecretFile"),
            (r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "clientSecretFile": "/f"}"#, "keep one"),
            (r#"{"tenantId": "a/b", "clientId": "c", "clientSecretEnv": "A"}"#, "tenantId"),
            (r#"{"tenantId": "t", "clientId": " ", "clientSecretEnv": "A"}"#, "clientId"),
            (r#"{"clientId": "c", "clientSecretEnv": "A"}"#, "missing field `tenantId`"),
            (r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "pageSize": 1000}"#, "pageSize"),
            (r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "graphUrl": "ftp://x"}"#, "graphUrl"),
            (r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "authority": "nope"}"#, "authority"),
            (
                r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "maxBackoffSeconds": 0}"#,
                "maxBackoffSeconds",
            ),
            (r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "maxRetries": -1}"#, "maxRetries"),
            (
                r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "userMapping": {"title": "jobTitle"}}"#,
                "userName",
            ),
            (
                r#"{"tenantId": "t", "clientId": "c", "clientSecretEnv": "A", "userMapping": {"userName": "a b"}}"#,
                "userMapping.userName",
            ),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}
