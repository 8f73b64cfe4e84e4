//! One read of the tenant: the users delta round, then the groups delta round (whose members name
//! users by id, so the engine resolves them once the users are written). Returns the next cursor.
//!
//! Without a cursor the rounds start from scratch (everything is returned); with one they start at
//! its delta links (only changes). Both rounds' first pages are fetched before anything is sent:
//! if either link has expired (410 Gone), both rounds start again from scratch, so a fallback run
//! is a full read throughout and the engine may apply the missing policy.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tokio::sync::mpsc::Sender;

use super::config::AzureConfig;
use super::cursor::Cursor;
use super::graph::{Fetched, Graph, Page, path_of};
use super::records::{MEMBERS_DELTA, Round, group_record, id_of, is_removed, member_of, user_item};
use crate::{ConnectorError, MemberRef, RecordKind, SourceItem};

pub(super) use crate::spawned::Item;

/// What a read came to.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    pub cursor: Cursor,
    /// Whether everything was read (no cursor, or an expired one).
    pub full: bool,
}

pub(super) async fn read_tenant(
    config: &AzureConfig,
    cursor: Option<Cursor>,
    out: &Sender<Item>,
) -> Result<Outcome, ConnectorError> {
    let graph = Graph::new(config)?;
    let users_start = graph.url(&format!("users/delta?$select={}", config.user_mapping.select(&[]).join(",")));
    let groups_start = config
        .read_groups
        .then(|| graph.url(&format!("groups/delta?$select={}", config.group_mapping.select(&["members"]).join(","))));
    // A cursor from before `readGroups` changed cannot continue both rounds.
    let cursor = cursor.filter(|cursor| cursor.groups_delta_link.is_some() == config.read_groups);
    let mut firsts = None;
    if let Some(cursor) = &cursor {
        let users = graph.get(&cursor.users_delta_link, "GET /users/delta (from the cursor)").await?;
        let groups = match &cursor.groups_delta_link {
            Some(link) => Some(graph.get(link, "GET /groups/delta (from the cursor)").await?),
            None => None,
        };
        match (users, groups) {
            (Fetched::Page(users), None) => firsts = Some((users, None)),
            (Fetched::Page(users), Some(Fetched::Page(groups))) => firsts = Some((users, Some(groups))),
            (Fetched::Gone(detail), _) | (_, Some(Fetched::Gone(detail))) => {
                tracing::warn!(%detail, "a delta link of the cursor has expired (410 Gone): reading everything");
            }
        }
    }
    let round = if firsts.is_some() { Round::Incremental } else { Round::Full };
    let (users_first, groups_first) = match firsts {
        Some(firsts) => firsts,
        None => {
            let users = first_page(&graph, &users_start, "GET /users/delta").await?;
            let groups = match &groups_start {
                Some(start) => Some(first_page(&graph, start, "GET /groups/delta").await?),
                None => None,
            };
            (users, groups)
        }
    };
    let reader = Reader { config, graph: &graph, out, round };
    let users_delta_link = reader.users(users_first).await?;
    let groups_delta_link = match groups_first {
        Some(first) => Some(reader.groups(first).await?),
        None => None,
    };
    Ok(Outcome { cursor: Cursor { users_delta_link, groups_delta_link }, full: round == Round::Full })
}

/// The first page of a round started from scratch, where a 410 cannot be a stale token.
async fn first_page(graph: &Graph, url: &str, what: &str) -> Result<Page, ConnectorError> {
    match graph.get(url, what).await? {
        Fetched::Page(page) => Ok(page),
        Fetched::Gone(detail) => Err(ConnectorError::Source(format!("{what}: HTTP 410 ({detail})"))),
    }
}

struct Reader<'r> {
    config: &'r AzureConfig,
    graph: &'r Graph,
    out: &'r Sender<Item>,
    round: Round,
}

/// A group of a round: its properties and members merged over the pages it appeared on (Graph
/// may split a large group's `members@delta` over several pages).
#[derive(Default)]
struct PendingGroup {
    properties: Map<String, Value>,
    members: Vec<MemberRef>,
    members_changed: bool,
    removed: bool,
}

impl Reader<'_> {
    async fn send(&self, item: SourceItem) -> Result<(), ConnectorError> {
        self.out.send(Ok(item)).await.map_err(|_| ConnectorError::Source("the Graph read was stopped".to_owned()))
    }

    /// The page after `page`, or the round's delta link when it was the last.
    async fn next(&self, page: &Page, what: &str) -> Result<Result<Page, String>, ConnectorError> {
        match (&page.next_link, &page.delta_link) {
            (Some(next), _) => match self.graph.get(next, what).await? {
                Fetched::Page(page) => Ok(Ok(page)),
                Fetched::Gone(detail) => Err(ConnectorError::Source(format!(
                    "{what}: the round's next page is gone (HTTP 410: {detail}); run again"
                ))),
            },
            (None, Some(delta)) => Ok(Err(delta.clone())),
            (None, None) => Err(ConnectorError::Source(format!(
                "{what}: a page without @odata.nextLink or @odata.deltaLink; the round cannot be completed"
            ))),
        }
    }

    async fn users(&self, mut page: Page) -> Result<String, ConnectorError> {
        loop {
            for entry in &page.value {
                self.send(user_item(&self.config.user_mapping, entry, self.round)).await?;
            }
            match self.next(&page, "GET /users/delta (next page)").await? {
                Ok(next) => page = next,
                Err(delta_link) => return Ok(delta_link),
            }
        }
    }

    /// Reads the whole round before sending, since a group may span pages. An incremental round
    /// lists member changes, not members: a group whose members changed has its full list read.
    async fn groups(&self, mut page: Page) -> Result<String, ConnectorError> {
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, PendingGroup> = HashMap::new();
        let delta_link = loop {
            for entry in std::mem::take(&mut page.value) {
                let Some(id) = id_of(&entry).map(str::to_owned) else { continue };
                let group = groups.entry(id.clone()).or_insert_with(|| {
                    order.push(id);
                    PendingGroup::default()
                });
                group.merge(entry);
            }
            match self.next(&page, "GET /groups/delta (next page)").await? {
                Ok(next) => page = next,
                Err(delta_link) => break delta_link,
            }
        };
        for id in order {
            let group = groups.remove(&id).expect("every listed group is pending");
            if group.removed {
                self.send(SourceItem::Deleted { kind: RecordKind::Group, key: id }).await?;
                continue;
            }
            let members = match self.round {
                Round::Full => Some(group.members),
                Round::Incremental if group.members_changed => Some(self.all_members(&id).await?),
                Round::Incremental => None,
            };
            self.send(group_record(&self.config.group_mapping, &id, &group.properties, self.round, members)).await?;
        }
        Ok(delta_link)
    }

    /// `/groups/{id}/members`, every page: a list cut short would drop memberships.
    async fn all_members(&self, id: &str) -> Result<Vec<MemberRef>, ConnectorError> {
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConnectorError::Source(format!("Graph sent the group id {id:?}, which is not a GUID")));
        }
        let url = self.graph.url(&format!("groups/{id}/members?$select=id"));
        let what = format!("GET {}", path_of(&url));
        let mut page = first_page(self.graph, &url, &what).await?;
        let mut members = Vec::new();
        loop {
            members.extend(page.value.iter().filter_map(member_of).map(|(member, _)| member));
            match &page.next_link {
                Some(next) => page = first_page(self.graph, next, &what).await?,
                None => return Ok(members),
            }
        }
    }
}

impl PendingGroup {
    fn merge(&mut self, mut entry: Map<String, Value>) {
        if is_removed(&entry) {
            *self = PendingGroup { removed: true, ..PendingGroup::default() };
            return;
        }
        self.removed = false;
        if let Some(Value::Array(changes)) = entry.remove(MEMBERS_DELTA) {
            self.members_changed = true;
            let added = changes.iter().filter_map(Value::as_object).filter_map(member_of);
            self.members.extend(added.filter(|(_, removed)| !removed).map(|(member, _)| member));
        }
        self.properties.extend(entry);
    }
}
