//! Which field of Google's JSON fills which SCIM path. A source is a dotted path into the user or
//! group resource (`name.givenName`); a list is entered with a selector, `[primary]` (the element
//! marked primary, else the first) or `[field=value]` (the first element whose field has the
//! value), and a list without one reads as `[primary]`. A leading `!` negates a boolean
//! (`!suspended` for `active`). A configured mapping replaces the default whole.

use serde_json::{Map, Value};

use crate::{ConnectorError, LAST_ACCESS_PATH};

pub const EMAIL_VALUE_PATH: &str = r#"emails[type eq "work"].value"#;
pub const EMAIL_PRIMARY_PATH: &str = r#"emails[type eq "work"].primary"#;
const PHONE_VALUE_PATH: &str = r#"phoneNumbers[type eq "work"].value"#;
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// What Google sends for a time that never happened (a user who never signed in).
const NEVER: &str = "1970-01-01T00:00:00";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Primary,
    Equals(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    name: String,
    selector: Option<Selector>,
}

/// A parsed source expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    text: String,
    negate: bool,
    steps: Vec<Step>,
}

impl Source {
    fn parse(text: &str) -> Result<Self, String> {
        let (negate, path) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let steps = path.split('.').map(parse_step).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { text: text.to_owned(), negate, steps })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value in `resource`; None when it is absent, null, empty or Google's "never".
    pub fn read(&self, resource: &Value) -> Option<Value> {
        let mut at = resource;
        for step in &self.steps {
            at = at.get(&step.name)?;
            if let Value::Array(elements) = at {
                at = select(elements, step.selector.as_ref().unwrap_or(&Selector::Primary))?;
            }
        }
        match at {
            Value::Bool(flag) => Some(Value::Bool(*flag != self.negate)),
            _ if self.negate => None,
            Value::String(text) if text.is_empty() || text.starts_with(NEVER) => None,
            Value::String(_) => Some(at.clone()),
            Value::Number(number) => Some(Value::String(number.to_string())),
            _ => None,
        }
    }
}

fn select<'v>(elements: &'v [Value], selector: &Selector) -> Option<&'v Value> {
    match selector {
        Selector::Primary => {
            elements.iter().find(|element| element.get("primary") == Some(&Value::Bool(true))).or(elements.first())
        }
        Selector::Equals(field, value) => {
            elements.iter().find(|element| element.get(field).and_then(Value::as_str) == Some(value.as_str()))
        }
    }
}

fn parse_step(step: &str) -> Result<Step, String> {
    let (name, selector) = match step.split_once('[') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix(']').ok_or_else(|| format!("{step:?} opens a [ it does not close"))?;
            let selector = match inner.split_once('=') {
                None if inner == "primary" => Selector::Primary,
                Some((field, value)) if is_name(field) && !value.is_empty() => {
                    Selector::Equals(field.to_owned(), value.to_owned())
                }
                _ => return Err(format!("[{inner}] must be [primary] or [field=value], e.g. [type=work]")),
            };
            (name, Some(selector))
        }
        None => (step, None),
    };
    if !is_name(name) {
        return Err(format!("{name:?} is not a field name (letters, digits and _)"));
    }
    Ok(Step { name: name.to_owned(), selector })
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// SCIM path → source, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    entries: Vec<(String, Source)>,
}

impl Mapping {
    fn of(entries: &[(&str, &str)]) -> Self {
        let entries = entries
            .iter()
            .map(|&(path, source)| (path.to_owned(), Source::parse(source).expect("the defaults parse")))
            .collect();
        Self { entries }
    }

    /// `key` is the configuration key the map came from, for the error messages.
    pub(super) fn from_json(key: &str, map: Map<String, Value>) -> Result<Self, ConnectorError> {
        let mut entries = Vec::with_capacity(map.len());
        for (path, source) in map {
            let invalid =
                |why: String| ConnectorError::Source(format!("Google connector configuration: {key}.{path}: {why}"));
            let Value::String(source) = source else {
                return Err(invalid(format!("must name a Google field such as \"name.givenName\", not {source}")));
            };
            if path.trim().is_empty() {
                return Err(invalid(format!("maps {source} to an empty SCIM path")));
            }
            let source = Source::parse(&source).map_err(invalid)?;
            entries.push((path, source));
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.entries.iter().map(|(path, source)| (path.as_str(), source))
    }

    pub fn maps(&self, path: &str) -> bool {
        self.source_of(path).is_some()
    }

    pub fn source_of(&self, path: &str) -> Option<&str> {
        self.entries().find(|&(mapped, _)| mapped == path).map(|(_, source)| source.text())
    }
}

pub fn default_user_mapping() -> Mapping {
    let department = format!("{ENTERPRISE}:department");
    let employee_number = format!("{ENTERPRISE}:employeeNumber");
    Mapping::of(&[
        ("userName", "primaryEmail"),
        ("displayName", "name.fullName"),
        ("name.givenName", "name.givenName"),
        ("name.familyName", "name.familyName"),
        (EMAIL_VALUE_PATH, "primaryEmail"),
        ("active", "!suspended"),
        ("title", "organizations[primary].title"),
        (department.as_str(), "organizations[primary].department"),
        (employee_number.as_str(), "externalIds[type=organization].value"),
        (PHONE_VALUE_PATH, "phones[type=work].value"),
        (LAST_ACCESS_PATH, "lastLoginTime"),
    ])
}

pub fn default_group_mapping() -> Mapping {
    Mapping::of(&[("displayName", "name"), ("externalId", "email")])
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::{Mapping, Source};

    fn read(source: &str, resource: serde_json::Value) -> Option<serde_json::Value> {
        Source::parse(source).unwrap().read(&resource)
    }

    #[test]
    fn reads_paths_lists_and_negations() {
        let user = json!({
            "primaryEmail": "ana@example.com",
            "name": {"givenName": "Ana", "familyName": ""},
            "suspended": true,
            "organizations": [{"title": "Intern"}, {"title": "Engineer", "primary": true}],
            "externalIds": [{"type": "custom", "value": "x"}, {"type": "organization", "value": 4711}],
            "lastLoginTime": "1970-01-01T00:00:00.000Z",
        });
        assert_eq!(read("primaryEmail", user.clone()), Some(json!("ana@example.com")));
        assert_eq!(read("name.givenName", user.clone()), Some(json!("Ana")));
        assert_eq!(read("name.familyName", user.clone()), None, "empty is no value");
        assert_eq!(read("!suspended", user.clone()), Some(json!(false)));
        assert_eq!(read("suspended", user.clone()), Some(json!(true)));
        assert_eq!(read("organizations[primary].title", user.clone()), Some(json!("Engineer")));
        assert_eq!(read("organizations.title", user.clone()), Some(json!("Engineer")));
        assert_eq!(read("externalIds[type=organization].value", user.clone()), Some(json!("4711")));
        assert_eq!(read("phones[type=work].value", user.clone()), None);
        assert_eq!(read("lastLoginTime", user.clone()), None, "Google's epoch zero means never");
        assert_eq!(
            read("lastLoginTime", json!({"lastLoginTime": "2026-11-02T08:15:00.000Z"})),
            Some(json!("2026-11-02T08:15:00.000Z"))
        );
        assert_eq!(read("!primaryEmail", user), None, "only booleans negate");
        let first = json!({"organizations": [{"title": "Intern"}, {"title": "Engineer"}]});
        assert_eq!(read("organizations[primary].title", first), Some(json!("Intern")), "no primary: the first");
    }

    #[test]
    fn names_the_mapping_entry_at_fault() {
        let cases = [
            (json!({"title": "organizations[primary.title"}), "userMapping.title", "does not close"),
            (json!({"title": "organizations[kind].title"}), "userMapping.title", "[primary] or [field=value]"),
            (json!({"title": "organizations..title"}), "userMapping.title", "not a field name"),
            (json!({"title": true}), "userMapping.title", "must name a Google field"),
            (json!({"": "primaryEmail"}), "userMapping.", "empty SCIM path"),
        ];
        for (map, key, why) in cases {
            let map: Map<String, serde_json::Value> = serde_json::from_value(map).unwrap();
            let error = Mapping::from_json("userMapping", map).unwrap_err().to_string();
            assert!(error.contains(key) && error.contains(why), "{error}");
        }
    }
}
