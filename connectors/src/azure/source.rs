//! [`AzureSource`]: the read runs as its own task and hands items to the engine through a bounded
//! channel, so a slow engine holds back the page requests instead of filling memory.

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::AzureConfig;
use super::cursor::Cursor;
use super::run::{Item, Outcome, read_tenant};
use crate::{Connector, ConnectorError, ItemStream};

const CHANNEL_CAPACITY: usize = 1024;

type ReadTask = JoinHandle<Result<Outcome, ConnectorError>>;

#[derive(Debug, Clone)]
pub struct AzureSource {
    config: AzureConfig,
    /// Set when a read ended without an error.
    ended: Option<(String, bool)>,
}

impl AzureSource {
    pub fn new(config: AzureConfig) -> Self {
        Self { config, ended: None }
    }

    pub fn config(&self) -> &AzureConfig {
        &self.config
    }
}

impl Connector for AzureSource {
    fn kind(&self) -> &'static str {
        "azure"
    }

    fn read(&mut self, cursor: Option<&str>) -> ItemStream<'_> {
        self.ended = None;
        let start = ReadState::NotStarted { config: Box::new(self.config.clone()), cursor: cursor.map(str::to_owned) };
        stream::unfold((start, &mut self.ended), |(state, ended)| async move {
            let (item, state) = next_item(state, ended).await?;
            Some((item, (state, ended)))
        })
        .boxed()
    }

    fn next_cursor(&self) -> Option<String> {
        self.ended.as_ref().map(|(cursor, _)| cursor.clone())
    }

    fn read_everything(&self) -> bool {
        self.ended.as_ref().is_some_and(|(_, full)| *full)
    }
}

enum ReadState {
    NotStarted { config: Box<AzureConfig>, cursor: Option<String> },
    Reading { items: mpsc::Receiver<Item>, task: ReadTask },
    Done,
}

async fn next_item(mut state: ReadState, ended: &mut Option<(String, bool)>) -> Option<(Item, ReadState)> {
    loop {
        state = match state {
            // Started on the first poll, so building the stream needs no runtime.
            ReadState::NotStarted { config, cursor } => {
                let cursor = match cursor.as_deref().map(Cursor::parse).transpose() {
                    Ok(cursor) => cursor,
                    Err(error) => return Some((Err(error), ReadState::Done)),
                };
                let (sender, items) = mpsc::channel(CHANNEL_CAPACITY);
                let task = tokio::spawn(async move { read_tenant(&config, cursor, &sender).await });
                ReadState::Reading { items, task }
            }
            ReadState::Reading { mut items, task } => {
                if let Some(item) = items.recv().await {
                    return Some((item, ReadState::Reading { items, task }));
                }
                let error = match task.await {
                    Ok(Ok(outcome)) => {
                        *ended = Some((outcome.cursor.to_json(), outcome.full));
                        return None;
                    }
                    Ok(Err(error)) => error,
                    Err(failure) => ConnectorError::Source(format!("the Graph reader stopped: {failure}")),
                };
                return Some((Err(error), ReadState::Done));
            }
            ReadState::Done => return None,
        };
    }
}
