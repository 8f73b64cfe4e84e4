//! The LDAP connector against a real OpenLDAP (tests/ldap/slapd.sh), one instance per test.

mod errors;
mod full_read;
mod incremental;
mod paging;
mod support;
