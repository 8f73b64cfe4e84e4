//! References between records of one source (Graph's `manager`): a user record names another user
//! of the same source by its source key, and the engine stores the `id` of the user linked to
//! that key. A batch resolves its references in one query when it is planned. A reference to a
//! user the run has not linked yet (listed later, or in the batch still being written) is planned
//! as no value, and its record waits: after the users pass, when every user of the run is linked,
//! the waiting records are planned again, and each outcome is written once, with what both plans
//! changed.

use std::borrow::Cow;
use std::collections::HashMap;

use scimd_connectors::{Field, Record, SourceItem};
use serde_json::Value;

use super::engine::{EngineError, Pass, Run};
use super::plan::Loaded;
use crate::store::{LinkedResource, Outcome, RecordPlan};

impl Loaded {
    /// Keeps the users among the resources linked under referenced keys.
    pub fn add_referenced(&mut self, links: Vec<LinkedResource>) {
        let users = links.into_iter().filter(|link| link.resource_type == "User");
        self.referenced.extend(users.map(|link| (link.found_by, link.resource_id)));
    }

    /// The record with its references as fields, each the id of the user linked to its key (null
    /// for no key, and for a key no linked user has); and the keys no linked user has, as
    /// (reference name, key).
    pub fn resolve<'r>(&self, record: &'r Record) -> (Cow<'r, Record>, Vec<(&'r str, &'r str)>) {
        if record.references.is_empty() {
            return (Cow::Borrowed(record), Vec::new());
        }
        let mut resolved = record.clone();
        let mut missing = Vec::new();
        for reference in &record.references {
            let id = reference.key.as_deref().and_then(|key| self.referenced.get(key));
            if let (Some(key), None) = (reference.key.as_deref(), id) {
                missing.push((reference.name.as_str(), key));
            }
            let value = id.map_or(Value::Null, |id| Value::String(id.clone()));
            resolved.fields.push(Field { name: reference.name.clone(), path: reference.path.clone(), value });
        }
        (Cow::Owned(resolved), missing)
    }
}

/// The note on references whose keys no linked user has, as (name, key): `MANAGER_NOT_FOUND (key)`.
pub(super) fn not_found(missing: &[(&str, &str)]) -> String {
    let notes: Vec<String> =
        missing.iter().map(|(name, key)| format!("{}_NOT_FOUND ({key})", name.to_ascii_uppercase())).collect();
    notes.join(";")
}

/// User records whose plans left their outcomes for the pass after the users, with those outcomes.
#[derive(Default)]
pub(super) struct Waiting {
    items: Vec<(i64, SourceItem)>,
    outcomes: HashMap<i64, Outcome>,
}

impl Waiting {
    /// Keeps the items whose written plans left the outcomes `later` (by seq).
    pub(super) fn add(&mut self, items: impl IntoIterator<Item = (i64, SourceItem)>, later: HashMap<i64, Outcome>) {
        if later.is_empty() {
            return;
        }
        self.items.extend(items.into_iter().filter(|(seq, _)| later.contains_key(seq)));
        self.outcomes.extend(later);
    }
}

/// The outcomes `plans` leave for later, by seq.
pub(super) fn later(plans: &[RecordPlan]) -> HashMap<i64, Outcome> {
    plans.iter().filter(|p| p.outcome_later).map(|p| (p.outcome.seq, p.outcome.clone())).collect()
}

/// A waiting record's plan in the pass after the users, made final: the first plan was written, so
/// the outcome keeps its status and changed fields and adds what this plan changes.
pub(super) fn completing(first: &Outcome, mut plan: RecordPlan) -> RecordPlan {
    plan.outcome_later = false;
    let outcome = &mut plan.outcome;
    if matches!(outcome.status, "FAILED" | "NOT_REGISTERED") {
        return plan;
    }
    if first.status != "UNCHANGED" {
        outcome.status = first.status;
    }
    let mut changed: Vec<&str> = Vec::new();
    for name in first.changed_fields.iter().chain(&outcome.changed_fields).flat_map(|c| c.split(' ')) {
        if !changed.contains(&name) {
            changed.push(name);
        }
    }
    let changed = (outcome.status != "CREATED" && !changed.is_empty()).then(|| changed.join(" "));
    outcome.changed_fields = changed;
    plan
}

impl Run<'_> {
    /// The pass after the users: the waiting records planned again and written with their outcomes.
    pub(super) async fn apply_waiting(&self, waiting: Waiting) -> Result<(), EngineError> {
        let Waiting { mut items, outcomes } = waiting;
        while !items.is_empty() {
            let mut batch: Vec<(i64, SourceItem)> = items.drain(..items.len().min(self.batch_size)).collect();
            while !batch.is_empty() {
                self.apply_items(&mut batch, Pass::Completing(&outcomes)).await?;
            }
        }
        Ok(())
    }
}
