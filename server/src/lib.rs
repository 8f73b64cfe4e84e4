//! scimd: the server crate — HTTP (SCIM), storage, CLI. See DESIGN.md for the decisions.

pub mod admin;
pub mod audit;
pub mod cli;
pub mod config;
pub mod http;
pub mod password;
pub mod scim;
pub mod serve;
pub mod store;
pub mod sync;
pub mod telemetry;
