//! The `azure` connector against the fake Microsoft Graph (`scimd-fakes`), one fake per test:
//! paging, delta rounds, expired delta links, throttling, server errors, tokens and credentials.

mod delta;
mod faults;
mod paging;
mod support;
