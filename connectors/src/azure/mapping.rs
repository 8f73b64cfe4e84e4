//! Which Graph property fills which SCIM path. A property is a name (`jobTitle`) or a dotted path
//! into an object (`signInActivity.lastSignInDateTime`); `manager` names the manager's user record
//! by its Graph id, which the engine stores as that user's scimd id. A configured mapping replaces
//! the default whole, so a default can be dropped by leaving it out.

use serde_json::{Map, Value};

use super::config::invalid;
use crate::ConnectorError;

pub const EMAIL_VALUE_PATH: &str = r#"emails[type eq "work"].value"#;
pub const EMAIL_PRIMARY_PATH: &str = r#"emails[type eq "work"].primary"#;
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The property holding the manager, read from `manager@delta` (delta) or `manager` (`$expand`).
pub const MANAGER_PROPERTY: &str = "manager";

/// SCIM path → Graph property, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    entries: Vec<(String, String)>,
}

impl Mapping {
    fn of(entries: &[(&str, &str)]) -> Self {
        Self { entries: entries.iter().map(|&(path, property)| (path.to_owned(), property.to_owned())).collect() }
    }

    /// `key` is the configuration key the map came from, for the error messages.
    pub(super) fn from_json(key: &str, map: Map<String, Value>) -> Result<Self, ConnectorError> {
        let mut entries = Vec::with_capacity(map.len());
        for (path, property) in map {
            let property = match property {
                Value::String(property) if is_property_path(&property) => property,
                other => {
                    return Err(invalid(format!(
                        "{key}.{path} must name a Graph property (letters and digits, dots into objects, e.g. \
                         \"jobTitle\" or \"signInActivity.lastSignInDateTime\"), not {other}"
                    )));
                }
            };
            if path.trim().is_empty() {
                return Err(invalid(format!("{key} maps the property {property} to an empty SCIM path")));
            }
            entries.push((path, property));
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(path, property)| (path.as_str(), property.as_str()))
    }

    pub fn maps(&self, path: &str) -> bool {
        self.property_of(path).is_some()
    }

    pub fn property_of(&self, path: &str) -> Option<&str> {
        self.entries().find(|&(mapped, _)| mapped == path).map(|(_, property)| property)
    }

    /// The top-level properties to `$select`, `id` first, each once.
    pub fn select(&self, extra: &[&str]) -> Vec<String> {
        let mut names = vec!["id".to_owned()];
        let tops = self.entries().map(|(_, property)| top_level(property)).chain(extra.iter().copied());
        for name in tops {
            if !names.iter().any(|known| known == name) {
                names.push(name.to_owned());
            }
        }
        names
    }
}

/// `signInActivity` of `signInActivity.lastSignInDateTime`.
pub fn top_level(property: &str) -> &str {
    property.split('.').next().unwrap_or(property)
}

fn is_property_path(name: &str) -> bool {
    !name.is_empty() && name.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub fn default_user_mapping() -> Mapping {
    let department = format!("{ENTERPRISE}:department");
    let employee_number = format!("{ENTERPRISE}:employeeNumber");
    let manager = format!("{ENTERPRISE}:manager.value");
    Mapping::of(&[
        ("userName", "userPrincipalName"),
        ("active", "accountEnabled"),
        ("displayName", "displayName"),
        ("name.givenName", "givenName"),
        ("name.familyName", "surname"),
        (EMAIL_VALUE_PATH, "mail"),
        ("title", "jobTitle"),
        (&department, "department"),
        (&employee_number, "employeeId"),
        (r#"phoneNumbers[type eq "mobile"].value"#, "mobilePhone"),
        (&manager, MANAGER_PROPERTY),
        (crate::LAST_ACCESS_PATH, "signInActivity.lastSignInDateTime"),
    ])
}

pub fn default_group_mapping() -> Mapping {
    Mapping::of(&[("displayName", "displayName")])
}

#[cfg(test)]
mod tests {
    use super::{default_user_mapping, is_property_path};

    #[test]
    fn selects_top_level_properties_once() {
        let select = default_user_mapping().select(&["displayName"]);
        assert_eq!(select[0], "id");
        assert!(select.contains(&"signInActivity".to_owned()) && select.contains(&"manager".to_owned()));
        assert_eq!(select.iter().filter(|name| *name == "displayName").count(), 1);
    }

    #[test]
    fn property_paths_are_names_joined_by_dots() {
        assert!(is_property_path("signInActivity.lastSignInDateTime"));
        for bad in ["", "a..b", "a b", "$expand", ".a"] {
            assert!(!is_property_path(bad), "{bad}");
        }
    }
}
