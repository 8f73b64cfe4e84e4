//! End-to-end tests of scimd: the real server, over HTTP, on SQLite and PostgreSQL. One test binary
//! (linking is the slow part of a build on two cores).

mod fixture;

mod audit;
mod azure_sync;
mod bulk;
mod cli;
mod connector_groups;
mod crash;
mod csv_sync;
mod cursor;
mod discovery;
mod entra;
mod errors;
mod filters;
mod google_sync;
mod groups;
mod ldap_sync;
mod okta;
mod openapi;
mod operations;
mod paging;
mod replicas;
mod schedules;
mod search;
mod tenancy;
mod tokens;
mod users;
