//! Microsoft Entra ID through Microsoft Graph: users and groups read with delta queries, members
//! by Graph id, an app-only token by the client credentials grant.
//!
//! A run without a cursor reads everything (a delta round from scratch); with one it continues
//! from the stored delta links and reads only what changed, `@removed` entries becoming deletions.
//! See [`AzureConfig`] for the configuration and docs/design-notes.md for why Graph is called with
//! plain HTTP rather than graph-rs-sdk.

mod config;
mod cursor;
mod graph;
mod mapping;
mod records;
mod run;
mod source;
mod token;

pub use config::{AzureConfig, CLIENT_SECRET_KEYS, DEFAULT_AUTHORITY, DEFAULT_GRAPH_URL};
pub use cursor::Cursor;
pub use mapping::Mapping;
pub use source::AzureSource;
pub use token::GRAPH_SCOPE;
