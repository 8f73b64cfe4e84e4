//! Searches. Every one that may return many entries is paged (RFC 2696), and a search counts as
//! read to the end only when the server says success: a directory that stops early with
//! sizeLimitExceeded would otherwise look smaller than it is, and a full run would deactivate
//! the users it did not send.

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapResult, SearchEntry, SearchStream};

use super::config::{LdapConfig, Scope};
use super::connect::operation_error;
use crate::ConnectorError;

type Stream = SearchStream<'static, String, Vec<String>>;

/// What to search for; `what` names it in messages ("users") and `config_key` is where its base
/// is configured ("users.base"), if it is configured.
pub(super) struct Query<'q> {
    pub what: &'q str,
    pub config_key: Option<&'q str>,
    pub base: &'q str,
    pub scope: Scope,
    pub filter: &'q str,
    pub attributes: Vec<String>,
    pub controls: Vec<RawControl>,
}

pub(super) struct PagedSearch<'c> {
    stream: Stream,
    config: &'c LdapConfig,
    what: String,
    base: String,
    config_key: Option<String>,
    entries: u64,
    done: bool,
}

impl<'c> PagedSearch<'c> {
    pub(super) async fn start(
        ldap: &mut Ldap,
        config: &'c LdapConfig,
        query: Query<'_>,
    ) -> Result<Self, ConnectorError> {
        let adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> =
            vec![Box::new(EntriesOnly::new()), Box::new(PagedResults::new(page_size(config)))];
        if !query.controls.is_empty() {
            ldap.with_controls(query.controls);
        }
        let stream = ldap
            .with_timeout(config.timeout)
            .streaming_search_with(adapters, query.base, scope(query.scope), query.filter, query.attributes)
            .await
            .map_err(|error| operation_error(config, &format!("the search of {}", query.what), &error))?;
        Ok(Self {
            stream,
            config,
            what: query.what.to_owned(),
            base: query.base.to_owned(),
            config_key: query.config_key.map(str::to_owned),
            entries: 0,
            done: false,
        })
    }

    /// The next entry, or None once the server has reported the search complete and successful.
    pub(super) async fn next(&mut self) -> Result<Option<SearchEntry>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        match self.stream.next().await {
            Ok(Some(entry)) => {
                self.entries += 1;
                Ok(Some(SearchEntry::construct(entry)))
            }
            Ok(None) => {
                self.done = true;
                let result = self.stream.finish().await;
                self.check(&result).map(|()| None)
            }
            Err(error) => {
                self.done = true;
                Err(operation_error(self.config, &format!("the search of {}", self.what), &error))
            }
        }
    }

    fn check(&self, result: &LdapResult) -> Result<(), ConnectorError> {
        let (what, base, read) = (&self.what, &self.base, self.entries);
        let base_hint = match &self.config_key {
            Some(key) => format!("check {key}"),
            None => "check the server's naming context".to_owned(),
        };
        let message = match result.rc {
            0 => return Ok(()),
            3 | 4 | 11 => format!(
                "the server stopped the search of {what} under {base} after {read} entries ({result}) although it \
                 was paged, so the directory was not read to the end: raise the bind account's limits for paged \
                 searches (OpenLDAP: limits … size.prtotal=unlimited; Active Directory: MaxPageSize, \
                 MaxQueryDuration) or lower pageSize"
            ),
            10 => format!(
                "the server referred the search of {what} under {base} elsewhere ({}): point url at the server that \
                 holds {base}, or {base_hint}",
                result.refs.join(" ")
            ),
            12 => format!(
                "the server does not support a control the search of {what} needs ({result}): paged results are \
                 required, and Active Directory deletions need the show-deleted control"
            ),
            32 => format!("the base {base} of the search of {what} does not exist (noSuchObject): {base_hint}"),
            50 => format!(
                "the bind account may not search {what} under {base} (insufficientAccessRights): grant it read access"
            ),
            _ => format!("the search of {what} under {base} failed after {read} entries: {result}"),
        };
        Err(ConnectorError::Source(message))
    }
}

/// One entry by DN (a base-scope search), or None when the server returned none.
pub(super) async fn read_entry(
    ldap: &mut Ldap,
    config: &LdapConfig,
    dn: &str,
    attributes: Vec<String>,
) -> Result<Option<SearchEntry>, ConnectorError> {
    let what = format!("the read of {dn}");
    let (entries, _result) = ldap
        .with_timeout(config.timeout)
        .search(dn, ldap3::Scope::Base, "(objectClass=*)", attributes)
        .await
        .map_err(|error| operation_error(config, &what, &error))?
        .success()
        .map_err(|error| operation_error(config, &what, &error))?;
    Ok(entries.into_iter().next().map(SearchEntry::construct))
}

fn page_size(config: &LdapConfig) -> i32 {
    i32::try_from(config.page_size).unwrap_or(i32::MAX)
}

fn scope(scope: Scope) -> ldap3::Scope {
    match scope {
        Scope::Sub => ldap3::Scope::Subtree,
        Scope::One => ldap3::Scope::OneLevel,
        Scope::Base => ldap3::Scope::Base,
    }
}
