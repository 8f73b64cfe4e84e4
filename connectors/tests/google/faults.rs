//! Throttling, server errors and expired tokens: retried as Google asks, never hiding a failure.

use std::time::{Duration, Instant};

use scimd_connectors::RecordKind;
use scimd_fakes::google::{Directory, Fault, FaultKind, Route};
use serde_json::json;

use crate::support::{Google, group, read_all, read_error, records, users};

async fn small_directory() -> Google {
    let mut directory = Directory::new();
    let ids = users(&mut directory, 5);
    directory.put_group(group("g1", "g1@example.com", "One"));
    directory.set_members("g1", &[&ids[0], &ids[4]]);
    Google::start(directory).await
}

fn fault(route: Route, page: Option<usize>, kind: FaultKind, times: u32) -> Fault {
    Fault { route, page, kind, times }
}

/// Reads everything and checks nothing was lost to the faults.
async fn read_whole(google: &Google) {
    let items = read_all(&mut google.source(json!({"pageSize": 2}))).await.expect("the read recovers");
    assert_eq!(records(&items, RecordKind::User).len(), 5);
    let groups = records(&items, RecordKind::Group);
    assert_eq!(groups[0].members.as_ref().map(Vec::len), Some(2));
    assert!(google.fake.pending_faults().is_empty(), "every fault was served: {:?}", google.fake.pending_faults());
}

#[tokio::test]
async fn rate_limit_403s_are_waited_out_on_the_page_they_hit() {
    let google = small_directory().await;
    google.fake.inject(fault(Route::Users, Some(1), FaultKind::RateLimited, 2));
    google.fake.inject(fault(Route::Members, None, FaultKind::UserRateLimited, 1));

    read_whole(&google).await;

    assert_eq!(google.fake.requests(Route::Users), 3 + 2, "3 pages, the second asked for 3 times");
    assert_eq!(google.fake.requests(Route::Members), 2);
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let google = small_directory().await;
    google.fake.inject(fault(Route::Groups, Some(0), FaultKind::TooManyRequests { retry_after_seconds: Some(1) }, 1));
    let started = Instant::now();

    read_whole(&google).await;

    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(google.fake.requests(Route::Groups), 2);
}

#[tokio::test]
async fn server_errors_back_off_and_retry() {
    let google = small_directory().await;
    google.fake.inject(fault(Route::Users, Some(0), FaultKind::ServerError(503), 1));
    google.fake.inject(fault(Route::Members, None, FaultKind::ServerError(500), 2));
    google.fake.inject(fault(Route::Token, None, FaultKind::ServerError(502), 1));

    read_whole(&google).await;

    assert_eq!(google.fake.requests(Route::Token), 2, "the token endpoint was retried too");
}

#[tokio::test]
async fn retries_stop_at_max_retries_and_the_run_fails_naming_the_call() {
    let google = small_directory().await;
    google.fake.inject(fault(Route::Users, Some(1), FaultKind::ServerError(503), 10));

    let error = read_error(&mut google.source(json!({"pageSize": 2, "maxRetries": 2}))).await;

    assert!(error.contains("GET /admin/directory/v1/users") && error.contains("gave up after 3 attempts"), "{error}");
    assert!(error.contains("503"), "{error}");
    assert_eq!(google.fake.requests(Route::Users), 1 + 3);
}

#[tokio::test]
async fn a_403_that_is_not_a_quota_fails_at_once_with_a_hint() {
    let google = small_directory().await;
    google.fake.inject(fault(Route::Groups, None, FaultKind::Forbidden, 1));

    let error = read_error(&mut google.source(json!({}))).await;

    assert!(error.contains("403") && error.contains("Not Authorized to access this resource/api"), "{error}");
    assert!(error.contains("domain-wide delegation"), "{error}");
    assert_eq!(google.fake.requests(Route::Groups), 1, "not retried");
}

#[tokio::test]
async fn one_token_serves_the_run_and_an_expired_one_is_replaced() {
    let google = small_directory().await;
    read_whole(&google).await;
    assert_eq!(google.fake.tokens_issued(), 1, "cached across all pages and groups");

    google.fake.inject(fault(Route::Users, Some(2), FaultKind::ExpireToken, 1));
    read_whole(&google).await;
    assert_eq!(google.fake.tokens_issued(), 3, "one for the new run, one after the 401");

    google.fake.expire_tokens();
    google.fake.inject(fault(Route::Members, None, FaultKind::ExpireToken, 1));
    read_whole(&google).await;
    assert_eq!(google.fake.tokens_issued(), 5);
}
