//! Paging cursors (RFC 9865): where a walk through a query's results stands, handed to the client
//! as an opaque string and taken back with the next page's request.
//!
//! A cursor is base64url without padding (only RFC 3986 unreserved characters, as RFC 9865 §2
//! asks) of a small JSON payload followed by an HMAC-SHA256 tag cut to 128 bits. The tag covers the
//! payload and the query the cursor belongs to (tenant, resource types, filter, sortBy,
//! sortOrder), which the cursor does not carry: a cursor altered, forged, or replayed with another
//! query or by another tenant fails the check alike. The key is kept in the database
//! (`store/secrets.rs`), so every replica accepts the cursors any other issued.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use scimd_schemas::ScimError;
use scimd_schemas::filter::{AttrPath, Filter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Position, SortOrder};

/// Bytes of the HMAC tag kept in a cursor: 128 bits, as much as forging needs to guess.
const TAG_BYTES: usize = 16;

/// The query a cursor belongs to, as a digest.
pub struct QueryBinding([u8; 32]);

impl QueryBinding {
    /// `scope` names what is listed: a resource type, or the root search.
    pub fn new(tenant: &str, scope: &str, filter: Option<&Filter>, sort: Option<(&AttrPath, SortOrder)>) -> Self {
        let filter = filter.map(Filter::to_string).unwrap_or_default();
        let (sort_by, order) = match sort {
            Some((path, SortOrder::Ascending)) => (path.to_string(), "ascending"),
            Some((path, SortOrder::Descending)) => (path.to_string(), "descending"),
            None => (String::new(), ""),
        };
        let mut digest = Sha256::new();
        for part in [tenant, scope, &filter, &sort_by, order] {
            // Length-prefixed, so that no two different queries hash the same bytes.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        QueryBinding(digest.finalize().into())
    }
}

/// What a cursor says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// When it was issued, in Unix milliseconds.
    #[serde(rename = "t")]
    pub issued_ms: i64,
    /// totalResults, counted on the walk's first page.
    #[serde(rename = "n")]
    pub total: u64,
    /// Which resource type of a root search the walk is in (0 otherwise).
    #[serde(rename = "r", default)]
    pub part: usize,
    /// The position after the last row returned; None for the start of `part`.
    #[serde(rename = "a", default)]
    pub after: Option<Position>,
}

pub struct CursorCodec {
    key: Vec<u8>,
    timeout_seconds: u32,
}

fn invalid() -> ScimError {
    ScimError::invalid_cursor(
        "the cursor is not one this server issued for this query (the same endpoint, filter, sortBy and \
         sortOrder): send an empty cursor to start again",
    )
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl CursorCodec {
    pub fn new(key: Vec<u8>, timeout_seconds: u32) -> Self {
        CursorCodec { key, timeout_seconds }
    }

    fn mac(&self, binding: &QueryBinding, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(&binding.0);
        mac.update(payload);
        mac
    }

    pub fn encode(&self, binding: &QueryBinding, cursor: &Cursor) -> String {
        let mut bytes = serde_json::to_vec(cursor).expect("a cursor serialises");
        let tag = self.mac(binding, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor in a request: None for an empty one (the first page, RFC 9865 §2).
    pub fn decode(&self, binding: &QueryBinding, text: &str, now_ms: i64) -> Result<Option<Cursor>, ScimError> {
        if text.is_empty() {
            return Ok(None);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        let payload_len = bytes.len().checked_sub(TAG_BYTES).filter(|&n| n > 0).ok_or_else(invalid)?;
        let (payload, tag) = bytes.split_at(payload_len);
        self.mac(binding, payload).verify_truncated_left(tag).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(payload).map_err(|_| invalid())?;
        if now_ms - cursor.issued_ms > i64::from(self.timeout_seconds) * 1000 {
            return Err(ScimError::expired_cursor(format!(
                "the cursor expired: cursors are valid for {} seconds (cursorTimeout in /ServiceProviderConfig); \
                 send an empty cursor to start again",
                self.timeout_seconds
            )));
        }
        Ok(Some(cursor))
    }
}

#[cfg(test)]
mod tests {
    use scimd_schemas::ScimType;
    use scimd_schemas::filter::parse_filter;

    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec(), 60)
    }

    fn binding(tenant: &str, filter: &str) -> QueryBinding {
        let filter = parse_filter(filter).expect("filter");
        let path = AttrPath { urn: None, name: "userName".into(), sub: None };
        QueryBinding::new(tenant, "User", Some(&filter), Some((&path, SortOrder::Ascending)))
    }

    fn cursor() -> Cursor {
        Cursor {
            issued_ms: 1_000_000,
            total: 42,
            part: 1,
            after: Some(Position { key: Some("bjensen".into()), seq: 7 }),
        }
    }

    fn error_type(result: Result<Option<Cursor>, ScimError>) -> Option<ScimType> {
        result.expect_err("refused").scim_type
    }

    #[test]
    fn round_trips_in_unreserved_characters() {
        let b = binding("acme", "active eq true");
        let text = codec().encode(&b, &cursor());
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)), "{text}");
        assert_eq!(codec().decode(&b, &text, 1_000_500), Ok(Some(cursor())));
        let start = Cursor { after: None, part: 0, ..cursor() };
        assert_eq!(codec().decode(&b, &codec().encode(&b, &start), 1_000_500), Ok(Some(start)));
    }

    #[test]
    fn an_empty_cursor_is_the_first_page() {
        assert_eq!(codec().decode(&binding("acme", "active eq true"), "", 0), Ok(None));
    }

    #[test]
    fn a_changed_byte_anywhere_is_refused() {
        let b = binding("acme", "active eq true");
        let bytes = URL_SAFE_NO_PAD.decode(codec().encode(&b, &cursor())).expect("base64");
        for i in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[i] ^= 1;
            let text = URL_SAFE_NO_PAD.encode(tampered);
            assert_eq!(error_type(codec().decode(&b, &text, 1_000_500)), Some(ScimType::InvalidCursor), "byte {i}");
        }
    }

    #[test]
    fn another_query_tenant_or_key_is_refused() {
        let b = binding("acme", "active eq true");
        let text = codec().encode(&b, &cursor());
        let other_filter = binding("acme", "active eq false");
        assert_eq!(error_type(codec().decode(&other_filter, &text, 1_000_500)), Some(ScimType::InvalidCursor));
        let other_tenant = binding("globex", "active eq true");
        assert_eq!(error_type(codec().decode(&other_tenant, &text, 1_000_500)), Some(ScimType::InvalidCursor));
        let path = AttrPath { urn: None, name: "userName".into(), sub: None };
        let filter = parse_filter("active eq true").expect("filter");
        let descending = QueryBinding::new("acme", "User", Some(&filter), Some((&path, SortOrder::Descending)));
        assert_eq!(error_type(codec().decode(&descending, &text, 1_000_500)), Some(ScimType::InvalidCursor));
        let other_key = CursorCodec::new(b"another key".to_vec(), 60);
        assert_eq!(error_type(other_key.decode(&b, &text, 1_000_500)), Some(ScimType::InvalidCursor));
    }

    #[test]
    fn garbage_is_refused() {
        let b = binding("acme", "active eq true");
        for text in ["x", "not base64!", "AAAA", "%%%", &URL_SAFE_NO_PAD.encode([0u8; TAG_BYTES])] {
            assert_eq!(error_type(codec().decode(&b, text, 0)), Some(ScimType::InvalidCursor), "{text:?}");
        }
    }

    #[test]
    fn expires_after_the_timeout() {
        let b = binding("acme", "active eq true");
        let text = codec().encode(&b, &cursor());
        assert!(codec().decode(&b, &text, 1_000_000 + 60_000).is_ok(), "valid for the whole timeout");
        assert_eq!(error_type(codec().decode(&b, &text, 1_000_000 + 60_001)), Some(ScimType::ExpiredCursor));
    }
}
