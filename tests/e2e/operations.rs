//! /healthz, /readyz, /metrics and request ids.

use crate::fixture::{Db, TestApp};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let health = app.client.get(format!("{}/healthz", app.base)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    let ready = app.client.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    app.get("/Users").await.expect(200);
    let metrics =
        app.client.get(format!("{}/metrics", app.base)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("scimd_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/scim/v2/Users\""), "{metrics}");
    assert!(metrics.contains("scimd_http_request_duration_seconds_bucket"), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    app.store.close().await;
    let ready = app.client.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::start(Db::Sqlite).await.expect("sqlite");
    let reply = app.get("/Users").await.expect(200);
    let id = reply.header("x-request-id").expect("x-request-id");
    assert_eq!(id.len(), 36, "{id}");
    let echoed =
        app.send(app.client.get(app.url("/Users")).bearer_auth(&app.token).header("x-request-id", "trace-me")).await;
    assert_eq!(echoed.header("x-request-id"), Some("trace-me"));
}
