//! Resource schemas in the RFC 7643 §7 format, and the registry that resolves attribute paths against
//! them. Names resolve case-insensitively (RFC 7643 §2.1); the registry answers with the canonical name.

use serde::{Deserialize, Serialize};

use crate::filter::AttrPath;

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SCIMD_USER: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7 "attributes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema resource (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDef {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => CORE_USER,
            ResourceKind::Group => CORE_GROUP,
        }
    }
}

/// A resource type's schema and its extensions, plus the attributes every resource has (`id`,
/// `externalId`, `meta`; RFC 7643 §3.1), which resolve like core attributes but are not published in
/// the core schema.
#[derive(Debug, Clone)]
pub struct ResourceSchema {
    pub kind: ResourceKind,
    pub common: Vec<AttributeDef>,
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
}

/// Where an attribute path lands: which schema, which attribute, which sub-attribute.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// `None` for the core schema, the extension's URN otherwise (its key in the document).
    pub extension: Option<&'a str>,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// The attribute that holds the value being compared: the sub-attribute if any.
    pub fn leaf(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The canonical dotted path inside the document, e.g. `["name", "familyName"]` or
    /// `["urn:…:enterprise:2.0:User", "manager", "value"]`.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys = Vec::with_capacity(3);
        keys.extend(self.extension);
        keys.push(self.attr.name.as_str());
        keys.extend(self.sub.map(|s| s.name.as_str()));
        keys
    }
}

impl ResourceSchema {
    /// All schemas of this resource type: core first.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// A common or core attribute.
    pub fn core_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.common.iter().find(|a| a.name.eq_ignore_ascii_case(name)).or_else(|| self.core.attribute(name))
    }

    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves `[urn:]name[.sub]`. A name without URN is looked up in the core schema first, then in
    /// the extensions in order.
    pub fn resolve(&self, path: &AttrPath) -> Result<Resolved<'_>, String> {
        let (extension, attr) = match &path.urn {
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => (None, self.core_attribute(&path.name)),
            Some(urn) => match self.extension(urn) {
                Some(ext) => (Some(ext.id.as_str()), ext.attribute(&path.name)),
                None => return Err(format!("unknown schema \"{urn}\" in attribute path \"{path}\"")),
            },
            None => match self.core_attribute(&path.name) {
                Some(attr) => (None, Some(attr)),
                None => self
                    .extensions
                    .iter()
                    .find_map(|ext| ext.attribute(&path.name).map(|a| (Some(ext.id.as_str()), Some(a))))
                    .unwrap_or((None, None)),
            },
        };
        let attr =
            attr.ok_or_else(|| format!("unknown attribute \"{path}\" for resource type {}", self.kind.name()))?;
        let sub = match &path.sub {
            None => None,
            Some(sub) => Some(
                attr.sub_attribute(sub)
                    .ok_or_else(|| format!("unknown sub-attribute \"{sub}\" of \"{}\" in \"{path}\"", attr.name))?,
            ),
        };
        Ok(Resolved { extension, attr, sub })
    }
}

/// All schemas the server knows: built-ins plus custom extensions declared at start-up.
#[derive(Debug, Clone)]
pub struct Registry {
    pub user: ResourceSchema,
    pub group: ResourceSchema,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema {0} is not valid RFC 7643 §7 JSON: {1}")]
    Invalid(String, serde_json::Error),
    #[error("schema {0} is declared twice")]
    Duplicate(String),
    #[error("schema {id}: the id must be a URN (\"urn:…\")")]
    NotUrn { id: String },
}

fn builtin(json: &str) -> SchemaDef {
    serde_json::from_str(json).expect("built-in schemas are valid")
}

impl Registry {
    pub fn builtin() -> Registry {
        let common = builtin(include_str!("builtin/common.json")).attributes;
        Registry {
            user: ResourceSchema {
                kind: ResourceKind::User,
                common: common.clone(),
                core: builtin(include_str!("builtin/user.json")),
                extensions: vec![
                    builtin(include_str!("builtin/enterprise_user.json")),
                    builtin(include_str!("builtin/scimd_user.json")),
                ],
            },
            group: ResourceSchema {
                kind: ResourceKind::Group,
                common,
                core: builtin(include_str!("builtin/group.json")),
                extensions: vec![],
            },
        }
    }

    /// Adds a custom extension schema (RFC 7643 §7 JSON) to a resource type.
    pub fn add_extension(&mut self, kind: ResourceKind, json: &str) -> Result<(), RegistryError> {
        let schema: SchemaDef = serde_json::from_str(json).map_err(|e| RegistryError::Invalid(short(json), e))?;
        if !schema.id.starts_with("urn:") {
            return Err(RegistryError::NotUrn { id: schema.id });
        }
        if self.all_schemas().any(|s| s.id.eq_ignore_ascii_case(&schema.id)) {
            return Err(RegistryError::Duplicate(schema.id));
        }
        match kind {
            ResourceKind::User => self.user.extensions.push(schema),
            ResourceKind::Group => self.group.extensions.push(schema),
        }
        Ok(())
    }

    pub fn of(&self, kind: ResourceKind) -> &ResourceSchema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// Every schema once, in discovery order.
    pub fn all_schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        self.user.schemas().chain(self.group.schemas())
    }
}

fn short(json: &str) -> String {
    json.chars().take(60).collect()
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
