//! LDAP and Active Directory: users and groups read with paged searches, members by DN.
//!
//! A run without a cursor reads everything; with one it reads the entries changed since
//! (OpenLDAP: `modifyTimestamp`, Active Directory: `uSNChanged`), groups included, since a
//! membership change touches the group and not the user. Users come first, then groups, then
//! (Active Directory only) deletions. See [`LdapConfig`] for the configuration.

pub mod ad;
mod config;
mod connect;
mod cursor;
pub mod dn;
mod mapping;
mod records;
mod run;
mod search;
mod source;

pub use config::{BIND_PASSWORD_KEYS, Bind, Flavor, LdapConfig, Scope, SearchSpec};
pub use cursor::Cursor;
pub use mapping::Mapping;
pub use source::LdapSource;
