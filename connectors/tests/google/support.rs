//! A fake Google with a directory and the service account's key file, and ways to read it.

use std::path::PathBuf;

use futures_util::StreamExt;
use scimd_connectors::google::{GoogleConfig, GoogleSource};
use scimd_connectors::{Connector, ConnectorError, Record, RecordKind, SourceItem};
use scimd_fakes::google::{ADMIN_EMAIL, Directory, FakeGoogle};
use serde_json::{Value, json};

pub struct Google {
    pub fake: FakeGoogle,
    pub dir: tempfile::TempDir,
    pub key_file: PathBuf,
}

impl Google {
    pub async fn start(directory: Directory) -> Self {
        let fake = FakeGoogle::start("127.0.0.1:0".parse().unwrap(), directory).await.expect("the fake starts");
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("service-account.json");
        fake.write_key(&key_file).unwrap();
        Self { fake, dir, key_file }
    }

    /// The connector's configuration for this fake, with `extra` keys added (or replaced).
    pub fn config(&self, extra: Value) -> GoogleConfig {
        let mut config = json!({
            "keyFile": self.key_file,
            "adminEmail": ADMIN_EMAIL,
            "baseUrl": self.fake.base_url,
            "maxBackoffSeconds": 1,
        });
        for (key, value) in extra.as_object().expect("extra is an object") {
            config[key] = value.clone();
        }
        GoogleConfig::from_value(config).expect("a valid configuration")
    }

    pub fn source(&self, extra: Value) -> GoogleSource {
        GoogleSource::new(self.config(extra))
    }
}

pub async fn read_all(source: &mut GoogleSource) -> Result<Vec<SourceItem>, ConnectorError> {
    let mut stream = source.read(None);
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item?);
    }
    Ok(items)
}

pub async fn read_error(source: &mut GoogleSource) -> String {
    read_all(source).await.expect_err("the read fails").to_string()
}

pub fn records(items: &[SourceItem], kind: RecordKind) -> Vec<&Record> {
    items
        .iter()
        .filter_map(|item| match item {
            SourceItem::Record(record) if record.kind == kind => Some(record),
            _ => None,
        })
        .collect()
}

pub fn field<'r>(record: &'r Record, path: &str) -> &'r Value {
    &record.fields.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{} has no {path}", record.key)).value
}

pub fn user(id: &str, email: &str, given: &str, family: &str) -> Value {
    json!({
        "id": id, "primaryEmail": email,
        "name": {"givenName": given, "familyName": family, "fullName": format!("{given} {family}")},
    })
}

pub fn group(id: &str, email: &str, name: &str) -> Value {
    json!({"id": id, "email": email, "name": name})
}

/// `count` users `u0`…, emails `user<n>@example.com`.
pub fn users(directory: &mut Directory, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| directory.put_user(user(&format!("u{n}"), &format!("user{n}@example.com"), "Given", &format!("N{n}"))))
        .collect()
}
