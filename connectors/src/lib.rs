//! Connectors read identity sources and yield normalized records (DESIGN.md §3). They never touch
//! the database: the sync engine in `server/` correlates, diffs and writes what they yield.

pub mod azure;
pub mod csv;
pub mod google;
pub mod ldap;
pub mod retry;
pub mod secret;
mod spawned;

use futures_util::stream::BoxStream;
use serde_json::Value;

/// What a source holds: users and groups (memberships travel on the records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    User,
    Group,
}

/// One value the source owns: `path` is a SCIM attribute path the PATCH engine understands
/// (`userName`, `name.formatted`, `emails[type eq "work"].value`); `name` is what reports call the
/// field (CSV: `email`, `groupIdList`). Several fields may share a name (CSV's UserName sets both
/// `displayName` and `name.formatted`). A null `value` says the source has no value: the engine
/// removes what the path holds (for `attr[filter].value`, the whole element).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub path: String,
    pub value: Value,
}

/// A user's value that names another user of the same source by its source key (Graph's
/// `manager`). The engine stores the `id` of the resource linked to that key, as RFC 7643 §4.3
/// wants of `manager.value`; `name` and `path` are a `Field`'s. A `key` of None says the source
/// has none: the engine removes what the path holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub name: String,
    pub path: String,
    pub key: Option<String>,
}

/// The scimd extension's `lastAccess`: readOnly to SCIM clients, but a field a connector may set
/// (a source's last sign-in); the engine stores it as it stores other fields.
pub const LAST_ACCESS_PATH: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:lastAccess";

/// The scimd extension's `deactivationReason`: a field a connector may set to say why the source
/// disables the user (Google: suspended or archived); used when the user is inactive, in place of
/// the engine's `CONNECTOR_SYNC`.
pub const DEACTIVATION_REASON_PATH: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User:deactivationReason";

/// A rule for finding the existing resource of a record that is not linked yet, tried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// The user's primary (or first) email, compared case-insensitively.
    Email(String),
    UserName(String),
    ExternalId(String),
}

/// A group named by a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    /// An existing group's `externalId`, or failing that its `displayName` (CSV's GroupIdList).
    ExternalIdOrName(String),
    /// A group record of the same source, by its key (Graph group ids).
    SourceKey(String),
}

/// A member named by a group record: a user or group record of the same source. The engine finds
/// which through the resource linked to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MemberRef {
    /// By the record's stable key (Graph and Google member ids).
    SourceKey(String),
    /// By the record's `name` in the source (an LDAP member DN), normalized like `Record::name`.
    SourceName(String),
    /// A user by `userName`, compared case-insensitively (posixGroup `memberUid`).
    UserName(String),
}

/// The memberships a source owns for one user: the engine adds the missing ones and removes those
/// the source added before and no longer lists; memberships from other writers are left alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// The report name of the field (CSV: `groupIdList`).
    pub field: String,
    pub groups: Vec<GroupRef>,
}

/// Where a record came from, for result files that repeat the input exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// 1-based line of the record in the source file (the header is line 1).
    pub line: u64,
    /// The values as the source gave them, in the connector's report column order.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: RecordKind,
    /// The stable key of the entry in its source (entryUUID, objectGUID, Graph id, CSV email).
    pub key: String,
    /// The entry's name in its source when members are named by it (an LDAP DN, normalized with
    /// the connector's rule so equal names compare equal); the engine keeps it on the link so
    /// group records can name their members by it.
    pub name: Option<String>,
    pub fields: Vec<Field>,
    /// Users: values that are other users of the source, by key.
    pub references: Vec<Reference>,
    pub correlate: Vec<Correlation>,
    /// Users: the memberships the source owns, if it maps any.
    pub groups: Option<Membership>,
    /// Groups: the members the source owns (all of them, not a change list), if it maps any. The
    /// engine adds the missing ones and removes those this source added before and no longer lists.
    pub members: Option<Vec<MemberRef>>,
    pub origin: Option<Origin>,
}

/// A source entry that could not become a record; the engine records it as FAILED with `errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub kind: RecordKind,
    /// Rules that still identify the entry, so the missing policy does not treat its resource as
    /// gone from the source.
    pub correlate: Vec<Correlation>,
    /// Error codes (CSV: `EMAIL_INVALID`, `DUPLICATE_ID`, …), in the order found.
    pub errors: Vec<String>,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SourceItem {
    Record(Record),
    Rejected(Rejected),
    /// An explicit deletion reported by an incremental read (Graph `@removed`, AD `isDeleted`).
    Deleted {
        kind: RecordKind,
        key: String,
    },
}

/// A failure that stops a run; nothing of the run's current batch is written.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// A file that cannot be used at all (CSV codes 2700–2711).
    #[error("{name} ({code}): {message}")]
    File { code: u16, name: &'static str, message: String },
    #[error("cannot read the source: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Source(String),
}

pub type ItemStream<'a> = BoxStream<'a, Result<SourceItem, ConnectorError>>;

/// A source the sync engine can run.
pub trait Connector: Send {
    /// The source kind: `csv`, `ldap`, `azure`, `google`.
    fn kind(&self) -> &'static str;
    /// Reads the source: everything when `cursor` is None (a full run), else what changed since
    /// the run that returned `cursor`.
    fn read(&mut self, cursor: Option<&str>) -> ItemStream<'_>;
    /// Once the stream has ended: the cursor for the next incremental run, or None for a source
    /// that has no incremental runs (CSV).
    fn next_cursor(&self) -> Option<String>;
    /// Once the stream has ended: whether the read returned everything although it was given a
    /// cursor (Graph answers 410 Gone for an expired delta link and the read starts over), so the
    /// engine applies the missing policy as after a full run.
    fn read_everything(&self) -> bool {
        false
    }
}
