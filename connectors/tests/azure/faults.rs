//! Throttling, server errors, refused tokens and wrong credentials.

use std::time::Duration;

use scimd_connectors::{Connector, RecordKind};
use scimd_fakes::graph::{Directory, Fault};
use serde_json::json;

use crate::support::{Tenant, properties, read, records, user, wait_after};

fn directory() -> Directory {
    let mut directory = Directory::default();
    let users: Vec<String> = (0..5).map(|n| directory.create_user(user(&format!("user{n}")))).collect();
    directory.create_group(properties(json!({"displayName": "Staff"})), &users);
    directory
}

fn fault(path: &str, skip: usize, times: usize, status: u16, retry_after: Option<u64>) -> Fault {
    Fault { path: path.to_owned(), skip, times, status, retry_after }
}

#[tokio::test]
async fn a_429_on_a_later_page_waits_what_retry_after_says() {
    let tenant = Tenant::start(directory()).await;
    // The second page of users: skip the first request.
    tenant.fake.inject(fault("/users/delta", 1, 1, 429, Some(1)));
    let mut source = tenant.source(json!({"maxBackoffSeconds": 5}));
    let items = read(&mut source, None).await.expect("the run survives throttling");
    assert_eq!(records(&items, RecordKind::User).len(), 5);
    let users = tenant.requests_to("/users/delta");
    assert_eq!(users[1].status, 429);
    assert!(users[1].target.contains("$skiptoken"), "a follow-up page: {}", users[1].target);
    let waited = wait_after(&users, 429);
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 honoured, waited {waited:?}");
}

#[tokio::test]
async fn server_errors_back_off_and_then_give_up() {
    let tenant = Tenant::start(directory()).await;
    tenant.fake.inject(fault("/groups/delta", 1, 2, 500, None));
    let mut source = tenant.source(json!({}));
    let items = read(&mut source, None).await.expect("two 500s are retried");
    assert_eq!(records(&items, RecordKind::Group).len(), 1);
    let groups = tenant.requests_to("/groups/delta");
    let statuses: Vec<u16> = groups.iter().map(|request| request.status).collect();
    assert_eq!(&statuses[..4], [200, 500, 500, 200]);
    let first = groups[2].at.duration_since(groups[1].at);
    let second = groups[3].at.duration_since(groups[2].at);
    assert!(first >= Duration::from_millis(450) && second >= Duration::from_millis(950), "{first:?}, {second:?}");

    let tenant = Tenant::start(directory()).await;
    tenant.fake.inject(fault("/users/delta", 0, 10, 503, Some(0)));
    let mut source = tenant.source(json!({"maxRetries": 2}));
    let error = read(&mut source, None).await.unwrap_err().to_string();
    assert!(error.contains("gave up after 3 attempts") && error.contains("503"), "{error}");
    assert_eq!(source.next_cursor(), None, "no cursor from a failed run");
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let tenant = Tenant::start(directory()).await;
    // The token is refused on the second page, as an expired one is.
    tenant.fake.inject(fault("/users/delta", 1, 1, 401, None));
    let mut source = tenant.source(json!({}));
    read(&mut source, None).await.expect("a new token and on");
    assert_eq!(tenant.fake.tokens_issued(), 2);

    tenant.fake.inject(fault("/users/delta", 0, 2, 401, None));
    let error = read(&mut source, None).await.unwrap_err().to_string();
    assert!(error.contains("refused a fresh token"), "{error}");
}

#[tokio::test]
async fn tokens_are_fetched_again_before_they_expire() {
    let tenant = Tenant::start(directory()).await;
    // A token that lives one second is replaced after half of it.
    tenant.fake.set_token_lifetime(1);
    tenant.fake.inject(fault("/groups/delta", 0, 1, 429, Some(1)));
    let mut source = tenant.source(json!({}));
    read(&mut source, None).await.unwrap();
    assert_eq!(tenant.fake.tokens_issued(), 2, "the wait outlived the first token");
    assert!(tenant.fake.requests().iter().all(|request| request.status != 401), "never sent an expired token");
    assert_eq!(records(&read(&mut source, None).await.unwrap(), RecordKind::User).len(), 5);
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_clear_error_without_the_secret() {
    let tenant = Tenant::with_secret(directory(), "not-the-secret").await;
    let mut source = tenant.source(json!({}));
    let error = read(&mut source, None).await.unwrap_err().to_string();
    assert!(error.contains("invalid_client") && error.contains("clientSecretFile"), "{error}");
    assert!(!error.contains("not-the-secret"), "{error}");
    assert_eq!(tenant.fake.requests().len(), 1, "an authentication failure is not retried");

    let mut source =
        tenant.source(json!({"clientSecretFile": null, "clientSecretEnv": "SCIMD_TEST_UNSET_AZURE_SECRET"}));
    let error = read(&mut source, None).await.unwrap_err().to_string();
    assert!(error.contains("SCIMD_TEST_UNSET_AZURE_SECRET (clientSecretEnv)"), "{error}");
}

#[tokio::test]
async fn a_wrong_tenant_is_named() {
    let tenant = Tenant::start(directory()).await;
    let mut source = tenant.source(json!({"tenantId": "fabrikam.example"}));
    let error = read(&mut source, None).await.unwrap_err().to_string();
    assert!(error.contains("tenantId"), "{error}");
}
