//! Google Workspace through the Admin SDK Directory API: users, groups and their members, read
//! as a service account with domain-wide delegation (a JWT signed with the account's key is
//! exchanged for an access token acting as `adminEmail`).
//!
//! Google has no change feed for the directory, so every run is full: users first, then groups
//! with all their members (`members.list`, a few groups in flight at once). Users and groups gone
//! from Google are found by the engine's missing policy. See [`GoogleConfig`] for the settings.

mod auth;
mod client;
mod config;
mod key;
mod mapping;
mod read;
mod records;
mod source;

pub use config::{GoogleConfig, KeySource};
pub use key::ServiceAccountKey;
pub use mapping::Mapping;
pub use source::GoogleSource;

/// The OAuth scopes the connector asks for: read-only users, groups and members.
pub const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];
