//! [`AzureSource`]: the read runs as its own task (`spawned`), so a slow engine holds back the page
//! requests instead of filling memory.

use super::config::AzureConfig;
use super::cursor::Cursor;
use super::run::{Outcome, read_tenant};
use crate::spawned::spawned_stream;
use crate::{Connector, ItemStream};

#[derive(Debug, Clone)]
pub struct AzureSource {
    config: AzureConfig,
    /// Set when a read ended without an error.
    ended: Option<Outcome>,
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
        let config = self.config.clone();
        let cursor = cursor.map(str::to_owned);
        let read = move |sender| async move {
            let cursor = cursor.as_deref().map(Cursor::parse).transpose()?;
            read_tenant(&config, cursor, &sender).await
        };
        spawned_stream("Graph", read, &mut self.ended)
    }

    fn next_cursor(&self) -> Option<String> {
        self.ended.as_ref().map(|outcome| outcome.cursor.to_json())
    }

    fn read_everything(&self) -> bool {
        self.ended.as_ref().is_some_and(|outcome| outcome.full)
    }
}
