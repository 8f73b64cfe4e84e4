//! The connector's configuration: camelCase JSON, stored as the connector's config. Defaults
//! depend on the `flavor`; the bind password is never part of it, only where to read it from.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::mapping::{Mapping, default_group_mapping, default_user_mapping};
use crate::ConnectorError;
use crate::secret::{SecretKeys, SecretSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Flavor {
    #[default]
    #[serde(rename = "openldap")]
    OpenLdap,
    #[serde(rename = "activeDirectory")]
    ActiveDirectory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    Sub,
    One,
    Base,
}

/// Where entries are searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSpec {
    pub base: String,
    pub filter: String,
    pub scope: Scope,
}

/// The settings keys of the bind password's source.
pub const BIND_PASSWORD_KEYS: SecretKeys =
    SecretKeys { env: "bindPasswordEnv", file: "bindPasswordFile", what: "bind password" };

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub dn: String,
    pub password: SecretSource,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LdapConfig {
    pub url: String,
    pub start_tls: bool,
    pub tls_ca_file: Option<PathBuf>,
    pub flavor: Flavor,
    /// None binds anonymously.
    pub bind: Option<Bind>,
    pub users: SearchSpec,
    /// None reads no groups.
    pub groups: Option<SearchSpec>,
    pub page_size: u32,
    pub key_attribute: String,
    pub user_mapping: Mapping,
    pub group_mapping: Mapping,
    pub timeout: Duration,
}

const DEFAULT_PAGE_SIZE: u32 = 500;
const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    url: String,
    #[serde(default)]
    start_tls: bool,
    tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    flavor: Flavor,
    bind_dn: Option<String>,
    bind_password_env: Option<String>,
    bind_password_file: Option<PathBuf>,
    users: RawSearch,
    groups: Option<RawSearch>,
    page_size: Option<u32>,
    key_attribute: Option<String>,
    user_mapping: Option<Map<String, Value>>,
    group_mapping: Option<Map<String, Value>>,
    timeout_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSearch {
    base: String,
    filter: Option<String>,
    #[serde(default)]
    scope: Scope,
}

fn invalid(message: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Source(format!("LDAP connector configuration: {message}"))
}

impl LdapConfig {
    pub fn from_json(text: &str) -> Result<Self, ConnectorError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|error| {
            let hint = if error.to_string().contains("`bindPassword`") {
                " (the password is never stored in the configuration: name an environment variable in \
                 bindPasswordEnv or a file in bindPasswordFile)"
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
}

impl RawConfig {
    fn resolve(self) -> Result<LdapConfig, ConnectorError> {
        let flavor = self.flavor;
        check_url(&self.url, self.start_tls)?;
        let bind = resolve_bind(self.bind_dn, self.bind_password_env, self.bind_password_file)?;
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page_size == 0 {
            return Err(invalid("pageSize must be at least 1 (the default is 500)"));
        }
        let timeout_seconds = self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if timeout_seconds == 0 {
            return Err(invalid("timeoutSeconds must be at least 1 (the default is 30)"));
        }
        let key_attribute = self.key_attribute.unwrap_or_else(|| default_key_attribute(flavor).to_owned());
        if key_attribute.trim().is_empty() {
            return Err(invalid("keyAttribute is empty: name the attribute that never changes for an entry"));
        }
        let user_mapping = match self.user_mapping {
            Some(map) => Mapping::from_json("userMapping", map)?,
            None => default_user_mapping(flavor),
        };
        if !user_mapping.maps("userName") {
            return Err(invalid("userMapping has no userName: map userName to an attribute such as uid"));
        }
        let group_mapping = match self.group_mapping {
            Some(map) => Mapping::from_json("groupMapping", map)?,
            None => default_group_mapping(),
        };
        Ok(LdapConfig {
            url: self.url,
            start_tls: self.start_tls,
            tls_ca_file: self.tls_ca_file,
            flavor,
            bind,
            users: self.users.resolve("users", default_user_filter(flavor))?,
            groups: self.groups.map(|groups| groups.resolve("groups", default_group_filter(flavor))).transpose()?,
            page_size,
            key_attribute,
            user_mapping,
            group_mapping,
            timeout: Duration::from_secs(timeout_seconds),
        })
    }
}

impl RawSearch {
    fn resolve(self, key: &str, default_filter: &str) -> Result<SearchSpec, ConnectorError> {
        if self.base.trim().is_empty() {
            return Err(invalid(format!(
                "{key}.base is empty: give the DN to search under, e.g. ou=people,dc=example,dc=com"
            )));
        }
        let filter = self.filter.unwrap_or_else(|| default_filter.to_owned());
        let filter = filter.trim();
        if !(filter.starts_with('(') && filter.ends_with(')')) {
            return Err(invalid(format!("{key}.filter must be an LDAP filter in parentheses, e.g. {default_filter}")));
        }
        Ok(SearchSpec { base: self.base, filter: filter.to_owned(), scope: self.scope })
    }
}

fn check_url(url: &str, start_tls: bool) -> Result<(), ConnectorError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("ldaps://") {
        if start_tls {
            return Err(invalid("startTls is for ldap:// URLs; an ldaps:// URL is TLS already: drop one of them"));
        }
        Ok(())
    } else if lower.starts_with("ldap://") {
        Ok(())
    } else {
        Err(invalid(format!("url {url:?} must start with ldap:// or ldaps://, e.g. ldaps://ldap.example.com:636")))
    }
}

fn resolve_bind(
    dn: Option<String>,
    env: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<Bind>, ConnectorError> {
    let password = SecretSource::from_settings(BIND_PASSWORD_KEYS, env, file).map_err(invalid)?;
    match (dn, password) {
        (Some(dn), Some(password)) => Ok(Some(Bind { dn, password })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(
            "bindDn is set but no password source: set bindPasswordEnv (an environment variable's name) or \
             bindPasswordFile (a file holding the password)",
        )),
        (None, Some(_)) => Err(invalid("a bind password source is set without bindDn: set bindDn too")),
    }
}

fn default_key_attribute(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenLdap => "entryUUID",
        Flavor::ActiveDirectory => super::ad::OBJECT_GUID,
    }
}

fn default_user_filter(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenLdap => "(objectClass=inetOrgPerson)",
        Flavor::ActiveDirectory => "(&(objectCategory=person)(objectClass=user))",
    }
}

fn default_group_filter(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenLdap => "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
        Flavor::ActiveDirectory => "(objectClass=group)",
    }
}

#[cfg(test)]
mod tests {

    use super::{BIND_PASSWORD_KEYS, Flavor, LdapConfig, Scope, SecretSource};

    fn parse(text: &str) -> Result<LdapConfig, String> {
        LdapConfig::from_json(text).map_err(|error| error.to_string())
    }

    const MINIMAL: &str = r#"{"url": "ldap://127.0.0.1:389", "users": {"base": "ou=people,dc=example,dc=com"}}"#;

    #[test]
    fn fills_openldap_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.flavor, Flavor::OpenLdap);
        assert_eq!(config.users.filter, "(objectClass=inetOrgPerson)");
        assert_eq!(config.users.scope, Scope::Sub);
        assert_eq!(config.groups, None);
        assert_eq!((config.page_size, config.key_attribute.as_str()), (500, "entryUUID"));
        assert_eq!(config.timeout.as_secs(), 30);
        assert_eq!(config.bind, None);
        assert!(config.user_mapping.maps("userName"));
    }

    #[test]
    fn fills_active_directory_defaults() {
        let config = parse(
            r#"{"url": "ldaps://dc.example.com", "flavor": "activeDirectory", "bindDn": "CN=sync,DC=example,DC=com",
                "bindPasswordEnv": "AD_PASSWORD", "users": {"base": "DC=example,DC=com", "scope": "one"},
                "groups": {"base": "DC=example,DC=com"}}"#,
        )
        .unwrap();
        assert_eq!(config.key_attribute, "objectGUID");
        assert_eq!(config.users.scope, Scope::One);
        assert_eq!(config.groups.unwrap().filter, "(objectClass=group)");
        assert_eq!(
            config.bind.unwrap().password,
            SecretSource::Env { name: "AD_PASSWORD".into(), keys: BIND_PASSWORD_KEYS }
        );
        assert_eq!(config.user_mapping.attribute_of("active"), Some("userAccountControl"));
    }

    #[test]
    fn names_unknown_and_misused_keys() {
        let unknown = parse(r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "pagesize": 10}"#).unwrap_err();
        assert!(unknown.contains("unknown field `pagesize`"), "{unknown}");
        let inline = parse(r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "bindPassword": "x"}"#).unwrap_err();
        assert!(inline.contains("bindPasswordEnv"), "{inline}");
        let nested = parse(r#"{"url": "ldap://h", "users": {"base": "dc=x", "filtr": "(a=b)"}}"#).unwrap_err();
        assert!(nested.contains("`filtr`"), "{nested}");
    }

    #[test]
    fn refuses_inconsistent_values() {
        let cases = [
            (r#"{"url": "http://h", "users": {"base": "dc=x"}}"#, "ldap:// or ldaps://"),
            (r#"{"url": "ldaps://h", "startTls": true, "users": {"base": "dc=x"}}"#, "startTls"),
            (r#"{"url": "ldap://h", "bindDn": "cn=a", "users": {"base": "dc=x"}}"#, "bindPasswordEnv"),
            (
                r#"{"url": "ldap://h", "bindDn": "cn=a", "bindPasswordEnv": "A", "bindPasswordFile": "/f", "users": {"base": "dc=x"}}"#,
                "keep one",
            ),
            (r#"{"url": "ldap://h", "users": {"base": " "}}"#, "users.base"),
            (r#"{"url": "ldap://h", "users": {"base": "dc=x", "filter": "uid=*"}}"#, "users.filter"),
            (r#"{"url": "ldap://h", "users": {"base": "dc=x", "scope": "tree"}}"#, "unknown variant `tree`"),
            (r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "pageSize": 0}"#, "pageSize"),
            (r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "userMapping": {"displayName": "cn"}}"#, "userName"),
            (
                r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "userMapping": {"userName": 3}}"#,
                "userMapping.userName",
            ),
            (r#"{"url": "ldap://h", "users": {"base": "dc=x"}, "flavor": "ad"}"#, "unknown variant `ad`"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err();
            assert!(message.contains(expected), "{text}: {message}");
        }
    }
}
