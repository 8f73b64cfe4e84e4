//! [`GoogleSource`]: the read runs as its own task and hands items to the engine through a bounded
//! channel, so a slow engine holds back the page requests instead of filling memory.

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::GoogleConfig;
use super::read::{Item, read_directory};
use crate::{Connector, ConnectorError, ItemStream};

const CHANNEL_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct GoogleSource {
    config: GoogleConfig,
}

impl GoogleSource {
    pub fn new(config: GoogleConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }
}

impl Connector for GoogleSource {
    fn kind(&self) -> &'static str {
        "google"
    }

    /// Always a full read: the Directory API has no change feed, so a cursor cannot narrow it.
    fn read(&mut self, _cursor: Option<&str>) -> ItemStream<'_> {
        let start = ReadState::NotStarted(Box::new(self.config.clone()));
        stream::unfold(start, |state| async move { next_item(state).await }).boxed()
    }

    /// None: each run is full, and the missing policy finds what Google no longer has.
    fn next_cursor(&self) -> Option<String> {
        None
    }
}

enum ReadState {
    NotStarted(Box<GoogleConfig>),
    Reading { items: mpsc::Receiver<Item>, task: JoinHandle<Result<(), ConnectorError>> },
    Done,
}

async fn next_item(mut state: ReadState) -> Option<(Item, ReadState)> {
    loop {
        state = match state {
            // Started on the first poll, so building the stream needs no runtime.
            ReadState::NotStarted(config) => {
                let (sender, items) = mpsc::channel(CHANNEL_CAPACITY);
                let task = tokio::spawn(async move { read_directory(&config, &sender).await });
                ReadState::Reading { items, task }
            }
            ReadState::Reading { mut items, task } => {
                if let Some(item) = items.recv().await {
                    return Some((item, ReadState::Reading { items, task }));
                }
                let error = match task.await {
                    Ok(Ok(())) => return None,
                    Ok(Err(error)) => error,
                    Err(failure) => ConnectorError::Source(format!("the Google reader stopped: {failure}")),
                };
                return Some((Err(error), ReadState::Done));
            }
            ReadState::Done => return None,
        };
    }
}
