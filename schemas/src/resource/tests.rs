use serde_json::json;

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER, Registry, SCIMD_USER};

const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

fn user() -> ResourceSchema {
    Registry::builtin().user
}

fn group() -> ResourceSchema {
    Registry::builtin().group
}

/// The built-in User plus an extension with the types and mutabilities the built-ins lack.
fn custom_user() -> ResourceSchema {
    let mut registry = Registry::builtin();
    let ext = json!({
        "id": TEST_EXT,
        "name": "Test",
        "attributes": [
            {"name": "level", "type": "integer"},
            {"name": "ratio", "type": "decimal"},
            {"name": "since", "type": "dateTime"},
            {"name": "badge", "type": "string", "mutability": "immutable"},
            {"name": "serial", "type": "string", "mutability": "immutable", "caseExact": true},
            {"name": "card", "type": "complex", "subAttributes": [
                {"name": "number", "type": "string", "mutability": "immutable"},
                {"name": "label", "type": "string"}
            ]},
            {"name": "code", "type": "string", "required": true},
            {"name": "tags", "type": "string", "multiValued": true}
        ]
    });
    registry.add_extension(ResourceKind::User, &ext.to_string()).expect("test extension is valid");
    registry.user
}

fn ok(schema: &ResourceSchema, body: Value) -> Prepared {
    prepare_write(schema, body, None).unwrap_or_else(|e| panic!("should be accepted: {e}"))
}

fn err(schema: &ResourceSchema, body: Value) -> ScimError {
    prepare_write(schema, body, None).expect_err("should be rejected")
}

fn assert_err(e: &ScimError, scim_type: ScimType, needle: &str) {
    assert_eq!(e.status, 400, "{e}");
    assert_eq!(e.scim_type, Some(scim_type), "{e}");
    assert!(e.detail.contains(needle), "detail should name {needle:?}: {e}");
}

#[test]
fn body_must_be_a_json_object() {
    assert_err(&err(&user(), json!(["userName"])), ScimType::InvalidSyntax, "object");
    assert_err(&err(&user(), json!("x")), ScimType::InvalidSyntax, "object");
}

#[test]
fn keys_resolve_case_insensitively_to_canonical_names() {
    let p = ok(&user(), json!({"UserName": "a", "NAME": {"GivenName": "B"}, "Emails": [{"VALUE": "a@x"}]}));
    assert_eq!(p.doc, json!({"userName": "a", "name": {"givenName": "B"}, "emails": [{"value": "a@x"}]}));
}

#[test]
fn extension_urn_keys_resolve_case_insensitively_and_are_stored_canonically() {
    let body = json!({"userName": "a", ENTERPRISE_USER.to_uppercase(): {"EmployeeNumber": "7"}});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}));
}

#[test]
fn schemas_inside_an_extension_object_is_ignored() {
    let body = json!({"userName": "a", ENTERPRISE_USER: {"schemas": [ENTERPRISE_USER], "department": "d"}});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"department": "d"}}));
    let body = json!({"userName": "a", ENTERPRISE_USER: {"schemas": 1}});
    assert_err(&err(&user(), body), ScimType::InvalidSyntax, "schemas");
}

#[test]
fn urn_qualified_attribute_keys_resolve() {
    let body = json!({
        "urn:ietf:params:scim:schemas:core:2.0:User:userName": "a",
        format!("{ENTERPRISE_USER}:department"): "R&D",
    });
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a", ENTERPRISE_USER: {"department": "R&D"}}));
}

#[test]
fn core_urn_key_holds_core_attributes() {
    let body = json!({"urn:ietf:params:scim:schemas:core:2.0:User": {"userName": "a"}});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
}

#[test]
fn schemas_must_be_an_array_of_strings() {
    assert_err(&err(&user(), json!({"schemas": "x", "userName": "a"})), ScimType::InvalidSyntax, "schemas");
    assert_err(&err(&user(), json!({"schemas": [1], "userName": "a"})), ScimType::InvalidSyntax, "schemas");
}

#[test]
fn unknown_urns_in_schemas_are_ignored() {
    let ms = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ms], "displayName": "g"});
    assert_eq!(ok(&group(), body).doc, json!({"displayName": "g"}));
}

#[test]
fn unknown_urn_key_without_attributes_is_ignored() {
    let body = json!({"userName": "a", "urn:example:unknown:1.0:User": {}});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
    let body = json!({"userName": "a", "urn:example:unknown:1.0:User": null});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
}

#[test]
fn unknown_urn_key_with_attributes_is_invalid_syntax_naming_it() {
    let body = json!({"userName": "a", "urn:example:unknown:1.0:User": {"x": 1}});
    assert_err(&err(&user(), body), ScimType::InvalidSyntax, "urn:example:unknown:1.0:User");
}

#[test]
fn unknown_attribute_is_invalid_syntax_naming_it() {
    let e = err(&user(), json!({"userName": "a", "fooBar": 1}));
    assert_err(&e, ScimType::InvalidSyntax, "unknown attribute \"fooBar\" for resource type User");
    // Extension attributes are not accepted at top level.
    assert_err(
        &err(&user(), json!({"userName": "a", "employeeNumber": "1"})),
        ScimType::InvalidSyntax,
        "employeeNumber",
    );
}

#[test]
fn unknown_urn_qualified_attribute_of_a_known_schema_is_named_as_an_attribute() {
    let key = format!("{ENTERPRISE_USER}:shoeSize");
    let e = err(&user(), json!({"userName": "a", key.clone(): "9"}));
    assert_err(&e, ScimType::InvalidSyntax, &format!("unknown attribute \"{key}\""));
}

#[test]
fn unknown_extension_attribute_is_invalid_syntax_naming_it() {
    let body = json!({"userName": "a", ENTERPRISE_USER: {"shoeSize": "9"}});
    assert_err(&err(&user(), body), ScimType::InvalidSyntax, &format!("{ENTERPRISE_USER}:shoeSize"));
}

#[test]
fn unknown_sub_attribute_is_invalid_syntax_naming_it() {
    let body = json!({"userName": "a", "emails": [{"value": "a@x", "foo": 1}]});
    assert_err(&err(&user(), body), ScimType::InvalidSyntax, "emails.foo");
    let body = json!({"userName": "a", "name": {"surname": "x"}});
    assert_err(&err(&user(), body), ScimType::InvalidSyntax, "name.surname");
}

#[test]
fn duplicate_keys_differing_in_case_are_invalid_syntax() {
    assert_err(&err(&user(), json!({"userName": "a", "USERNAME": "b"})), ScimType::InvalidSyntax, "userName");
}

#[test]
fn string_attributes_must_be_strings() {
    let e = err(&user(), json!({"userName": 5}));
    assert_err(&e, ScimType::InvalidValue, "\"userName\" must be a string");
    let e = err(&user(), json!({"userName": "a", "profileUrl": true}));
    assert_err(&e, ScimType::InvalidValue, "profileUrl");
    let e = err(&user(), json!({"userName": "a", "x509Certificates": [{"value": 1}]}));
    assert_err(&e, ScimType::InvalidValue, "x509Certificates.value");
}

#[test]
fn booleans_accept_true_false_strings_in_any_case() {
    let p = ok(&user(), json!({"userName": "a", "active": "True", "emails": [{"value": "a@x", "primary": "FALSE"}]}));
    assert_eq!(p.doc["active"], json!(true));
    assert_eq!(p.doc["emails"][0]["primary"], json!(false));
    assert_eq!(ok(&user(), json!({"userName": "a", "active": false})).doc["active"], json!(false));
}

#[test]
fn booleans_reject_other_values() {
    assert_err(&err(&user(), json!({"userName": "a", "active": "yes"})), ScimType::InvalidValue, "active");
    assert_err(&err(&user(), json!({"userName": "a", "active": 1})), ScimType::InvalidValue, "boolean");
}

#[test]
fn integer_must_be_an_integer_number() {
    let schema = custom_user();
    let ok_body = json!({"userName": "a", TEST_EXT: {"code": "c", "level": 3}});
    assert_eq!(ok(&schema, ok_body).doc[TEST_EXT]["level"], json!(3));
    let e = err(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "level": 3.5}}));
    assert_err(&e, ScimType::InvalidValue, &format!("{TEST_EXT}:level\" must be an integer"));
    assert_err(&err(&schema, json!({"userName": "a", TEST_EXT: {"level": "3"}})), ScimType::InvalidValue, "level");
}

#[test]
fn decimal_accepts_any_number() {
    let schema = custom_user();
    for n in [json!(3), json!(2.5), json!(-1)] {
        let doc = ok(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "ratio": n.clone()}})).doc;
        assert_eq!(doc[TEST_EXT]["ratio"], n);
    }
    assert_err(&err(&schema, json!({"userName": "a", TEST_EXT: {"ratio": "2.5"}})), ScimType::InvalidValue, "ratio");
}

#[test]
fn date_time_must_be_rfc3339_and_is_kept_as_sent() {
    let schema = custom_user();
    let since = "2024-02-29T10:00:00.5+02:00";
    let doc = ok(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "since": since}})).doc;
    assert_eq!(doc[TEST_EXT]["since"], json!(since));
    let e = err(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "since": "2024-02-30"}}));
    assert_err(&e, ScimType::InvalidValue, "dateTime");
}

#[test]
fn complex_must_be_an_object() {
    assert_err(
        &err(&user(), json!({"userName": "a", "name": "Bob"})),
        ScimType::InvalidValue,
        "\"name\" must be an object",
    );
    let e = err(&user(), json!({"userName": "a", "emails": ["a@x"]}));
    assert_err(&e, ScimType::InvalidValue, "emails");
}

#[test]
fn multi_valued_needs_an_array() {
    let e = err(&user(), json!({"userName": "a", "emails": {"value": "a@x"}}));
    assert_err(&e, ScimType::InvalidValue, "\"emails\" must be an array");
}

#[test]
fn values_are_kept_as_sent() {
    let body = json!({
        "userName": "Alice@Example.COM",
        "emails": [{"value": "Alice@Example.COM", "type": "Work"}],
        "phoneNumbers": [{"value": "+1 (555) 010-0000"}],
    });
    assert_eq!(ok(&user(), body.clone()).doc, body);
}

#[test]
fn null_empty_array_and_empty_object_are_unassigned() {
    let body = json!({
        "userName": "a", "displayName": null, "emails": [], "name": {}, "addresses": [{}],
        "phoneNumbers": [null], "title": "", ENTERPRISE_USER: {"manager": {"value": null}},
    });
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a", "title": ""}));
}

#[test]
fn read_only_attributes_are_ignored() {
    let body = json!({
        "id": "x", "meta": {"version": "W/\"1\""}, "userName": "a", "groups": [{"value": "g"}],
        SCIMD_USER: {"status": "locked", "note": "n"},
        ENTERPRISE_USER: {"manager": {"value": "m", "displayName": "Boss"}},
    });
    let expected = json!({"userName": "a", SCIMD_USER: {"note": "n"}, ENTERPRISE_USER: {"manager": {"value": "m"}}});
    assert_eq!(ok(&user(), body).doc, expected);
    let p = ok(&group(), json!({"displayName": "g", "members": [{"value": "u", "display": "Bob"}]}));
    assert_eq!(p.members, Some(vec![MemberRef { value: "u".into(), kind: None }]));
}

#[test]
fn canonical_values_are_not_enforced() {
    let p = ok(&user(), json!({"userName": "a", "emails": [{"value": "a@x", "type": "custom"}]}));
    assert_eq!(p.doc["emails"][0]["type"], json!("custom"));
}

#[test]
fn at_most_one_primary_per_multi_valued_attribute() {
    let body =
        json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": "true"}]});
    assert_err(&err(&user(), body), ScimType::InvalidValue, "emails");
    let body =
        json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]});
    ok(&user(), body);
}

#[test]
fn password_is_removed_from_the_doc_and_returned() {
    let p = ok(&user(), json!({"userName": "a", "Password": "s3cret"}));
    assert_eq!(p.doc, json!({"userName": "a"}));
    assert_eq!(p.password.as_deref(), Some("s3cret"));
    assert_eq!(ok(&user(), json!({"userName": "a"})).password, None);
}

#[test]
fn password_must_be_a_string() {
    assert_err(&err(&user(), json!({"userName": "a", "password": 1234})), ScimType::InvalidValue, "password");
}

#[test]
fn group_members_are_removed_from_the_doc_and_returned() {
    let body = json!({"displayName": "g", "members": [
        {"value": "u1", "type": "user", "$ref": "https://x/Users/u1", "display": "U"},
        {"VALUE": "g1", "Type": "Group"},
        {"value": "u2"},
    ]});
    let p = ok(&group(), body);
    assert_eq!(p.doc, json!({"displayName": "g"}));
    let members = vec![
        MemberRef { value: "u1".into(), kind: Some(MemberType::User) },
        MemberRef { value: "g1".into(), kind: Some(MemberType::Group) },
        MemberRef { value: "u2".into(), kind: None },
    ];
    assert_eq!(p.members, Some(members));
}

#[test]
fn members_absent_is_none_and_null_or_empty_is_cleared() {
    assert_eq!(ok(&group(), json!({"displayName": "g"})).members, None);
    assert_eq!(ok(&group(), json!({"displayName": "g", "members": []})).members, Some(vec![]));
    assert_eq!(ok(&group(), json!({"displayName": "g", "members": null})).members, Some(vec![]));
}

#[test]
fn member_type_must_be_user_or_group() {
    let e = err(&group(), json!({"displayName": "g", "members": [{"value": "x", "type": "Device"}]}));
    assert_err(&e, ScimType::InvalidValue, "members.type");
}

#[test]
fn member_value_is_a_required_string() {
    let e = err(&group(), json!({"displayName": "g", "members": [{"type": "User"}]}));
    assert_err(&e, ScimType::InvalidValue, "value");
    let e = err(&group(), json!({"displayName": "g", "members": [{"value": 5}]}));
    assert_err(&e, ScimType::InvalidValue, "members.value");
    let e = err(&group(), json!({"displayName": "g", "members": {"value": "x"}}));
    assert_err(&e, ScimType::InvalidValue, "members");
    let e = err(&group(), json!({"displayName": "g", "members": [{"value": "x", "foo": 1}]}));
    assert_err(&e, ScimType::InvalidSyntax, "members.foo");
}

#[test]
fn required_attributes_missing_or_empty_are_invalid_value() {
    assert_err(&err(&user(), json!({"displayName": "a"})), ScimType::InvalidValue, "userName");
    assert_err(&err(&user(), json!({"userName": ""})), ScimType::InvalidValue, "userName");
    assert_err(&err(&user(), json!({"userName": null})), ScimType::InvalidValue, "userName");
    assert_err(&err(&group(), json!({"members": []})), ScimType::InvalidValue, "displayName");
}

#[test]
fn required_extension_attributes_apply_when_the_extension_is_present() {
    let schema = custom_user();
    ok(&schema, json!({"userName": "a"}));
    let e = err(&schema, json!({"userName": "a", TEST_EXT: {"level": 1}}));
    assert_err(&e, ScimType::InvalidValue, &format!("{TEST_EXT}:code"));
}

fn put(schema: &ResourceSchema, body: Value, existing: &Value) -> ScimResult<Prepared> {
    prepare_write(schema, body, Some(existing))
}

#[test]
fn immutable_attribute_cannot_change_on_replace() {
    let schema = custom_user();
    let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}});
    let e = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b2"}}), &existing)
        .expect_err("badge is immutable");
    assert_err(&e, ScimType::Mutability, &format!("{TEST_EXT}:badge"));
    let same = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}}), &existing);
    assert_eq!(same.expect("unchanged value is fine").doc, existing);
}

#[test]
fn immutable_attribute_compares_case_insensitively_unless_case_exact() {
    let schema = custom_user();
    let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "abc", "serial": "abc"}});
    put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "ABC", "serial": "abc"}}), &existing)
        .expect("badge is not caseExact");
    let e = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "abc", "serial": "ABC"}}), &existing)
        .expect_err("serial is caseExact");
    assert_err(&e, ScimType::Mutability, "serial");
}

#[test]
fn immutable_attribute_absent_in_existing_may_be_set() {
    let schema = custom_user();
    let existing = json!({"userName": "a"});
    let p = put(&schema, json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1"}}), &existing)
        .expect("first assignment is allowed");
    assert_eq!(p.doc[TEST_EXT]["badge"], json!("b1"));
}

#[test]
fn immutable_attribute_omitted_on_replace_keeps_its_value() {
    let schema = custom_user();
    let existing =
        json!({"userName": "a", TEST_EXT: {"code": "c", "badge": "b1", "card": {"number": "9", "label": "x"}}});
    let p = put(&schema, json!({"userName": "b", TEST_EXT: {"code": "c"}}), &existing).expect("omission keeps");
    assert_eq!(p.doc, json!({"userName": "b", TEST_EXT: {"code": "c", "badge": "b1", "card": {"number": "9"}}}));
}

#[test]
fn immutable_sub_attribute_cannot_change_on_replace() {
    let schema = custom_user();
    let existing = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "9"}}});
    let body = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "10", "label": "x"}}});
    assert_err(&put(&schema, body, &existing).expect_err("immutable"), ScimType::Mutability, "card.number");
    let body = json!({"userName": "a", TEST_EXT: {"code": "c", "card": {"number": "9", "label": "x"}}});
    put(&schema, body, &existing).expect("label is readWrite");
}

#[test]
fn empty_extension_object_is_dropped() {
    let body = json!({"userName": "a", ENTERPRISE_USER: {"department": null}, SCIMD_USER: {"status": "active"}});
    assert_eq!(ok(&user(), body).doc, json!({"userName": "a"}));
}

#[test]
fn document_schemas_lists_core_then_present_extensions_in_registry_order() {
    let schema = user();
    let doc = json!({"userName": "a", SCIMD_USER: {"note": "n"}, ENTERPRISE_USER: {"department": "d"}});
    assert_eq!(document_schemas(&schema, &doc), [schema.core.id.as_str(), ENTERPRISE_USER, SCIMD_USER]);
    assert_eq!(document_schemas(&schema, &json!({"userName": "a"})), [schema.core.id.as_str()]);
}
