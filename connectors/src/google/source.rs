//! [`GoogleSource`]: the read runs as its own task (`spawned`), so a slow engine holds back the page
//! requests instead of filling memory.

use super::config::GoogleConfig;
use super::read::read_directory;
use crate::spawned::spawned_stream;
use crate::{Connector, ItemStream};

#[derive(Debug, Clone)]
pub struct GoogleSource {
    config: GoogleConfig,
    /// Set when a read ended without an error (Google has no cursor).
    ended: Option<()>,
}

impl GoogleSource {
    pub fn new(config: GoogleConfig) -> Self {
        Self { config, ended: None }
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
        let config = self.config.clone();
        spawned_stream("Google", move |sender| async move { read_directory(&config, &sender).await }, &mut self.ended)
    }

    /// None: each run is full, and the missing policy finds what Google no longer has.
    fn next_cursor(&self) -> Option<String> {
        None
    }
}
