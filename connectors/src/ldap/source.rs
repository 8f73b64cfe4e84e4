//! [`LdapSource`]: the read runs as its own task (`spawned`), so a slow engine holds back the
//! paged searches instead of filling memory.

use super::config::LdapConfig;
use super::cursor::Cursor;
use super::run::read_directory;
use crate::spawned::spawned_stream;
use crate::{Connector, ItemStream};

#[derive(Debug, Clone)]
pub struct LdapSource {
    config: LdapConfig,
    /// Set when a read ended without an error: the cursor it returned, if any.
    ended: Option<Option<Cursor>>,
}

impl LdapSource {
    pub fn new(config: LdapConfig) -> Self {
        Self { config, ended: None }
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
        let config = self.config.clone();
        let cursor = cursor.map(str::to_owned);
        let read = move |sender| async move {
            let cursor = cursor.as_deref().map(Cursor::parse).transpose()?;
            read_directory(&config, cursor, &sender).await
        };
        spawned_stream("LDAP", read, &mut self.ended)
    }

    /// Set only when the stream ended without an error.
    fn next_cursor(&self) -> Option<String> {
        self.ended.as_ref()?.as_ref().map(Cursor::to_json)
    }
}
