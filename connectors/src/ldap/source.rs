//! [`LdapSource`]: the read runs as its own task and hands items to the engine through a bounded
//! channel, so a slow engine holds back the paged searches instead of filling memory.

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::LdapConfig;
use super::cursor::Cursor;
use super::run::{Item, read_directory};
use crate::{Connector, ConnectorError, ItemStream};

const CHANNEL_CAPACITY: usize = 1024;

type ReadTask = JoinHandle<Result<Option<Cursor>, ConnectorError>>;

#[derive(Debug, Clone)]
pub struct LdapSource {
    config: LdapConfig,
    next_cursor: Option<String>,
}

impl LdapSource {
    pub fn new(config: LdapConfig) -> Self {
        Self { config, next_cursor: None }
    }

    pub fn config(&self) -> &LdapConfig {
        &self.config
    }
}

impl Connector for LdapSource {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    fn read(&mut self, cursor: Option<&str>) -> ItemStream<'_> {
        self.next_cursor = None;
        let start = ReadState::NotStarted { config: Box::new(self.config.clone()), cursor: cursor.map(str::to_owned) };
        stream::unfold((start, &mut self.next_cursor), |(state, next_cursor)| async move {
            let (item, state) = next_item(state, next_cursor).await?;
            Some((item, (state, next_cursor)))
        })
        .boxed()
    }

    /// Set only when the stream ended without an error.
    fn next_cursor(&self) -> Option<String> {
        self.next_cursor.clone()
    }
}

enum ReadState {
    NotStarted { config: Box<LdapConfig>, cursor: Option<String> },
    Reading { items: mpsc::Receiver<Item>, task: ReadTask },
    Done,
}

async fn next_item(mut state: ReadState, next_cursor: &mut Option<String>) -> Option<(Item, ReadState)> {
    loop {
        state = match state {
            // Started on the first poll, so building the stream needs no runtime.
            ReadState::NotStarted { config, cursor } => {
                let cursor = match cursor.as_deref().map(Cursor::parse).transpose() {
                    Ok(cursor) => cursor,
                    Err(error) => return Some((Err(error), ReadState::Done)),
                };
                let (sender, items) = mpsc::channel(CHANNEL_CAPACITY);
                let task = tokio::spawn(async move { read_directory(&config, cursor, &sender).await });
                ReadState::Reading { items, task }
            }
            ReadState::Reading { mut items, task } => {
                if let Some(item) = items.recv().await {
                    return Some((item, ReadState::Reading { items, task }));
                }
                let error = match task.await {
                    Ok(Ok(cursor)) => {
                        *next_cursor = cursor.map(|cursor| cursor.to_json());
                        return None;
                    }
                    Ok(Err(error)) => error,
                    Err(failure) => ConnectorError::Source(format!("the LDAP reader stopped: {failure}")),
                };
                return Some((Err(error), ReadState::Done));
            }
            ReadState::Done => return None,
        };
    }
}
