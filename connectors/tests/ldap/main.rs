//! The LDAP connector against a real OpenLDAP (tests/ldap/slapd.sh), one instance per test; its
//! Active Directory flavour against Samba AD (tests/ldap/samba-ad.sh), one DC shared by the tests,
//! and against an in-process fake AD for the limits Samba does not enforce.

mod active_directory_fake;
mod active_directory_samba;
mod errors;
mod full_read;
mod incremental;
mod paging;
mod support;
mod tls;
