//! Discovery documents, snapshotted so the wire format cannot drift unnoticed.

use serde_json::Value;

use crate::fixture::{Db, TestApp};

async fn app() -> TestApp {
    TestApp::start(Db::Sqlite).await.expect("sqlite")
}

#[tokio::test]
async fn service_provider_config_snapshot() {
    let app = app().await;
    insta::assert_json_snapshot!(app.get("/ServiceProviderConfig").await.expect(200).body);
}

#[tokio::test]
async fn resource_types_snapshot() {
    let app = app().await;
    insta::assert_json_snapshot!(app.get("/ResourceTypes").await.expect(200).body);
    insta::assert_json_snapshot!("resource_type_user", app.get("/ResourceTypes/User").await.expect(200).body);
}

#[tokio::test]
async fn schemas_snapshot() {
    let app = app().await;
    let body = app.get("/Schemas").await.expect(200).body;
    let ids: Vec<&str> = body["Resources"].as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:scimd:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    insta::assert_json_snapshot!(body);
    let user: Value = app.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").await.expect(200).body;
    assert_eq!(user["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
}

#[tokio::test]
async fn list_and_error_bodies_snapshot() {
    let app = app().await;
    insta::assert_json_snapshot!(
        "empty_list",
        app.list("/Users", &[("filter", "userName eq \"none\"")]).await.expect(200).body
    );
    insta::assert_json_snapshot!(
        "invalid_filter",
        app.list("/Users", &[("filter", "userName eq")]).await.expect(400).body
    );
    insta::assert_json_snapshot!("not_found", app.get("/Users/missing").await.expect(404).body);
}

#[tokio::test]
async fn discovery_needs_no_token() {
    let app = app().await;
    let reply = app.send(app.client.get(app.url("/ServiceProviderConfig"))).await.expect(200);
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
}
