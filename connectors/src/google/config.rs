//! The connector's configuration: camelCase JSON, stored as the connector's config. The service
//! account's key is never part of it, only where to read it from (`keyFile` or `keyFileEnv`).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::mapping::{Mapping, default_group_mapping, default_user_mapping};
use crate::ConnectorError;
use crate::retry::RetryPolicy;

pub const DEFAULT_BASE_URL: &str = "https://admin.googleapis.com/admin/directory/v1";
const DEFAULT_CUSTOMER: &str = "my_customer";
/// users.list takes at most 500; groups.list and members.list at most 200.
const MAX_USER_PAGE: u32 = 500;
pub(super) const MAX_GROUP_PAGE: u32 = 200;
const DEFAULT_MEMBER_CONCURRENCY: usize = 8;
const MAX_MEMBER_CONCURRENCY: usize = 64;
const DEFAULT_TIMEOUT_SECONDS: u64 = 60;

/// Where the service account's JSON key is read, at the start of each run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    /// An environment variable holding the key file's path, or the key's JSON itself.
    Env(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct GoogleConfig {
    pub key: KeySource,
    /// The administrator the service account acts as (the JWT's `sub`).
    pub admin_email: String,
    pub customer: String,
    /// Lists one domain's users and groups instead of the whole customer's.
    pub domain: Option<String>,
    pub base_url: String,
    pub read_groups: bool,
    /// users.list page size.
    pub page_size: u32,
    /// Groups whose members are read at the same time.
    pub member_concurrency: usize,
    pub user_mapping: Mapping,
    pub group_mapping: Mapping,
    pub retry: RetryPolicy,
    pub timeout: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    key_file: Option<PathBuf>,
    key_file_env: Option<String>,
    admin_email: String,
    customer: Option<String>,
    domain: Option<String>,
    base_url: Option<String>,
    read_groups: Option<bool>,
    page_size: Option<u32>,
    member_concurrency: Option<usize>,
    user_mapping: Option<Map<String, Value>>,
    group_mapping: Option<Map<String, Value>>,
    max_retries: Option<u32>,
    max_backoff_seconds: Option<u64>,
    timeout_seconds: Option<u64>,
}

pub(super) fn invalid(message: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Source(format!("Google connector configuration: {message}"))
}

impl GoogleConfig {
    pub fn from_json(text: &str) -> Result<Self, ConnectorError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|error| {
            let text = error.to_string();
            let hint = if text.contains("`privateKey`") || text.contains("`key`") || text.contains("`private_key`") {
                " (the key is never stored in the configuration: give its file in keyFile, or an environment \
                 variable in keyFileEnv)"
            } else {
                ""
            };
            invalid(format!("{text}{hint}"))
        })?;
        raw.resolve()
    }

    pub fn from_value(value: Value) -> Result<Self, ConnectorError> {
        Self::from_json(&value.to_string())
    }
}

impl RawConfig {
    fn resolve(self) -> Result<GoogleConfig, ConnectorError> {
        let key = match (self.key_file, self.key_file_env) {
            (Some(_), Some(_)) => return Err(invalid("both keyFile and keyFileEnv are set: keep one")),
            (None, None) => {
                return Err(invalid(
                    "no service account key: set keyFile (the JSON key's path) or keyFileEnv (an environment \
                     variable holding its path or its JSON)",
                ));
            }
            (Some(path), None) if path.as_os_str().is_empty() => return Err(invalid("keyFile is empty")),
            (Some(path), None) => KeySource::File(path),
            (None, Some(name)) if name.trim().is_empty() => {
                return Err(invalid("keyFileEnv is empty: name a variable"));
            }
            (None, Some(name)) => KeySource::Env(name),
        };
        let admin_email = self.admin_email.trim().to_owned();
        if !is_email(&admin_email) {
            return Err(invalid(format!(
                "adminEmail {admin_email:?} is not an email address: give the administrator the service account acts \
                 as, e.g. admin@example.com"
            )));
        }
        let customer = self.customer.unwrap_or_else(|| DEFAULT_CUSTOMER.to_owned());
        if customer.trim().is_empty() {
            return Err(invalid("customer is empty: leave it out for my_customer, or give the customer id"));
        }
        let domain = self.domain.map(|domain| domain.trim().to_owned());
        if domain.as_ref().is_some_and(|domain| domain.is_empty() || domain.contains(['/', '@', ' '])) {
            return Err(invalid("domain must be a domain name such as example.com"));
        }
        let base_url = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(invalid(format!(
                "baseUrl {base_url:?} must start with https:// (the default is {DEFAULT_BASE_URL})"
            )));
        }
        let page_size = self.page_size.unwrap_or(MAX_USER_PAGE);
        if !(1..=MAX_USER_PAGE).contains(&page_size) {
            return Err(invalid(format!("pageSize must be between 1 and {MAX_USER_PAGE} (the default)")));
        }
        let member_concurrency = self.member_concurrency.unwrap_or(DEFAULT_MEMBER_CONCURRENCY);
        if !(1..=MAX_MEMBER_CONCURRENCY).contains(&member_concurrency) {
            return Err(invalid(format!(
                "memberConcurrency must be between 1 and {MAX_MEMBER_CONCURRENCY} (the default is \
                 {DEFAULT_MEMBER_CONCURRENCY})"
            )));
        }
        let user_mapping = match self.user_mapping {
            Some(map) => Mapping::from_json("userMapping", map)?,
            None => default_user_mapping(),
        };
        if !user_mapping.maps("userName") {
            return Err(invalid("userMapping has no userName: map userName to a field such as primaryEmail"));
        }
        let group_mapping = match self.group_mapping {
            Some(map) => Mapping::from_json("groupMapping", map)?,
            None => default_group_mapping(),
        };
        if !group_mapping.maps("displayName") {
            return Err(invalid("groupMapping has no displayName: map displayName to a field such as name"));
        }
        let defaults = RetryPolicy::default();
        let max_backoff = self.max_backoff_seconds.map_or(defaults.max_backoff, Duration::from_secs);
        if max_backoff.is_zero() {
            return Err(invalid("maxBackoffSeconds must be at least 1 (the default is 60)"));
        }
        let retry = RetryPolicy {
            max_retries: self.max_retries.unwrap_or(defaults.max_retries),
            base_backoff: defaults.base_backoff.min(max_backoff),
            max_backoff,
        };
        let timeout_seconds = self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if timeout_seconds == 0 {
            return Err(invalid("timeoutSeconds must be at least 1 (the default is 60)"));
        }
        Ok(GoogleConfig {
            key,
            admin_email,
            customer,
            domain,
            base_url: base_url.trim_end_matches('/').to_owned(),
            read_groups: self.read_groups.unwrap_or(true),
            page_size,
            member_concurrency,
            user_mapping,
            group_mapping,
            retry,
            timeout: Duration::from_secs(timeout_seconds),
        })
    }
}

fn is_email(text: &str) -> bool {
    matches!(text.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !text.contains(' '))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{DEFAULT_BASE_URL, GoogleConfig, KeySource};

    fn parse(text: &str) -> Result<GoogleConfig, String> {
        GoogleConfig::from_json(text).map_err(|error| error.to_string())
    }

    #[test]
    fn fills_the_defaults() {
        let config = parse(r#"{"keyFile": "/etc/scimd/google.json", "adminEmail": "admin@example.com"}"#).unwrap();
        assert_eq!(config.key, KeySource::File("/etc/scimd/google.json".into()));
        assert_eq!((config.customer.as_str(), config.domain.as_deref()), ("my_customer", None));
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!((config.page_size, config.member_concurrency, config.read_groups), (500, 8, true));
        assert_eq!((config.retry.max_retries, config.retry.max_backoff), (8, Duration::from_secs(60)));
        assert_eq!(config.user_mapping.source_of("userName"), Some("primaryEmail"));
        assert_eq!(config.user_mapping.source_of("active"), Some("!suspended"));
        assert_eq!(config.group_mapping.source_of("externalId"), Some("email"));
    }

    #[test]
    fn reads_the_optional_keys() {
        let config = parse(
            r#"{"keyFileEnv": "GOOGLE_KEY", "adminEmail": " admin@example.com ", "domain": "example.com",
                "baseUrl": "http://127.0.0.1:9/admin/directory/v1/", "maxRetries": 2, "maxBackoffSeconds": 5,
                "memberConcurrency": 2, "pageSize": 10, "readGroups": false}"#,
        )
        .unwrap();
        assert_eq!(config.key, KeySource::Env("GOOGLE_KEY".into()));
        assert_eq!(config.admin_email, "admin@example.com");
        assert_eq!(config.domain.as_deref(), Some("example.com"));
        assert_eq!(config.base_url, "http://127.0.0.1:9/admin/directory/v1");
        assert_eq!((config.retry.max_retries, config.retry.max_backoff), (2, Duration::from_secs(5)));
        assert_eq!((config.member_concurrency, config.page_size, config.read_groups), (2, 10, false));
    }

    #[test]
    fn names_the_key_at_fault() {
        let cases = [
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "custmer": "C1"}"#, "unknown field `custmer`"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "privateKey": "x"}"#, "keyFileEnv"),
            (r#"{"adminEmail": "a@example.com"}"#, "keyFile"),
            (r#"{"keyFile": "/k", "keyFileEnv": "K", "adminEmail": "a@example.com"}"#, "keep one"),
            (r#"{"keyFileEnv": " ", "adminEmail": "a@example.com"}"#, "keyFileEnv is empty"),
            (r#"{"keyFile": "/k"}"#, "missing field `adminEmail`"),
            (r#"{"keyFile": "/k", "adminEmail": "admin"}"#, "adminEmail"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "customer": ""}"#, "customer"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "domain": "a/b"}"#, "domain"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "baseUrl": "ftp://x"}"#, "baseUrl"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "pageSize": 501}"#, "pageSize"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "memberConcurrency": 0}"#, "memberConcurrency"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "maxBackoffSeconds": 0}"#, "maxBackoffSeconds"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "timeoutSeconds": 0}"#, "timeoutSeconds"),
            (r#"{"keyFile": "/k", "adminEmail": "a@example.com", "maxRetries": -1}"#, "invalid value"),
            (
                r#"{"keyFile": "/k", "adminEmail": "a@example.com", "userMapping": {"displayName": "name.fullName"}}"#,
                "userMapping has no userName",
            ),
            (
                r#"{"keyFile": "/k", "adminEmail": "a@example.com", "groupMapping": {"displayName": 1}}"#,
                "groupMapping.displayName",
            ),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(message.starts_with("Google connector configuration: "), "{message}");
        }
    }
}
