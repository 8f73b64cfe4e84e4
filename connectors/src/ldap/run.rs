//! One read of the directory: all users, then all groups (whose members name users by DN, so the
//! engine can resolve them once the users are written), then, for an incremental Active Directory
//! run, the deletions. Returns the cursor for the next run.

use ldap3::controls::RawControl;
use ldap3::{Ldap, SearchEntry};
use tokio::sync::mpsc::Sender;

use super::ad::{self, RangeEnd};
use super::config::{Flavor, LdapConfig, Scope};
use super::connect::connect;
use super::cursor::{Cursor, narrowed, whole_seconds};
use super::dn::normalize_dn;
use super::records::{EntryReader, values};
use super::search::{PagedSearch, Query, read_entry};
use crate::{ConnectorError, RecordKind, SourceItem};

pub(super) use crate::spawned::Item;

const MEMBER_ATTRIBUTE: &str = "member";
const MODIFY_TIMESTAMP: &str = "modifyTimestamp";

/// Reads the changes since `cursor` (everything without one) into `out`; the cursor it returns
/// marks a point no later than the start of this read.
pub(super) async fn read_directory(
    config: &LdapConfig,
    cursor: Option<Cursor>,
    out: &Sender<Item>,
) -> Result<Option<Cursor>, ConnectorError> {
    let mut ldap = connect(config).await?;
    check_bases(&mut ldap, config).await?;
    let root = RootDse::read(&mut ldap, config).await?;
    let start_mark = match config.flavor {
        Flavor::ActiveDirectory => Some(root.highest_committed_usn()?),
        Flavor::OpenLdap => root.context_csn_mark(&mut ldap, config).await,
    };
    // A cursor of the other flavor (the configuration changed) cannot narrow anything: read all.
    let since = cursor.filter(|cursor| matches!(cursor, Cursor::ActiveDirectory { .. }) == is_ad(config));
    let mut run = Run { config, reader: EntryReader::new(config), out, latest_change: None };
    run.read_users(&mut ldap, since.as_ref()).await?;
    if let Some(groups) = &config.groups {
        run.read_groups(&mut ldap, groups, since.as_ref()).await?;
    }
    if let (Flavor::ActiveDirectory, Some(since)) = (config.flavor, &since) {
        run.read_deletions(&mut ldap, &root, since).await?;
    }
    let _closing = ldap.unbind().await;
    let latest_seen = run.latest_change.map(|modify_timestamp| Cursor::OpenLdap { modify_timestamp });
    Ok(start_mark.or(latest_seen).or(since))
}

/// Both bases must exist before anything is yielded: a wrong `groups.base` found only after the
/// users would fail a run whose users were already written.
async fn check_bases(ldap: &mut Ldap, config: &LdapConfig) -> Result<(), ConnectorError> {
    let users = ("users", "users.base", config.users.base.as_str());
    let groups = config.groups.iter().map(|spec| ("groups", "groups.base", spec.base.as_str()));
    for (what, config_key, base) in std::iter::once(users).chain(groups) {
        let query = Query {
            what,
            config_key: Some(config_key),
            base,
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attributes: vec!["1.1".to_owned()],
            controls: Vec::new(),
        };
        let mut search = PagedSearch::start(ldap, config, query).await?;
        while search.next().await?.is_some() {}
    }
    Ok(())
}

fn is_ad(config: &LdapConfig) -> bool {
    config.flavor == Flavor::ActiveDirectory
}

struct Run<'c> {
    config: &'c LdapConfig,
    reader: EntryReader<'c>,
    out: &'c Sender<Item>,
    /// OpenLDAP: the latest modifyTimestamp read, the cursor when the server keeps no contextCSN.
    latest_change: Option<String>,
}

impl Run<'_> {
    async fn send(&self, item: SourceItem) -> Result<(), ConnectorError> {
        self.out.send(Ok(item)).await.map_err(|_| ConnectorError::Source("the LDAP read was stopped".to_owned()))
    }

    fn change_attributes(&self) -> &'static [&'static str] {
        if is_ad(self.config) { &[] } else { &[MODIFY_TIMESTAMP] }
    }

    fn note_change(&mut self, entry: &SearchEntry) {
        if let Some(time) = values(entry, MODIFY_TIMESTAMP).first().and_then(|time| whole_seconds(time))
            && self.latest_change.as_ref().is_none_or(|latest| *latest < time)
        {
            self.latest_change = Some(time);
        }
    }

    async fn read_users(&mut self, ldap: &mut Ldap, since: Option<&Cursor>) -> Result<(), ConnectorError> {
        let spec = &self.config.users;
        let filter = narrowed(&spec.filter, since);
        let query = Query {
            what: "users",
            config_key: Some("users.base"),
            base: &spec.base,
            scope: spec.scope,
            filter: &filter,
            attributes: self.reader.user_attributes(self.change_attributes()),
            controls: Vec::new(),
        };
        let mut search = PagedSearch::start(ldap, self.config, query).await?;
        while let Some(entry) = search.next().await? {
            self.note_change(&entry);
            self.send(self.reader.user_item(&entry)).await?;
        }
        Ok(())
    }

    /// A changed group is sent with all its members, so memberships changed on the group side
    /// (the memberof overlay does not touch the user's modifyTimestamp) are not missed.
    async fn read_groups(
        &mut self,
        ldap: &mut Ldap,
        spec: &super::config::SearchSpec,
        since: Option<&Cursor>,
    ) -> Result<(), ConnectorError> {
        let filter = narrowed(&spec.filter, since);
        let member_request = if is_ad(self.config) {
            ad::member_range_request(MEMBER_ATTRIBUTE, 0)
        } else {
            MEMBER_ATTRIBUTE.to_owned()
        };
        let query = Query {
            what: "groups",
            config_key: Some("groups.base"),
            base: &spec.base,
            scope: spec.scope,
            filter: &filter,
            attributes: self.reader.group_attributes(&member_request, self.change_attributes()),
            controls: Vec::new(),
        };
        let mut search = PagedSearch::start(ldap, self.config, query).await?;
        while let Some(entry) = search.next().await? {
            self.note_change(&entry);
            let members = all_members(ldap, self.config, &entry).await?;
            self.send(self.reader.group_item(&entry, &members)).await?;
        }
        Ok(())
    }

    /// AD keeps deleted objects as tombstones under CN=Deleted Objects, found only with the
    /// show-deleted control, so the whole naming context is searched.
    async fn read_deletions(&mut self, ldap: &mut Ldap, root: &RootDse, since: &Cursor) -> Result<(), ConnectorError> {
        let base = root.default_naming_context.as_deref().unwrap_or(&self.config.users.base);
        let filter = narrowed("(isDeleted=TRUE)", Some(since));
        let show_deleted = RawControl { ctype: ad::SHOW_DELETED_OID.to_owned(), crit: true, val: None };
        let query = Query {
            what: "deleted objects",
            config_key: None,
            base,
            scope: Scope::Sub,
            filter: &filter,
            attributes: vec![self.config.key_attribute.clone(), "objectClass".to_owned()],
            controls: vec![show_deleted],
        };
        let mut search = PagedSearch::start(ldap, self.config, query).await?;
        while let Some(entry) = search.next().await? {
            let classes = values(&entry, "objectClass");
            let is = |class: &str| classes.iter().any(|c| c.eq_ignore_ascii_case(class));
            let kind = if is("group") {
                RecordKind::Group
            } else if is("user") && !is("computer") {
                RecordKind::User
            } else {
                continue;
            };
            if let Some(key) = self.reader.key(&entry) {
                self.send(SourceItem::Deleted { kind, key }).await?;
            }
        }
        Ok(())
    }
}

/// A group's `member` values. OpenLDAP sends them all; AD sends them in ranges, so the rest are
/// asked for range by range until one ends in `-*`, each starting after where the last one ended
/// (the server may send fewer values than asked for). A list that stops short is an error, never
/// a shorter list: the engine would remove the missing memberships.
async fn all_members(ldap: &mut Ldap, config: &LdapConfig, entry: &SearchEntry) -> Result<Vec<String>, ConnectorError> {
    let Some((mut members, mut range)) = ad::returned_members(entry, MEMBER_ATTRIBUTE) else {
        return Ok(Vec::new());
    };
    if !range.continues_at(0, members.len()) {
        return Err(members_cut_short(entry, 0));
    }
    while let RangeEnd::At(high) = range.end {
        let request = ad::member_range_request(MEMBER_ATTRIBUTE, high + 1);
        let next = read_entry(ldap, config, &entry.dn, vec![request]).await?;
        let next = next.and_then(|next| ad::returned_members(&next, MEMBER_ATTRIBUTE));
        match next {
            Some((more, next_range)) if next_range.continues_at(high + 1, more.len()) => {
                members.extend(more);
                range = next_range;
            }
            _ => return Err(members_cut_short(entry, members.len())),
        }
    }
    Ok(members)
}

fn members_cut_short(entry: &SearchEntry, read: usize) -> ConnectorError {
    ConnectorError::Source(format!(
        "the members of {} stopped after {read} values: the server sent no range continuing them; the group may \
         have changed during the read, run again",
        entry.dn
    ))
}

/// What the root DSE says about the server.
struct RootDse {
    naming_contexts: Vec<String>,
    default_naming_context: Option<String>,
    highest_committed_usn: Option<String>,
}

impl RootDse {
    async fn read(ldap: &mut Ldap, config: &LdapConfig) -> Result<Self, ConnectorError> {
        let attributes = ["namingContexts", "defaultNamingContext", "highestCommittedUSN"].map(str::to_owned).to_vec();
        let entry = read_entry(ldap, config, "", attributes).await?;
        let first = |attribute| entry.as_ref().and_then(|entry| values(entry, attribute).first().cloned());
        Ok(Self {
            naming_contexts: entry.as_ref().map(|entry| values(entry, "namingContexts").to_vec()).unwrap_or_default(),
            default_naming_context: first("defaultNamingContext"),
            highest_committed_usn: first("highestCommittedUSN"),
        })
    }

    fn highest_committed_usn(&self) -> Result<Cursor, ConnectorError> {
        let usn = self.highest_committed_usn.as_deref().and_then(|usn| usn.trim().parse().ok());
        let usn = usn.ok_or_else(|| {
            ConnectorError::Source(
                "the server's root DSE has no highestCommittedUSN, so it is not Active Directory: set flavor to \
                 openldap"
                    .to_owned(),
            )
        })?;
        Ok(Cursor::ActiveDirectory { highest_committed_usn: usn })
    }

    /// The latest change the server had committed when the read started, from the contextCSN of the
    /// naming context holding the users (kept by OpenLDAP's syncprov overlay); None without one.
    async fn context_csn_mark(&self, ldap: &mut Ldap, config: &LdapConfig) -> Option<Cursor> {
        let users_base = normalize_dn(&config.users.base);
        let context = self.naming_contexts.iter().find(|context| {
            let context = normalize_dn(context);
            users_base == context || users_base.ends_with(&format!(",{context}"))
        })?;
        let entry = read_entry(ldap, config, context, vec!["contextCSN".to_owned()]).await.ok()??;
        let latest = values(&entry, "contextCSN").iter().filter_map(|csn| whole_seconds(csn)).max()?;
        Some(Cursor::OpenLdap { modify_timestamp: latest })
    }
}
