//! Consecutive user creates of a bulk request: validated one by one as they come, then written
//! together, one transaction per batch instead of one per user.

use std::collections::HashSet;

use scimd_schemas::ScimError;
use scimd_schemas::bulk::{BulkMethod, BulkOperation};
use scimd_schemas::schema::ResourceKind;
use serde_json::Value;

use crate::scim::error::{ApiError, ApiResult};
use crate::scim::resources::NewResource;
use crate::store::user_name_taken;

/// Users per transaction: big enough that a commit's cost spreads thin, small enough that a batch
/// that must be redone row by row (a userName already taken) stays short.
const MAX_BATCH: usize = 1000;

/// A user create waiting in the batch: validated, or already failed.
pub struct Entry {
    pub index: usize,
    pub new: ApiResult<NewResource>,
}

#[derive(Default)]
pub struct Batch {
    entries: Vec<Entry>,
    /// The lower-cased userNames of the valid entries.
    user_names: HashSet<String>,
    failures: u64,
}

impl Batch {
    /// A POST /Users that references no bulkId: nothing it needs can be waiting in the batch.
    pub fn accepts(op: &BulkOperation<'_>) -> bool {
        op.method == BulkMethod::Post
            && op.references.is_empty()
            && matches!(op.target(), Ok((ResourceKind::User, None)))
    }

    /// Adds an operation's validated user. A userName already in the batch fails as its single
    /// request would once the first had been written: 409.
    pub fn add(&mut self, index: usize, new: ApiResult<NewResource>) {
        let new = new.and_then(|new| {
            let user_name = new.doc.get("userName").and_then(Value::as_str).unwrap_or_default();
            if self.user_names.insert(user_name.to_lowercase()) {
                Ok(new)
            } else {
                Err(ApiError(ScimError::uniqueness(user_name_taken(user_name))))
            }
        });
        self.failures += u64::from(new.is_err());
        self.entries.push(Entry { index, new });
    }

    /// Entries that failed before being written.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= MAX_BATCH
    }

    /// Empties the batch, returning its entries in the order they came.
    pub fn take(&mut self) -> Vec<Entry> {
        self.user_names.clear();
        self.failures = 0;
        std::mem::take(&mut self.entries)
    }
}
