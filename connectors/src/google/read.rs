//! One full read: all users page by page, then the groups, each with all its members. members.list
//! is one request per group (and page), so several groups are read at once; their records are
//! still sent in the order groups.list gave them.

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;
use tokio::sync::mpsc::Sender;

use super::auth::TokenSource;
use super::client::{DirectoryClient, Page};
use super::config::{GoogleConfig, MAX_GROUP_PAGE};
use super::key::ServiceAccountKey;
use super::records::RecordReader;
use crate::{ConnectorError, SourceItem};

pub(super) use crate::spawned::Item;

pub(super) async fn read_directory(config: &GoogleConfig, out: &Sender<Item>) -> Result<(), ConnectorError> {
    let key = ServiceAccountKey::read(&config.key)?;
    let http = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(|error| ConnectorError::Source(format!("cannot start the HTTP client: {error}")))?;
    let tokens = TokenSource::new(http.clone(), key, &config.admin_email, config.retry)?;
    let client = DirectoryClient::new(http, &config.base_url, tokens, config.retry)?;
    let reader = RecordReader::new(config);
    let send = |item: SourceItem| async move {
        out.send(Ok(item)).await.map_err(|_| ConnectorError::Source("the Google read was stopped".to_owned()))
    };

    let mut user_query = list_query(config, config.page_size);
    user_query.push(("projection", "full".to_owned()));
    let mut pages = Pages::new(&client, vec!["users"], user_query, "users");
    while let Some(users) = pages.next().await? {
        for user in users {
            send(reader.user_item(&user)).await?;
        }
    }
    if !config.read_groups {
        return Ok(());
    }

    let mut groups = Vec::new();
    let mut pages = Pages::new(&client, vec!["groups"], list_query(config, MAX_GROUP_PAGE), "groups");
    while let Some(page) = pages.next().await? {
        groups.extend(page);
    }
    let client = &client;
    let mut with_members = stream::iter(groups)
        .map(|group| async move {
            let members = match group.get("id").and_then(Value::as_str) {
                Some(id) => all_members(client, id).await?,
                None => Vec::new(),
            };
            Ok::<_, ConnectorError>((group, members))
        })
        .buffered(config.member_concurrency);
    while let Some(read) = with_members.next().await {
        let (group, members) = read?;
        send(reader.group_item(&group, &members)).await?;
    }
    Ok(())
}

/// The scope of a list (a domain, else the customer) and its page size.
fn list_query(config: &GoogleConfig, page_size: u32) -> Vec<(&'static str, String)> {
    let scope = match &config.domain {
        Some(domain) => ("domain", domain.clone()),
        None => ("customer", config.customer.clone()),
    };
    vec![scope, ("maxResults", page_size.to_string())]
}

async fn all_members(client: &DirectoryClient, group_id: &str) -> Result<Vec<Value>, ConnectorError> {
    let query = vec![("maxResults", MAX_GROUP_PAGE.to_string())];
    let mut pages = Pages::new(client, vec!["groups", group_id, "members"], query, "members");
    let mut members = Vec::new();
    while let Some(page) = pages.next().await? {
        members.extend(page);
    }
    Ok(members)
}

/// Walks a list's pages until one has no `nextPageToken`.
struct Pages<'a> {
    client: &'a DirectoryClient,
    segments: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
    items: &'static str,
    next: Option<Option<String>>,
}

impl<'a> Pages<'a> {
    fn new(
        client: &'a DirectoryClient,
        segments: Vec<&'a str>,
        query: Vec<(&'static str, String)>,
        items: &'static str,
    ) -> Self {
        Self { client, segments, query, items, next: Some(None) }
    }

    async fn next(&mut self) -> Result<Option<Vec<Value>>, ConnectorError> {
        let Some(token) = self.next.take() else { return Ok(None) };
        let Page { items, next } = self.client.page(&self.segments, &self.query, self.items, token.as_deref()).await?;
        if next.as_ref().is_some_and(|next| Some(next) == token.as_ref()) {
            return Err(ConnectorError::Source(format!(
                "GET {}: the server sent the same nextPageToken again; stopping instead of looping",
                self.segments.join("/")
            )));
        }
        self.next = next.map(Some);
        Ok(Some(items))
    }
}
