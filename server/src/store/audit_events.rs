//! The audit events writes append: a new resource's, membership changes', and a sync batch's (one
//! per resource the batch changes, named `sync.user.*` and `sync.group.*`, appended with the batch
//! in one multi-row INSERT per 1,000 events).

use scimd_schemas::schema::ResourceKind;
use serde_json::{Value, json};

use super::ResourceWrite;
use super::audit::AuditEvent;
use super::resources::table;
use super::sync_batch::{PlannedWrite, RecordPlan};
use super::sync_groups::GroupPlan;
use crate::audit;

/// The event of a new resource: its attributes, a password set, and the members it starts with.
pub(super) fn created_event(kind: ResourceKind, id: &str, write: &ResourceWrite<'_>, added: &[String]) -> AuditEvent {
    let mut changes = audit::with_password(audit::created(write.doc), write.password_hash.is_some());
    if !added.is_empty() {
        merge(&mut changes, audit::members(added, &[]));
    }
    AuditEvent::new(format!("{}.create", table(kind).audit), kind.name(), id, changes)
}

/// Adds `extra`'s attributes to `changes`.
pub(super) fn merge(changes: &mut Value, extra: Value) {
    if let (Some(changes), Value::Object(extra)) = (changes.as_object_mut(), extra) {
        changes.extend(extra);
    }
}

/// `member.add` and `member.remove` events of a group, for the members that changed.
pub(super) fn member_events(group: &str, added: &[String], removed: &[String]) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    if !added.is_empty() {
        events.push(AuditEvent::new("member.add", "Group", group, audit::members(added, &[])));
    }
    if !removed.is_empty() {
        events.push(AuditEvent::new("member.remove", "Group", group, audit::members(&[], removed)));
    }
    events
}

/// The action and changes of a planned write (None: no write).
fn written(kind: &str, write: Option<&PlannedWrite>, status: &str) -> Option<(String, Value)> {
    Some(match write? {
        PlannedWrite::Create { doc, .. } => (format!("sync.{kind}.create"), audit::created(doc)),
        PlannedWrite::Update { changes, .. } if status == "DEACTIVATED" => {
            (format!("sync.{kind}.deactivate"), changes.clone())
        }
        PlannedWrite::Update { changes, .. } => (format!("sync.{kind}.update"), changes.clone()),
        PlannedWrite::Delete { changes, .. } => (format!("sync.{kind}.delete"), changes.clone()),
    })
}

/// The event of one resource: its write, with `extra` (membership changes) added; an update with
/// only `extra` when the resource itself did not change.
fn event(kind: &str, id: &str, written: Option<(String, Value)>, extra: Option<Value>) -> Option<AuditEvent> {
    let (action, mut changes) = match (written, &extra) {
        (Some(written), _) => written,
        (None, Some(_)) => (format!("sync.{kind}.update"), json!({})),
        (None, None) => return None,
    };
    if let Some(extra) = extra {
        merge(&mut changes, extra);
    }
    let resource_type = if kind == "user" { "User" } else { "Group" };
    Some(AuditEvent::new(action, resource_type, id, changes))
}

/// A user's group changes: `{"groups": {"added": [...], "removed": [...]}}`.
fn groups_changed(plan: &RecordPlan) -> Option<Value> {
    if plan.join.is_empty() && plan.leave.is_empty() {
        return None;
    }
    let members = audit::members(&plan.join, &plan.leave);
    Some(json!({ "groups": members["members"] }))
}

pub(super) fn user_events(plans: &[RecordPlan]) -> Vec<AuditEvent> {
    plans
        .iter()
        .filter_map(|plan| {
            let id = plan.outcome.resource_id.as_deref()?;
            event("user", id, written("user", plan.write.as_ref(), plan.outcome.status), groups_changed(plan))
        })
        .collect()
}

pub(super) fn group_events(plans: &[GroupPlan]) -> Vec<AuditEvent> {
    plans
        .iter()
        .filter_map(|plan| {
            let id = plan.id.as_deref()?;
            let status = plan.outcome.as_ref().map_or("", |o| o.status);
            let added: Vec<String> = plan.add.iter().map(|(member, _)| member.clone()).collect();
            let members = (!added.is_empty() || !plan.remove.is_empty()).then(|| audit::members(&added, &plan.remove));
            event("group", id, written("group", plan.write.as_ref(), status), members)
        })
        .collect()
}
