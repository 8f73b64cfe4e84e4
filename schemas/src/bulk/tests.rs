use serde_json::{Value, json};

use super::*;
use crate::ScimType;

fn request(ops: Value) -> String {
    json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops}).to_string()
}

fn post(bulk_id: &str, data: Value) -> Value {
    json!({"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": data})
}

fn group_with(bulk_id: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": format!("bulkId:{m}")})).collect();
    post(bulk_id, json!({"displayName": bulk_id, "members": members}))
}

#[track_caller]
fn planned(ops: Value) -> BulkPlan {
    let body = request(ops);
    plan(&BulkRequest::parse(&body, 100).expect("parses").operations)
}

#[test]
fn parses_operations_and_their_references() {
    let body = json!({
        "schemas": [BULK_REQUEST_SCHEMA],
        "failOnErrors": 2,
        "Operations": [
            {"method": "post", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}},
            {"method": "PATCH", "path": "/Groups/bulkId:g", "version": "W/\"3\"", "data": {"members": [{"value": "bulkId:u"}, {"value": "bulkId:u"}]}},
            {"method": "DELETE", "path": "/Users/123", "data": {"ignored": true}}
        ]
    })
    .to_string();
    let request = BulkRequest::parse(&body, 3).expect("parses");
    assert_eq!(request.fail_on_errors, Some(2));
    let [create, patch, delete] = &request.operations[..] else { panic!("three operations") };
    assert_eq!(create.method, BulkMethod::Post);
    assert_eq!(create.bulk_id.as_deref(), Some("u"));
    assert!(create.references.is_empty());
    assert_eq!(create.target().expect("target"), (ResourceKind::User, None));
    assert_eq!(patch.references, ["g", "u"]);
    assert_eq!(patch.version.as_deref(), Some("W/\"3\""));
    assert_eq!(delete.target().expect("target"), (ResourceKind::User, Some("123")));
    assert!(delete.data.is_none());
}

#[test]
fn field_names_match_case_insensitively() {
    let body = json!({"SCHEMAS": [BULK_REQUEST_SCHEMA], "operations": [{"Method": "DELETE", "PATH": "/Groups/1"}]})
        .to_string();
    let request = BulkRequest::parse(&body, 1).expect("parses");
    assert_eq!(request.operations[0].path, "/Groups/1");
}

#[test]
fn too_many_operations_is_413() {
    let body = request(json!([{"method": "DELETE", "path": "/Users/1"}, {"method": "DELETE", "path": "/Users/2"}]));
    let err = BulkRequest::parse(&body, 1).expect_err("too many");
    assert_eq!((err.status, err.scim_type), (413, None));
    assert!(err.detail.contains("maxOperations is 1"), "{}", err.detail);
}

#[test]
fn malformed_requests_are_400() {
    let cases = [
        (json!({"Operations": []}).to_string(), ScimType::InvalidSyntax, "schemas"),
        (json!([1]).to_string(), ScimType::InvalidSyntax, "JSON object"),
        (json!({"schemas": [BULK_REQUEST_SCHEMA]}).to_string(), ScimType::InvalidSyntax, "Operations"),
        (
            json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": 0, "Operations": []}).to_string(),
            ScimType::InvalidValue,
            "failOnErrors",
        ),
        (request(json!([{"method": "GET", "path": "/Users"}])), ScimType::InvalidSyntax, "Operations[0]: unknown"),
        (request(json!([{"method": "DELETE"}])), ScimType::InvalidSyntax, "\"path\" is missing"),
        (request(json!([{"method": "PUT", "path": "/Users/1"}])), ScimType::InvalidSyntax, "needs \"data\""),
        (request(json!([{"method": "POST", "path": "/Users", "data": {}}])), ScimType::InvalidSyntax, "bulkId"),
        (request(json!([post("a", json!({})), post("a", json!({}))])), ScimType::InvalidValue, "same bulkId"),
    ];
    for (body, scim_type, detail) in cases {
        let err = BulkRequest::parse(&body, 10).expect_err(&body);
        assert_eq!((err.status, err.scim_type), (400, Some(scim_type)), "{body}");
        assert!(err.detail.contains(detail), "{body}: {}", err.detail);
    }
}

#[test]
fn targets_are_checked_like_routes() {
    let body = request(json!([
        {"method": "POST", "path": "/Users/1", "bulkId": "a", "data": {}},
        {"method": "DELETE", "path": "/Users"},
        {"method": "DELETE", "path": "/Widgets/1"},
        {"method": "PATCH", "path": "Groups/7", "data": {}}
    ]));
    let request = BulkRequest::parse(&body, 10).expect("parses");
    let statuses: Vec<_> = request.operations.iter().map(|op| op.target().map_err(|e| e.status)).collect();
    assert_eq!(statuses, [Err(405), Err(405), Err(404), Ok((ResourceKind::Group, Some("7")))]);
}

#[test]
fn a_forward_reference_runs_after_what_it_references() {
    // The group names a user created later in the request; the delete references nothing.
    let plan = planned(json!([
        group_with("g", &["u"]),
        {"method": "DELETE", "path": "/Users/x"},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}}
    ]));
    assert_eq!(plan.order, [1, 2, 0]);
    assert_eq!(plan.circular, [false; 3]);
}

#[test]
fn chains_run_in_dependency_order() {
    let plan = planned(json!([group_with("a", &["b"]), group_with("b", &["c"]), group_with("c", &[])]));
    assert_eq!(plan.order, [2, 1, 0]);
}

#[test]
fn cycles_are_found_and_do_not_block_the_rest() {
    let plan = planned(json!([
        group_with("a", &["b"]),
        group_with("b", &["c"]),
        group_with("c", &["a"]),
        group_with("self", &["self"]),
        // Depends on a cycle without being part of one: it runs, and fails on its failed reference.
        group_with("downstream", &["a"]),
        group_with("free", &["undeclared"])
    ]));
    assert_eq!(plan.circular, [true, true, true, true, false, false]);
    assert_eq!(plan.order, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn an_operation_in_a_cycle_through_a_finished_one_is_still_circular() {
    // a → b → a and a → c → b: c is in the cycle although b was already visited when c is reached.
    let plan = planned(json!([group_with("a", &["b", "c"]), group_with("b", &["a"]), group_with("c", &["b"])]));
    assert_eq!(plan.circular, [true, true, true]);
}

#[test]
fn references_resolve_at_any_depth() {
    let mut value = json!({"members": [{"value": "bulkId:u"}], "x": {"y": ["bulkId:g", "plain"]}});
    let lookup = |id: &str| match id {
        "u" => Ok("user-1".to_owned()),
        "g" => Ok("group-1".to_owned()),
        _ => Err(ScimError::invalid_value("unknown")),
    };
    resolve_references(&mut value, &lookup).expect("resolves");
    assert_eq!(value, json!({"members": [{"value": "user-1"}], "x": {"y": ["group-1", "plain"]}}));
    assert!(resolve_references(&mut json!(["bulkId:nope"]), &lookup).is_err());
    assert_eq!(resolve_str("plain", &lookup).expect("no reference"), None);
}
