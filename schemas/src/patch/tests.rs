use serde_json::json;

use super::*;
use crate::error::ScimType;
use crate::resource::MemberType;
use crate::schema::{ENTERPRISE_USER, Registry, ResourceKind, SCIMD_USER};

const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";

fn user() -> ResourceSchema {
    Registry::builtin().user
}

fn group() -> ResourceSchema {
    Registry::builtin().group
}

fn custom_user() -> ResourceSchema {
    let mut registry = Registry::builtin();
    let ext = json!({
        "id": TEST_EXT,
        "attributes": [
            {"name": "badge", "type": "string", "mutability": "immutable"},
            {"name": "card", "type": "complex", "subAttributes": [
                {"name": "number", "type": "string", "mutability": "immutable"},
                {"name": "label", "type": "string"}
            ]},
            {"name": "tags", "type": "string", "multiValued": true}
        ]
    });
    registry.add_extension(ResourceKind::User, &ext.to_string()).expect("test extension is valid");
    registry.user
}

fn stored() -> Value {
    json!({
        "userName": "alice",
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [
            {"value": "alice@work.example", "type": "work", "primary": true},
            {"value": "alice@home.example", "type": "home"}
        ],
        ENTERPRISE_USER: {"employeeNumber": "42"},
    })
}

fn op(kind: PatchOpKind, path: Option<&str>, value: Option<Value>) -> PatchOp {
    PatchOp { op: kind, path: path.map(str::to_owned), value }
}

fn add(path: &str, value: Value) -> PatchOp {
    op(PatchOpKind::Add, Some(path), Some(value))
}

fn replace(path: &str, value: Value) -> PatchOp {
    op(PatchOpKind::Replace, Some(path), Some(value))
}

fn remove(path: &str) -> PatchOp {
    op(PatchOpKind::Remove, Some(path), None)
}

fn patch(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> PatchOutcome {
    apply_patch(schema, doc, ops).unwrap_or_else(|e| panic!("patch should apply: {e}"))
}

fn patch_user(ops: &[PatchOp]) -> Value {
    patch(&user(), &stored(), ops).doc
}

fn fail(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> ScimError {
    apply_patch(schema, doc, ops).expect_err("patch should fail")
}

fn fail_user(ops: &[PatchOp]) -> ScimError {
    fail(&user(), &stored(), ops)
}

fn assert_err(e: &ScimError, scim_type: ScimType, needle: &str) {
    assert_eq!(e.status, 400, "{e}");
    assert_eq!(e.scim_type, Some(scim_type), "{e}");
    assert!(e.detail.contains(needle), "detail should name {needle:?}: {e}");
}

fn request(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

// parse_patch_request

#[test]
fn patch_body_must_be_an_object() {
    let e = parse_patch_request(json!([])).expect_err("array body");
    assert_err(&e, ScimType::InvalidSyntax, "object");
}

#[test]
fn schemas_must_contain_the_patch_op_urn() {
    let e = parse_patch_request(json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}))
        .expect_err("no schemas");
    assert_err(&e, ScimType::InvalidSyntax, PATCH_OP_SCHEMA);
    let body = json!({"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "title", "value": "x"}]});
    assert_err(&parse_patch_request(body).expect_err("wrong schema"), ScimType::InvalidSyntax, "schemas");
}

#[test]
fn operations_must_be_a_non_empty_array() {
    let e = parse_patch_request(request(json!([]))).expect_err("empty");
    assert_err(&e, ScimType::InvalidSyntax, "Operations");
    let e = parse_patch_request(json!({"schemas": [PATCH_OP_SCHEMA]})).expect_err("missing");
    assert_err(&e, ScimType::InvalidSyntax, "Operations");
    let e = parse_patch_request(request(json!({"op": "add"}))).expect_err("object");
    assert_err(&e, ScimType::InvalidSyntax, "Operations");
}

#[test]
fn op_names_and_keys_are_case_insensitive() {
    let ops = parse_patch_request(json!({
        "schemas": [PATCH_OP_SCHEMA],
        "operations": [
            {"op": "Add", "path": "title", "value": "x"},
            {"Op": "REPLACE", "Path": "nickName", "Value": "y"},
            {"op": "remove", "path": "displayName"},
        ],
    }))
    .expect("parses");
    assert_eq!(ops, [add("title", json!("x")), replace("nickName", json!("y")), remove("displayName"),]);
}

#[test]
fn unknown_op_is_invalid_syntax() {
    let e = parse_patch_request(request(json!([{"op": "move", "path": "title"}]))).expect_err("move");
    assert_err(&e, ScimType::InvalidSyntax, "move");
    let e = parse_patch_request(request(json!([{"path": "title"}]))).expect_err("no op");
    assert_err(&e, ScimType::InvalidSyntax, "op");
}

#[test]
fn remove_without_path_is_no_target() {
    let e = parse_patch_request(request(json!([{"op": "remove"}]))).expect_err("no path");
    assert_err(&e, ScimType::NoTarget, "path");
    let e = apply_patch(&user(), &stored(), &[op(PatchOpKind::Remove, None, None)]).expect_err("no path");
    assert_err(&e, ScimType::NoTarget, "path");
}

#[test]
fn add_or_replace_without_value_is_invalid_value() {
    let e = parse_patch_request(request(json!([{"op": "add", "path": "title"}]))).expect_err("no value");
    assert_err(&e, ScimType::InvalidValue, "value");
    let e = parse_patch_request(request(json!([{"op": "replace", "path": "title"}]))).expect_err("no value");
    assert_err(&e, ScimType::InvalidValue, "value");
}

#[test]
fn path_must_be_a_string() {
    let e = parse_patch_request(request(json!([{"op": "add", "path": 1, "value": 1}]))).expect_err("path");
    assert_err(&e, ScimType::InvalidSyntax, "path");
}

#[test]
fn parse_errors_name_the_operation_index() {
    let body = request(json!([{"op": "add", "path": "title", "value": "x"}, {"op": "nope"}]));
    assert_err(&parse_patch_request(body).expect_err("second op"), ScimType::InvalidSyntax, "Operations[1]");
}

// apply_patch: plain paths

#[test]
fn add_sets_a_single_valued_attribute() {
    assert_eq!(patch_user(&[add("title", json!("CEO"))])["title"], json!("CEO"));
}

#[test]
fn replace_sets_a_single_valued_attribute_with_a_case_insensitive_path() {
    let doc = patch_user(&[replace("USERNAME", json!("bob"))]);
    assert_eq!(doc["userName"], json!("bob"));
    assert!(doc.get("USERNAME").is_none());
}

#[test]
fn remove_deletes_an_attribute() {
    let doc = patch_user(&[remove("name")]);
    assert!(doc.get("name").is_none());
}

#[test]
fn remove_of_an_absent_attribute_is_a_noop() {
    assert_eq!(patch_user(&[remove("title"), remove("name.middleName")]), stored());
}

#[test]
fn add_on_multi_valued_appends_skipping_exact_duplicates() {
    let doc = patch_user(&[add(
        "emails",
        json!([{"value": "alice@home.example", "type": "home"}, {"value": "a@other.example"}]),
    )]);
    let values: Vec<&str> =
        doc["emails"].as_array().expect("array").iter().filter_map(|e| e["value"].as_str()).collect();
    assert_eq!(values, ["alice@work.example", "alice@home.example", "a@other.example"]);
}

#[test]
fn add_on_multi_valued_requires_an_array() {
    let e = fail_user(&[add("emails", json!({"value": "x@y"}))]);
    assert_err(&e, ScimType::InvalidValue, "emails");
}

#[test]
fn replace_on_multi_valued_replaces_the_whole_list() {
    let doc = patch_user(&[replace("emails", json!([{"value": "new@x"}]))]);
    assert_eq!(doc["emails"], json!([{"value": "new@x"}]));
}

#[test]
fn replace_with_null_or_empty_clears() {
    let doc = patch_user(&[replace("emails", json!([])), replace("name", Value::Null)]);
    assert!(doc.get("emails").is_none() && doc.get("name").is_none(), "{doc}");
}

#[test]
fn add_and_replace_merge_sub_attributes_of_a_single_valued_complex_attribute() {
    let doc = patch_user(&[replace("name", json!({"givenName": "Al"})), add("name", json!({"middleName": "M"}))]);
    assert_eq!(doc["name"], json!({"givenName": "Al", "familyName": "Smith", "middleName": "M"}));
}

#[test]
fn sub_attribute_paths_add_replace_and_remove() {
    let doc = patch_user(&[
        replace("name.givenName", json!("Al")),
        add("name.honorificPrefix", json!("Dr")),
        remove("name.familyName"),
    ]);
    assert_eq!(doc["name"], json!({"givenName": "Al", "honorificPrefix": "Dr"}));
    let doc = patch_user(&[remove("name.givenName"), remove("name.familyName")]);
    assert!(doc.get("name").is_none(), "an emptied complex attribute is unassigned");
    let doc = patch(&user(), &json!({"userName": "a"}), &[add("name.givenName", json!("G"))]).doc;
    assert_eq!(doc["name"], json!({"givenName": "G"}));
}

#[test]
fn multi_valued_sub_attribute_path_applies_to_every_element() {
    let doc = patch_user(&[replace("emails.type", json!("other"))]);
    let types: Vec<&Value> = doc["emails"].as_array().expect("array").iter().map(|e| &e["type"]).collect();
    assert_eq!(types, [&json!("other"), &json!("other")]);
    let doc = patch_user(&[remove("emails.type")]);
    assert!(doc["emails"].as_array().expect("array").iter().all(|e| e.get("type").is_none()));
}

#[test]
fn urn_qualified_paths_reach_extension_attributes() {
    let doc = patch_user(&[
        replace(&format!("{ENTERPRISE_USER}:employeeNumber"), json!("43")),
        add(&format!("{}:manager.value", ENTERPRISE_USER.to_lowercase()), json!("boss")),
        add("urn:ietf:params:scim:schemas:core:2.0:User:title", json!("CTO")),
    ]);
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "43", "manager": {"value": "boss"}}));
    assert_eq!(doc["title"], json!("CTO"));
}

#[test]
fn unqualified_extension_attribute_paths_resolve() {
    let doc = patch_user(&[add("department", json!("R&D"))]);
    assert_eq!(doc[ENTERPRISE_USER]["department"], json!("R&D"));
}

#[test]
fn bare_extension_urn_path_adds_merges_and_removes_the_extension() {
    let doc = patch_user(&[add(ENTERPRISE_USER, json!({"costCenter": "c1"}))]);
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "costCenter": "c1"}));
    assert!(patch_user(&[remove(ENTERPRISE_USER)]).get(ENTERPRISE_USER).is_none());
}

#[test]
fn schemas_inside_an_extension_value_is_ignored() {
    // scim2-models sends the extension URN again inside the extension object.
    let value = json!({"schemas": [ENTERPRISE_USER], "costCenter": "c1"});
    for doc in [patch_user(&[add(ENTERPRISE_USER, value.clone())]), patch_user(&[replace(ENTERPRISE_USER, value)])] {
        assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "costCenter": "c1"}));
    }
    let doc = patch_user(&[add(SCIMD_USER, json!({"Schemas": [SCIMD_USER], "note": "n"}))]);
    assert_eq!(doc[SCIMD_USER], json!({"note": "n"}));
    let pathless = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
        ENTERPRISE_USER: {"schemas": [ENTERPRISE_USER], "department": "d"},
        "urn:ietf:params:scim:schemas:core:2.0:User": {"schemas": [], "title": "t"},
    });
    let doc = patch_user(&[op(PatchOpKind::Add, None, Some(pathless))]);
    assert_eq!(doc[ENTERPRISE_USER]["department"], json!("d"));
    assert_eq!(doc["title"], json!("t"));
    let e = fail_user(&[add(ENTERPRISE_USER, json!({"schemas": "nope"}))]);
    assert_err(&e, ScimType::InvalidSyntax, "schemas");
}

#[test]
fn extension_object_left_empty_is_dropped() {
    let doc = patch_user(&[remove(&format!("{ENTERPRISE_USER}:employeeNumber"))]);
    assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
}

#[test]
fn without_path_the_value_keys_are_applied_per_attribute() {
    let doc = patch_user(&[op(
        PatchOpKind::Replace,
        None,
        Some(json!({
            "active": "False",
            "Name": {"familyName": "Jones"},
            format!("{ENTERPRISE_USER}:department"): "Sales",
            ENTERPRISE_USER: {"costCenter": "c9"},
            "emails": [{"value": "only@x"}],
        })),
    )]);
    assert_eq!(doc["active"], json!(false));
    assert_eq!(doc["name"], json!({"givenName": "Alice", "familyName": "Jones"}));
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "42", "department": "Sales", "costCenter": "c9"}));
    assert_eq!(doc["emails"], json!([{"value": "only@x"}]));
    let doc = patch_user(&[op(PatchOpKind::Add, None, Some(json!({"emails": [{"value": "more@x"}]})))]);
    assert_eq!(doc["emails"].as_array().expect("array").len(), 3);
}

#[test]
fn without_path_the_value_must_be_an_object() {
    let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!("x")))]);
    assert_err(&e, ScimType::InvalidValue, "object");
}

#[test]
fn without_path_read_only_attributes_are_ignored() {
    let doc = patch_user(&[op(
        PatchOpKind::Replace,
        None,
        Some(json!({"id": "x", "meta": {"version": "1"}, "groups": [], "nickName": "Al"})),
    )]);
    let mut expected = stored();
    expected["nickName"] = json!("Al");
    assert_eq!(doc, expected);
}

#[test]
fn without_path_dotted_and_urn_keys_name_sub_attributes() {
    let doc = patch_user(&[op(
        PatchOpKind::Replace,
        None,
        Some(json!({
            "name.givenName": "Alicia",
            format!("{ENTERPRISE_USER}:employeeNumber"): "43",
            format!("{ENTERPRISE_USER}:manager.value"): "boss",
            "meta.lastModified": "2020-01-01T00:00:00Z",
        })),
    )]);
    assert_eq!(doc["name"], json!({"givenName": "Alicia", "familyName": "Smith"}));
    assert_eq!(doc[ENTERPRISE_USER], json!({"employeeNumber": "43", "manager": {"value": "boss"}}));
    assert!(doc.get("meta").is_none(), "readOnly sub-attributes are ignored, as in PUT");
    let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"name.surname": "x"})))]);
    assert_err(&e, ScimType::InvalidPath, "name.surname");
}

#[test]
fn an_echoed_id_must_be_the_resource_id() {
    let ops = [op(PatchOpKind::Replace, None, Some(json!({"id": "g1", "displayName": "new"})))];
    assert_eq!(check_echoed_id(&ops, "g1"), Ok(()));
    assert_err(&check_echoed_id(&ops, "g2").expect_err("other id"), ScimType::Mutability, "id");
    assert_eq!(check_echoed_id(&[add("title", json!("x"))], "g1"), Ok(()));
}

#[test]
fn manager_given_as_a_bare_id_is_its_value() {
    let path = format!("{ENTERPRISE_USER}:manager");
    let doc = patch_user(&[replace(&path, json!("boss-id"))]);
    assert_eq!(doc[ENTERPRISE_USER]["manager"], json!({"value": "boss-id"}));
    let e = fail_user(&[add("emails", json!("a@b.example"))]);
    assert_err(&e, ScimType::InvalidValue, "emails");
}

#[test]
fn without_path_unknown_keys_are_invalid_path() {
    let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"shoeSize": 9})))]);
    assert_err(&e, ScimType::InvalidPath, "shoeSize");
    let e = fail_user(&[op(PatchOpKind::Add, None, Some(json!({"urn:example:x:1.0:User": {"a": 1}})))]);
    assert_err(&e, ScimType::InvalidPath, "urn:example:x:1.0:User");
}

#[test]
fn unknown_paths_are_invalid_path_naming_them() {
    assert_err(&fail_user(&[add("shoeSize", json!(9))]), ScimType::InvalidPath, "shoeSize");
    assert_err(&fail_user(&[add("name.surname", json!("x"))]), ScimType::InvalidPath, "surname");
    assert_err(&fail_user(&[remove("urn:example:nope:1.0:User:x")]), ScimType::InvalidPath, "urn:example:nope");
}

#[test]
fn malformed_paths_are_invalid_path() {
    for bad in
        ["name.given.x", "emails[type eq \"work\"", "emails[type eq \"work\"]value", "na me", "name[type eq \"x\"].a.b"]
    {
        assert_err(&fail_user(&[remove(bad)]), ScimType::InvalidPath, "");
    }
}

#[test]
fn value_filters_use_the_full_filter_grammar() {
    let doc = patch_user(&[remove("emails[type ne \"work\"]")]);
    assert_eq!(doc["emails"], json!([{"value": "alice@work.example", "type": "work", "primary": true}]));
    let doc = patch_user(&[replace("emails[type eq \"work\" and primary eq true].value", json!("a@new.example"))]);
    assert_eq!(doc["emails"][0]["value"], "a@new.example");
    assert_eq!(doc["emails"][1]["value"], "alice@home.example");
    let doc = patch_user(&[remove("emails[value co \"home\" or type eq \"work\"]")]);
    assert!(doc.get("emails").is_none(), "{doc}");
    let doc = patch_user(&[remove("emails[not (type pr)]")]);
    assert_eq!(doc["emails"], stored()["emails"], "nothing matches, nothing changes");
}

#[test]
fn a_filter_that_describes_an_element_creates_it_and_others_are_no_target() {
    let doc = patch_user(&[add("emails[type eq \"other\" and display eq \"Other\"].value", json!("o@x.example"))]);
    assert_eq!(doc["emails"][2], json!({"type": "other", "display": "Other", "value": "o@x.example"}));
    let e = fail_user(&[replace("emails[type co \"oth\"].value", json!("o@x.example"))]);
    assert_err(&e, ScimType::NoTarget, "does not describe");
}

#[test]
fn invalid_value_filters_are_invalid_path() {
    for bad in ["emails[type eq]", "emails[type eq \"work\" and]", "emails[(type eq \"work\"]"] {
        assert_err(&fail_user(&[remove(bad)]), ScimType::InvalidPath, "invalid path");
    }
    assert_err(
        &fail_user(&[remove("emails[kind eq \"work\"]")]),
        ScimType::InvalidPath,
        "unknown sub-attribute \"kind\"",
    );
    assert_err(&fail_user(&[remove("emails[type gt 5]")]), ScimType::InvalidPath, "emails.type");
}

#[test]
fn value_filter_on_a_single_valued_attribute_is_invalid_path() {
    assert_err(&fail_user(&[remove("name[givenName eq \"Alice\"]")]), ScimType::InvalidPath, "single-valued");
}

#[test]
fn values_are_validated_and_coerced_like_post() {
    assert_eq!(patch_user(&[replace("active", json!("TRUE"))])["active"], json!(true));
    assert_err(&fail_user(&[replace("userName", json!(5))]), ScimType::InvalidValue, "userName");
    assert_err(&fail_user(&[replace("active", json!("maybe"))]), ScimType::InvalidValue, "active");
    let e = fail_user(&[add("emails", json!([{"value": "x@y", "label": "z"}]))]);
    assert_err(&e, ScimType::InvalidSyntax, "emails.label");
    let e = fail_user(&[replace(&format!("{ENTERPRISE_USER}:employeeNumber"), json!(7))]);
    assert_err(&e, ScimType::InvalidValue, "employeeNumber");
}

// Value filters

#[test]
fn value_filter_sub_path_updates_matching_elements() {
    let doc = patch_user(&[replace("emails[type eq \"work\"].value", json!("alice@new.example"))]);
    assert_eq!(doc["emails"][0], json!({"value": "alice@new.example", "type": "work", "primary": true}));
    assert_eq!(doc["emails"][1], stored()["emails"][1]);
}

#[test]
fn value_filter_matches_case_insensitively_unless_case_exact() {
    let doc = patch_user(&[replace("emails[TYPE eq \"Work\"].value", json!("w@x"))]);
    assert_eq!(doc["emails"][0]["value"], json!("w@x"));
}

#[test]
fn value_filter_element_path_merges_the_object() {
    let doc = patch_user(&[replace("emails[type eq \"home\"]", json!({"display": "Home"}))]);
    assert_eq!(doc["emails"][1], json!({"value": "alice@home.example", "type": "home", "display": "Home"}));
}

#[test]
fn value_filter_without_match_creates_the_element() {
    let doc = patch_user(&[add("emails[type eq \"other\"].value", json!("o@x"))]);
    assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x"}));
    let doc =
        patch(&user(), &json!({"userName": "a"}), &[replace("phoneNumbers[type eq \"mobile\"].value", json!("+1"))])
            .doc;
    assert_eq!(doc["phoneNumbers"], json!([{"type": "mobile", "value": "+1"}]));
}

#[test]
fn value_filter_remove_removes_matching_elements() {
    let doc = patch_user(&[remove("emails[type eq \"work\"]")]);
    assert_eq!(doc["emails"], json!([{"value": "alice@home.example", "type": "home"}]));
    let doc = patch_user(&[remove("emails[type eq \"work\"]"), remove("emails[value eq \"ALICE@home.example\"]")]);
    assert!(doc.get("emails").is_none(), "{doc}");
    assert_eq!(patch_user(&[remove("emails[type eq \"fax\"]")]), stored());
}

#[test]
fn value_filter_remove_of_a_sub_attribute() {
    let doc = patch_user(&[remove("emails[type eq \"work\"].primary")]);
    assert_eq!(doc["emails"][0], json!({"value": "alice@work.example", "type": "work"}));
}

#[test]
fn value_filter_on_a_multi_valued_simple_attribute_uses_value() {
    let schema = custom_user();
    let doc = json!({"userName": "a", TEST_EXT: {"tags": ["x", "y"]}});
    let out = patch(&schema, &doc, &[remove("tags[value eq \"x\"]")]).doc;
    assert_eq!(out[TEST_EXT]["tags"], json!(["y"]));
    let out = patch(&schema, &doc, &[add("tags", json!(["y", "z"]))]).doc;
    assert_eq!(out[TEST_EXT]["tags"], json!(["x", "y", "z"]));
}

#[test]
fn remove_with_a_value_on_multi_valued_removes_only_those_elements() {
    let doc = patch_user(&[op(
        PatchOpKind::Remove,
        Some("emails"),
        Some(json!([{"value": "alice@home.example", "type": "home"}])),
    )]);
    assert_eq!(doc["emails"].as_array().expect("array").len(), 1);
}

#[test]
fn primary_true_clears_the_other_primaries() {
    let doc = patch_user(&[replace("emails[type eq \"home\"].primary", json!(true))]);
    assert_eq!(doc["emails"][0]["primary"], json!(false));
    assert_eq!(doc["emails"][1]["primary"], json!(true));
    let doc = patch_user(&[add("emails", json!([{"value": "n@x", "primary": "true"}]))]);
    assert_eq!(doc["emails"][0]["primary"], json!(false));
    assert_eq!(doc["emails"][2]["primary"], json!(true));
}

#[test]
fn two_primaries_in_one_value_are_invalid_value() {
    let e = fail_user(&[add("emails", json!([{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]))]);
    assert_err(&e, ScimType::InvalidValue, "primary");
}

// Mutability and required attributes

#[test]
fn read_only_targets_are_mutability_errors() {
    for path in ["id", "meta.created", "groups", &format!("{SCIMD_USER}:status"), "manager.displayName"] {
        assert_err(&fail_user(&[replace(path, json!("x"))]), ScimType::Mutability, "readOnly");
    }
    assert_err(&fail_user(&[remove("groups[value eq \"g\"]")]), ScimType::Mutability, "groups");
}

#[test]
fn immutable_attribute_already_set_is_a_mutability_error() {
    let schema = custom_user();
    let doc = json!({"userName": "a", TEST_EXT: {"badge": "b1", "card": {"number": "9"}}});
    let e = fail(&schema, &doc, &[replace(&format!("{TEST_EXT}:badge"), json!("b2"))]);
    assert_err(&e, ScimType::Mutability, "badge");
    let e = fail(&schema, &doc, &[remove("badge")]);
    assert_err(&e, ScimType::Mutability, "badge");
    let e = fail(&schema, &doc, &[replace("card.number", json!("10"))]);
    assert_err(&e, ScimType::Mutability, "card.number");
    patch(&schema, &doc, &[replace("badge", json!("B1")), replace("card.label", json!("l"))]);
}

#[test]
fn immutable_attribute_not_yet_set_may_be_added() {
    let schema = custom_user();
    let out = patch(&schema, &json!({"userName": "a"}), &[add("badge", json!("b1"))]).doc;
    assert_eq!(out[TEST_EXT]["badge"], json!("b1"));
}

#[test]
fn removing_a_required_attribute_is_invalid_value() {
    assert_err(&fail_user(&[remove("userName")]), ScimType::InvalidValue, "userName");
    assert_err(&fail_user(&[replace("userName", json!(""))]), ScimType::InvalidValue, "userName");
    let e = fail(&group(), &json!({"displayName": "g"}), &[remove("displayName")]);
    assert_err(&e, ScimType::InvalidValue, "displayName");
}

#[test]
fn errors_name_the_operation_index_and_nothing_is_returned() {
    let e = fail_user(&[replace("title", json!("ok")), replace("shoeSize", json!(1))]);
    assert_err(&e, ScimType::InvalidPath, "Operations[1]");
}

// Password

#[test]
fn password_replace_is_reported_not_stored() {
    let out = patch(&user(), &stored(), &[replace("password", json!("n3w"))]);
    assert_eq!(out.password.as_deref(), Some("n3w"));
    assert_eq!(out.doc, stored());
    let out = patch(&user(), &stored(), &[op(PatchOpKind::Replace, None, Some(json!({"password": "p2"})))]);
    assert_eq!(out.password.as_deref(), Some("p2"));
    assert_eq!(patch(&user(), &stored(), &[add("title", json!("t"))]).password, None);
}

#[test]
fn password_must_be_a_string_and_cannot_be_removed() {
    assert_err(&fail_user(&[replace("password", json!(1))]), ScimType::InvalidValue, "password");
    assert_err(&fail_user(&[remove("password")]), ScimType::Mutability, "password");
}

// Group members

fn stored_group() -> Value {
    json!({"displayName": "g"})
}

fn member(id: &str, kind: Option<MemberType>) -> MemberRef {
    MemberRef { value: id.to_owned(), kind }
}

fn members_of(ops: &[PatchOp]) -> MemberChanges {
    let out = patch(&group(), &stored_group(), ops);
    assert_eq!(out.doc, stored_group(), "members never enter the document");
    out.members
}

#[test]
fn members_add_collects_member_refs() {
    let changes =
        members_of(&[add("members", json!([{"value": "u1", "type": "User"}, {"value": "g1", "display": "G"}]))]);
    assert_eq!(changes.add, [member("u1", Some(MemberType::User)), member("g1", None)]);
    assert!(changes.remove.is_empty() && changes.replace.is_none());
    let changes = members_of(&[op(PatchOpKind::Add, None, Some(json!({"members": [{"value": "u2"}]})))]);
    assert_eq!(changes.add, [member("u2", None)]);
}

#[test]
fn members_remove_by_value_filter() {
    let changes = members_of(&[remove("members[value eq \"u1\"]")]);
    assert_eq!(changes.remove, ["u1"]);
    let changes = members_of(&[remove("members[value eq \"u1\" or value eq \"u2\"]")]);
    assert_eq!(changes.remove, ["u1", "u2"]);
}

#[test]
fn members_remove_with_a_value_list_removes_only_those() {
    let changes =
        members_of(&[op(PatchOpKind::Remove, Some("members"), Some(json!([{"value": "u1"}, {"value": "u2"}])))]);
    assert_eq!(changes.remove, ["u1", "u2"]);
    assert!(changes.replace.is_none());
}

#[test]
fn members_remove_without_value_clears_all() {
    assert_eq!(members_of(&[remove("members")]).replace, Some(vec![]));
}

#[test]
fn members_replace_sets_the_list() {
    let changes = members_of(&[replace("members", json!([{"value": "u1"}, {"value": "u1"}]))]);
    assert_eq!(changes.replace, Some(vec![member("u1", None)]));
    assert_eq!(members_of(&[replace("members", json!([]))]).replace, Some(vec![]));
}

#[test]
fn members_changes_fold_in_order() {
    let changes = members_of(&[
        add("members", json!([{"value": "a"}, {"value": "b"}])),
        remove("members[value eq \"a\"]"),
        remove("members[value eq \"c\"]"),
        add("members", json!([{"value": "c"}])),
    ]);
    assert_eq!(changes.add, [member("b", None), member("c", None)]);
    assert_eq!(changes.remove, ["a"]);
    let changes = members_of(&[
        replace("members", json!([{"value": "a"}])),
        add("members", json!([{"value": "b"}])),
        remove("members[value eq \"a\"]"),
    ]);
    assert_eq!(changes, MemberChanges { add: vec![], remove: vec![], replace: Some(vec![member("b", None)]) });
}

#[test]
fn members_sub_attribute_paths_are_mutability_errors() {
    let e = fail(&group(), &stored_group(), &[replace("members.display", json!("x"))]);
    assert_err(&e, ScimType::Mutability, "members.display");
    let e = fail(&group(), &stored_group(), &[replace("members[value eq \"u\"].type", json!("Group"))]);
    assert_err(&e, ScimType::Mutability, "members");
}

#[test]
fn members_filters_other_than_remove_by_value_are_invalid_path() {
    let e = fail(&group(), &stored_group(), &[remove("members[type eq \"User\"]")]);
    assert_err(&e, ScimType::InvalidPath, "members");
    let e = fail(&group(), &stored_group(), &[add("members[value eq \"u\"]", json!({"value": "u"}))]);
    assert_err(&e, ScimType::InvalidPath, "members");
}

#[test]
fn members_values_are_validated() {
    let e = fail(&group(), &stored_group(), &[add("members", json!([{"value": "u", "type": "Robot"}]))]);
    assert_err(&e, ScimType::InvalidValue, "members.type");
    let e = fail(&group(), &stored_group(), &[add("members", json!({"value": "u"}))]);
    assert_err(&e, ScimType::InvalidValue, "members");
}
