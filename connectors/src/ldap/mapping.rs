//! Which LDAP attribute fills which SCIM path. A configured mapping replaces the default whole,
//! so a default can be dropped by leaving it out.

use serde_json::{Map, Value};

use super::config::Flavor;
use crate::ConnectorError;

pub const EMAIL_VALUE_PATH: &str = r#"emails[type eq "work"].value"#;
pub const EMAIL_PRIMARY_PATH: &str = r#"emails[type eq "work"].primary"#;
const PHONE_VALUE_PATH: &str = r#"phoneNumbers[type eq "work"].value"#;

/// SCIM path → LDAP attribute, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    entries: Vec<(String, String)>,
}

impl Mapping {
    fn of(entries: &[(&str, &str)]) -> Self {
        Self { entries: entries.iter().map(|&(path, attribute)| (path.to_owned(), attribute.to_owned())).collect() }
    }

    /// `key` is the configuration key the map came from, for the error messages.
    pub(super) fn from_json(key: &str, map: Map<String, Value>) -> Result<Self, ConnectorError> {
        let mut entries = Vec::with_capacity(map.len());
        for (path, attribute) in map {
            let attribute = match attribute {
                Value::String(attribute) if is_attribute_name(&attribute) => attribute,
                other => {
                    return Err(ConnectorError::Source(format!(
                        "LDAP connector configuration: {key}.{path} must name an LDAP attribute (letters, digits and \
                         hyphens, e.g. \"mail\"), not {other}"
                    )));
                }
            };
            if path.trim().is_empty() {
                return Err(ConnectorError::Source(format!(
                    "LDAP connector configuration: {key} maps the attribute {attribute} to an empty SCIM path"
                )));
            }
            entries.push((path, attribute));
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(path, attribute)| (path.as_str(), attribute.as_str()))
    }

    pub fn maps(&self, path: &str) -> bool {
        self.attribute_of(path).is_some()
    }

    pub fn attribute_of(&self, path: &str) -> Option<&str> {
        self.entries().find(|&(mapped, _)| mapped == path).map(|(_, attribute)| attribute)
    }
}

fn is_attribute_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

pub fn default_user_mapping(flavor: Flavor) -> Mapping {
    match flavor {
        Flavor::OpenLdap => Mapping::of(&[
            ("userName", "uid"),
            ("displayName", "cn"),
            ("name.givenName", "givenName"),
            ("name.familyName", "sn"),
            (EMAIL_VALUE_PATH, "mail"),
            ("title", "title"),
            (PHONE_VALUE_PATH, "telephoneNumber"),
        ]),
        Flavor::ActiveDirectory => Mapping::of(&[
            ("userName", "userPrincipalName"),
            ("displayName", "displayName"),
            ("name.givenName", "givenName"),
            ("name.familyName", "sn"),
            (EMAIL_VALUE_PATH, "mail"),
            ("title", "title"),
            (PHONE_VALUE_PATH, "telephoneNumber"),
            ("active", "userAccountControl"),
        ]),
    }
}

pub fn default_group_mapping() -> Mapping {
    Mapping::of(&[("displayName", "cn")])
}
