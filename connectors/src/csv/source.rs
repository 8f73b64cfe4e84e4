//! [`CsvSource`]: the file is parsed on a blocking thread, and its items reach the async engine
//! through a bounded channel, so a slow engine holds back the parser instead of filling memory.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use futures_util::stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Connector, ConnectorError, ItemStream, SourceItem};

const CHANNEL_CAPACITY: usize = 1024;

type Item = Result<SourceItem, ConnectorError>;

/// A CSV bulk-registration file as a source. Check the file with [`super::inspect`] first: a run
/// that meets a file-level error part-way ends with that error.
#[derive(Debug, Clone)]
pub struct CsvSource {
    path: PathBuf,
}

impl CsvSource {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Connector for CsvSource {
    fn kind(&self) -> &'static str {
        "csv"
    }

    /// Every run reads the whole file; CSV has no incremental runs, so `cursor` is ignored.
    fn read(&mut self, _cursor: Option<&str>) -> ItemStream<'_> {
        stream::unfold(ReadState::NotStarted(self.path.clone()), next_item).boxed()
    }

    fn next_cursor(&self) -> Option<String> {
        None
    }
}

enum ReadState {
    NotStarted(PathBuf),
    Reading { items: mpsc::Receiver<Item>, reader: JoinHandle<()> },
    Done,
}

async fn next_item(mut state: ReadState) -> Option<(Item, ReadState)> {
    loop {
        state = match state {
            // Started on the first poll, so building the stream needs no runtime.
            ReadState::NotStarted(path) => {
                let (sender, items) = mpsc::channel(CHANNEL_CAPACITY);
                let reader = tokio::task::spawn_blocking(move || send_items(&path, &sender));
                ReadState::Reading { items, reader }
            }
            ReadState::Reading { mut items, reader } => {
                if let Some(item) = items.recv().await {
                    return Some((item, ReadState::Reading { items, reader }));
                }
                // The channel also closes when the reader panics; ending quietly then would look
                // like a complete file with users missing.
                return match reader.await {
                    Ok(()) => None,
                    Err(failure) => {
                        let error = ConnectorError::Source(format!("the CSV reader stopped: {failure}"));
                        Some((Err(error), ReadState::Done))
                    }
                };
            }
            ReadState::Done => return None,
        };
    }
}

fn send_items(path: &Path, sender: &mpsc::Sender<Item>) {
    match super::records(path) {
        Ok(records) => {
            for item in records {
                if sender.blocking_send(item).is_err() {
                    return; // the stream was dropped: nobody wants the rest
                }
            }
        }
        Err(error) => {
            // Fails only when the stream was dropped, and then nobody waits for the error.
            let _unread = sender.blocking_send(Err(error));
        }
    }
}
