//! A fake tenant, the connector's configuration pointing at it, and reading a whole run.

use std::time::Duration;

use futures_util::StreamExt;
use scimd_connectors::azure::{AzureConfig, AzureSource};
use scimd_connectors::{Connector, ConnectorError, MemberRef, Record, RecordKind, SourceItem};
use scimd_fakes::graph::{self, Directory, FakeGraph, Logged};
use serde_json::{Map, Value, json};
use tempfile::NamedTempFile;

pub struct Tenant {
    pub fake: FakeGraph,
    secret: NamedTempFile,
}

pub fn properties(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

pub fn user(name: &str) -> Map<String, Value> {
    properties(json!({
        "userPrincipalName": format!("{name}@contoso.example"),
        "accountEnabled": true,
        "displayName": name,
        "mail": format!("{name}@contoso.example"),
        "jobTitle": "Engineer",
    }))
}

impl Tenant {
    pub async fn start(directory: Directory) -> Self {
        Self::with_secret(directory, graph::CLIENT_SECRET).await
    }

    pub async fn with_secret(directory: Directory, secret: &str) -> Self {
        let fake = FakeGraph::start(directory).await.expect("the fake starts");
        let file = NamedTempFile::new().unwrap();
        std::fs::write(file.path(), format!("{secret}\n")).unwrap();
        Self { fake, secret: file }
    }

    /// Retries quick enough for tests; `extra` keys replace the defaults.
    pub fn config(&self, extra: Value) -> AzureConfig {
        let mut config = json!({
            "tenantId": graph::TENANT,
            "clientId": graph::CLIENT_ID,
            "clientSecretFile": self.secret.path(),
            "authority": self.fake.base_url,
            "graphUrl": self.fake.graph_url(),
            "pageSize": 2,
            "maxRetries": 3,
            "maxBackoffSeconds": 2,
        });
        for (key, value) in properties(extra) {
            config[key] = value;
        }
        AzureConfig::from_value(config).expect("a valid configuration")
    }

    pub fn source(&self, extra: Value) -> AzureSource {
        AzureSource::new(self.config(extra))
    }

    pub fn requests_to(&self, path: &str) -> Vec<Logged> {
        self.fake.requests().into_iter().filter(|request| request.target.contains(path)).collect()
    }
}

/// Reads a whole run; the items, or the error that ended it.
pub async fn read(source: &mut AzureSource, cursor: Option<&str>) -> Result<Vec<SourceItem>, ConnectorError> {
    let mut items = Vec::new();
    let mut stream = source.read(cursor);
    while let Some(item) = stream.next().await {
        items.push(item?);
    }
    Ok(items)
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

pub fn field<'r>(record: &'r Record, path: &str) -> Option<&'r Value> {
    record.fields.iter().find(|field| field.path == path).map(|field| &field.value)
}

/// The member keys of a group record, sorted.
pub fn member_keys(record: &Record) -> Vec<String> {
    let mut keys: Vec<String> = record
        .members
        .iter()
        .flatten()
        .map(|member| match member {
            MemberRef::SourceKey(key) => key.clone(),
            other => panic!("Graph members are named by id, not {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

/// The time between the request answered with `status` and the one after it to the same path.
pub fn wait_after(requests: &[Logged], status: u16) -> Duration {
    let at = requests.iter().position(|request| request.status == status).expect("a request answered so");
    let next = requests.get(at + 1).expect("a request after it");
    next.at.duration_since(requests[at].at)
}
