use super::*;
use crate::filter::AttrPath;

fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) }
}

fn keys(schema: &ResourceSchema, p: &AttrPath) -> Vec<String> {
    let resolved = schema.resolve(p).unwrap_or_else(|e| panic!("{p} should resolve: {e}"));
    resolved.keys().into_iter().map(str::to_owned).collect()
}

#[test]
fn builtin_schemas_have_their_urns() {
    let registry = Registry::builtin();
    assert_eq!(registry.user.core.id, CORE_USER);
    assert_eq!(registry.group.core.id, CORE_GROUP);
    let ids: Vec<&str> = registry.user.extensions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [ENTERPRISE_USER, SCIMD_USER]);
    let common: Vec<&str> = registry.user.common.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(common, ["id", "externalId", "meta"]);
}

#[test]
fn core_attributes_resolve_case_insensitively_to_canonical_names() {
    let registry = Registry::builtin();
    let user = &registry.user;
    assert_eq!(keys(user, &AttrPath::new("userName")), ["userName"]);
    assert_eq!(keys(user, &AttrPath::new("UserName")), ["userName"]);
    assert_eq!(keys(user, &AttrPath::new("USERNAME")), ["userName"]);
    assert_eq!(keys(user, &AttrPath::with_sub("name", "familyName")), ["name", "familyName"]);
    assert_eq!(keys(user, &AttrPath::with_sub("NAME", "FAMILYNAME")), ["name", "familyName"]);
    assert_eq!(keys(user, &path(Some(CORE_USER), "name", Some("givenName"))), ["name", "givenName"]);
    assert_eq!(keys(user, &AttrPath::with_sub("emails", "value")), ["emails", "value"]);
}

#[test]
fn user_name_is_required_unique_and_case_insensitive() {
    let registry = Registry::builtin();
    let resolved = registry.user.resolve(&AttrPath::new("userName")).expect("userName resolves");
    let attr = resolved.leaf();
    assert!(attr.required);
    assert!(!attr.case_exact);
    assert_eq!(attr.uniqueness, Uniqueness::Server);
    assert_eq!(attr.kind, AttrType::String);
}

#[test]
fn extension_attributes_resolve_under_their_urn() {
    let registry = Registry::builtin();
    let user = &registry.user;
    assert_eq!(
        keys(user, &path(Some(ENTERPRISE_USER), "manager", Some("value"))),
        [ENTERPRISE_USER, "manager", "value"]
    );
    assert_eq!(keys(user, &AttrPath::new("employeeNumber")), [ENTERPRISE_USER, "employeeNumber"]);
    assert_eq!(keys(user, &AttrPath::new("managingEntity")), [SCIMD_USER, "managingEntity"]);
    let lower_urn = ENTERPRISE_USER.to_lowercase();
    assert_eq!(keys(user, &path(Some(&lower_urn), "costCenter", None)), [ENTERPRISE_USER, "costCenter"]);
}

#[test]
fn common_attributes_resolve_for_every_resource_type() {
    let registry = Registry::builtin();
    for schema in [&registry.user, &registry.group] {
        assert_eq!(keys(schema, &AttrPath::with_sub("meta", "lastModified")), ["meta", "lastModified"]);
        assert_eq!(keys(schema, &AttrPath::new("id")), ["id"]);
        assert_eq!(keys(schema, &AttrPath::new("externalId")), ["externalId"]);
    }
    let resolved = registry.user.resolve(&AttrPath::with_sub("meta", "created")).expect("meta.created resolves");
    assert_eq!(resolved.leaf().kind, AttrType::DateTime);
    let id = registry.user.resolve(&AttrPath::new("id")).expect("id resolves");
    assert!(id.leaf().case_exact);
}

#[test]
fn scimd_extension_fields() {
    let registry = Registry::builtin();
    let ext = registry.user.extension(SCIMD_USER).expect("scimd extension is registered");
    assert_eq!(ext.name, "scimd User");
    let status = ext.attribute("status").expect("status");
    assert_eq!(status.mutability, Mutability::ReadOnly);
    assert_eq!(status.canonical_values, ["active", "inactive", "locked", "dormant"]);
    assert!(ext.attribute("managingEntity").expect("managingEntity").case_exact);
    assert_eq!(ext.attribute("lastAccess").expect("lastAccess").kind, AttrType::DateTime);
    assert_eq!(ext.attribute("note").expect("note").mutability, Mutability::ReadWrite);
}

#[test]
fn group_members() {
    let registry = Registry::builtin();
    let group = &registry.group;
    let display_name = group.resolve(&AttrPath::new("displayName")).expect("displayName");
    assert!(display_name.attr.required);
    assert_eq!(display_name.attr.uniqueness, Uniqueness::Server);
    let members = group.core.attribute("members").expect("members");
    assert!(members.multi_valued);
    let names: Vec<&str> = members.sub_attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["value", "$ref", "display", "type"]);
    assert_eq!(members.sub_attribute("display").expect("display").mutability, Mutability::ReadOnly);
    assert_eq!(members.sub_attribute("type").expect("type").canonical_values, ["User", "Group"]);
    assert!(group.resolve(&AttrPath::new("userName")).is_err());
}

#[test]
fn password_is_write_only_and_never_returned() {
    let registry = Registry::builtin();
    let password = registry.user.core.attribute("password").expect("password");
    assert_eq!(password.mutability, Mutability::WriteOnly);
    assert_eq!(password.returned, Returned::Never);
}

#[test]
fn unknown_names_are_errors_that_name_them() {
    let registry = Registry::builtin();
    let user = &registry.user;
    let err = user.resolve(&AttrPath::new("nickname2")).expect_err("unknown attribute");
    assert!(err.contains("nickname2"), "{err}");
    let err = user.resolve(&AttrPath::with_sub("name", "surname")).expect_err("unknown sub-attribute");
    assert!(err.contains("surname") && err.contains("name"), "{err}");
    let err = user.resolve(&path(Some("urn:example:nope"), "x", None)).expect_err("unknown schema");
    assert!(err.contains("urn:example:nope"), "{err}");
    // An extension attribute qualified with the core URN is not found.
    let err = user.resolve(&path(Some(CORE_USER), "employeeNumber", None)).expect_err("wrong schema");
    assert!(err.contains("employeeNumber"), "{err}");
}
