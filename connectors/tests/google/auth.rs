//! The service account's key and delegation: refusals come back as clear errors that never show
//! the key or a token.

use scimd_connectors::RecordKind;
use scimd_fakes::google::{CLIENT_EMAIL, Directory, Route, ServiceAccount};
use serde_json::json;

use crate::support::{Google, read_all, read_error, records, users};

async fn google() -> Google {
    let mut directory = Directory::new();
    users(&mut directory, 2);
    Google::start(directory).await
}

#[tokio::test]
async fn a_key_google_does_not_know_is_refused_by_the_token_endpoint() {
    let google = google().await;
    let impostor = ServiceAccount::generate(CLIENT_EMAIL).unwrap().key_json(&google.fake.token_uri);
    let key_file = google.dir.path().join("old-key.json");
    std::fs::write(&key_file, impostor.to_string()).unwrap();

    let error = read_error(&mut google.source(json!({"keyFile": key_file}))).await;

    assert!(error.contains("refused the service account") && error.contains(CLIENT_EMAIL), "{error}");
    assert!(error.contains("invalid_grant") && error.contains("Invalid JWT Signature"), "{error}");
    assert!(error.contains("keyFile"), "says where to look: {error}");
    let private_key = impostor["private_key"].as_str().unwrap();
    assert!(!error.contains(&private_key[40..80]), "never shows the key: {error}");
    assert_eq!(google.fake.requests(Route::Users), 0, "no directory request without a token");
    assert_eq!(google.fake.requests(Route::Token), 1, "a refusal is not retried");
}

#[tokio::test]
async fn an_admin_the_account_may_not_act_as_is_refused() {
    let google = google().await;

    let error = read_error(&mut google.source(json!({"adminEmail": "intern@example.com"}))).await;

    assert!(error.contains("intern@example.com (adminEmail)") && error.contains("Invalid email or User ID"), "{error}");
}

#[tokio::test]
async fn another_service_account_is_an_unknown_client() {
    let google = google().await;
    let other = ServiceAccount::generate("other@elsewhere.iam.gserviceaccount.com").unwrap();
    let key_file = google.dir.path().join("other.json");
    std::fs::write(&key_file, other.key_json(&google.fake.token_uri).to_string()).unwrap();

    let error = read_error(&mut google.source(json!({"keyFile": key_file}))).await;

    assert!(error.contains("invalid_client"), "{error}");
}

#[tokio::test]
async fn the_key_can_come_from_an_environment_variable_as_json_or_as_a_path() {
    let google = google().await;
    set_env("SCIMD_TEST_GOOGLE_KEY_JSON", &google.fake.key_json().to_string());
    set_env("SCIMD_TEST_GOOGLE_KEY_PATH", google.key_file.to_str().unwrap());

    for variable in ["SCIMD_TEST_GOOGLE_KEY_JSON", "SCIMD_TEST_GOOGLE_KEY_PATH"] {
        let config = json!({"keyFile": null, "keyFileEnv": variable});
        let items = read_all(&mut google.source(config)).await.unwrap();
        assert_eq!(records(&items, RecordKind::User).len(), 2, "{variable}");
    }
}

#[tokio::test]
async fn an_unreadable_key_file_is_named() {
    let google = google().await;
    let missing = google.dir.path().join("nowhere.json");

    let error = read_error(&mut google.source(json!({"keyFile": missing}))).await;

    assert!(error.contains("nowhere.json (keyFile)"), "{error}");
}

#[expect(
    unsafe_code,
    reason = "set_var is unsafe in edition 2024; no other test of this binary touches these variables"
)]
fn set_env(name: &str, value: &str) {
    // SAFETY: the variables are set before the reads that use them and read by nothing else.
    unsafe { std::env::set_var(name, value) }
}
