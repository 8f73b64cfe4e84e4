//! The Google Workspace connector against the in-process fake Directory API (`scimd-fakes`):
//! the real HTTP, JWT and paging code, with only the base URL and the key's token_uri local.

mod auth;
mod faults;
mod reading;
mod support;
