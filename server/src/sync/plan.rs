//! Planning one record: find its resource (link, then correlation), refuse resources another
//! source manages, and diff only the paths the source owns (DESIGN.md §1, §3). Pure: the batch's
//! resources are loaded beforehand, the plan is written afterwards.

use std::collections::{HashMap, HashSet};

use scimd_connectors::{
    Correlation, DEACTIVATION_REASON_PATH, Field, GroupRef, LAST_ACCESS_PATH, Origin, Record, Rejected,
};
use scimd_schemas::error::{ScimResult, ScimType};
use scimd_schemas::patch::{PatchOp, PatchOpKind, apply_patch};
use scimd_schemas::resource::prepare_write;
use scimd_schemas::schema::{ResourceSchema, SCIMD_USER};
use serde_json::{Value, json};

use sha2::{Digest, Sha256};

use super::references::not_found;
use crate::store::{
    GroupKey, LinkAction, LinkMark, LinkWrite, Outcome, PlannedWrite, RecordPlan, SyncUser, UserMembership, new_id,
};

/// Who the run writes as, and what it records when it deactivates.
pub struct Writer<'a> {
    pub connector_id: &'a str,
    /// `connector:<name>`: the managing entity of what the run creates.
    pub managing_entity: &'a str,
    /// `CSV_SYNC` or `CONNECTOR_SYNC`.
    pub deactivation_reason: &'a str,
}

/// The resources a batch of records names, loaded in a few queries.
#[derive(Default)]
pub struct Loaded {
    pub by_link: HashMap<String, SyncUser>,
    /// Per linked key: what the link remembers of the last record applied.
    pub marks: HashMap<String, LinkMark>,
    pub by_email: HashMap<String, SyncUser>,
    pub by_user_name: HashMap<String, SyncUser>,
    pub group_by_external_id: HashMap<String, String>,
    pub group_by_name: HashMap<String, String>,
    /// Per user: group id → the connector that added the membership.
    pub memberships: HashMap<String, HashMap<String, Option<String>>>,
    /// Per source key the records reference: the id of the user linked to it.
    pub referenced: HashMap<String, String>,
}

impl Loaded {
    pub fn add_links(&mut self, links: Vec<(String, SyncUser, LinkMark)>) {
        for (key, user, mark) in links {
            self.marks.insert(key.clone(), mark);
            self.by_link.insert(key, user);
        }
    }

    pub fn add_groups(&mut self, groups: Vec<GroupKey>) {
        for group in groups {
            if let Some(external_id) = group.external_id {
                self.group_by_external_id.insert(external_id, group.id.clone());
            }
            self.group_by_name.insert(group.display_name_lower, group.id);
        }
    }

    pub fn add_memberships(&mut self, rows: Vec<UserMembership>) {
        for row in rows {
            self.memberships.entry(row.member_id).or_default().insert(row.group_id, row.source);
        }
    }

    /// The record's resource: through its link, else the first correlation rule that matches.
    /// The flag says whether it was found through the link.
    pub fn target(&self, key: Option<&str>, correlate: &[Correlation]) -> Option<(&SyncUser, bool)> {
        if let Some(user) = key.and_then(|k| self.by_link.get(k)) {
            return Some((user, true));
        }
        correlate.iter().find_map(|rule| {
            match rule {
                Correlation::Email(email) => self.by_email.get(&email.to_lowercase()),
                Correlation::UserName(name) => self.by_user_name.get(&name.to_lowercase()),
                Correlation::ExternalId(_) => None,
            }
            .map(|user| (user, false))
        })
    }

    fn group(&self, group: &GroupRef) -> Option<&String> {
        match group {
            GroupRef::ExternalIdOrName(name) => {
                self.group_by_external_id.get(name).or_else(|| self.group_by_name.get(&name.to_lowercase()))
            }
            GroupRef::SourceKey(_) => None,
        }
    }
}

fn report(origin: Option<&Origin>) -> Option<String> {
    origin.map(|o| serde_json::to_string(&o.values).expect("strings serialise"))
}

fn failed(
    seq: i64,
    status: &'static str,
    resource: Option<&SyncUser>,
    origin: Option<&Origin>,
    key: Option<&str>,
    error: String,
) -> RecordPlan {
    RecordPlan::only(
        None,
        Outcome {
            seq,
            status,
            resource_id: resource.map(|u| u.id.clone()),
            source_key: key.map(str::to_owned),
            line: origin.map(|o| o.line as i64),
            changed_fields: None,
            error: Some(error),
            report: report(origin),
        },
    )
}

/// A record the connector rejected: FAILED with its codes, naming the resource it would have
/// matched so the missing policy leaves that resource alone.
pub fn plan_rejected(loaded: &Loaded, seq: i64, rejected: &Rejected) -> RecordPlan {
    let target = loaded.target(None, &rejected.correlate).map(|(user, _)| user);
    failed(seq, "FAILED", target, rejected.origin.as_ref(), None, rejected.errors.join(";"))
}

/// Plans a user record. A reference whose key no linked user has is planned as no value and
/// noted; the plan then leaves its outcome to the pass after the users, which plans the record
/// again once every user of the run is linked.
pub fn plan_user(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    loaded: &Loaded,
    seq: i64,
    record: &Record,
) -> RecordPlan {
    let (record, missing) = loaded.resolve(record);
    let mut plan = plan_resolved(schema, writer, loaded, seq, &record);
    if !missing.is_empty() && plan.outcome.error.is_none() {
        plan.outcome.error = Some(not_found(&missing));
        plan.outcome_later = true;
    }
    plan
}

/// Plans a user record whose references are fields.
fn plan_resolved(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    loaded: &Loaded,
    seq: i64,
    record: &Record,
) -> RecordPlan {
    let origin = record.origin.as_ref();
    let key = Some(record.key.as_str());
    let target = loaded.target(key, &record.correlate);
    if let Some((user, false)) = target
        && user.managing_entity != "local"
        && user.managing_entity != writer.managing_entity
    {
        let error = format!("MANAGED_BY_OTHER_SOURCE ({})", user.managing_entity);
        return failed(seq, "FAILED", Some(user), origin, key, error);
    }
    let target = target.map(|(user, _)| user);
    let mut wanted_groups = Vec::new();
    let mut errors = Vec::new();
    for group in record.groups.iter().flat_map(|m| &m.groups) {
        match loaded.group(group) {
            Some(id) => wanted_groups.push(id.clone()),
            None if !errors.contains(&"GROUP_NOT_FOUND") => errors.push("GROUP_NOT_FOUND"),
            None => {}
        }
    }
    if !errors.is_empty() {
        return failed(seq, "FAILED", target, origin, key, errors.join(";"));
    }
    match target {
        Some(user) => plan_update(schema, writer, loaded, seq, record, user, wanted_groups),
        None => plan_create(schema, writer, seq, record, wanted_groups),
    }
}

fn ops_of<'r>(record: &'r Record, name: &str) -> impl Iterator<Item = PatchOp> + 'r {
    let name = name.to_owned();
    record.fields.iter().filter(move |f| f.name == name && !is_server_owned(&f.path)).map(field_op)
}

/// Paths SCIM clients cannot write (readOnly in the scimd extension) but a source may own: the
/// engine places them itself instead of patching.
fn is_server_owned(path: &str) -> bool {
    path == LAST_ACCESS_PATH || path == DEACTIVATION_REASON_PATH
}

/// Sets (or, for null, removes) the scimd extension's `lastAccess` from the record; the field's
/// name if that changed `doc`. It is `returned: request`, so rendering hides it by default.
fn apply_last_access<'r>(doc: &mut Value, record: &'r Record) -> Option<&'r str> {
    let field = record.fields.iter().find(|f| f.path == LAST_ACCESS_PATH)?;
    let wanted = field.value.as_str();
    let current = doc.get(SCIMD_USER).and_then(|ext| ext.get("lastAccess")).and_then(Value::as_str);
    if current == wanted {
        return None;
    }
    let fields = doc.as_object_mut()?;
    match wanted {
        Some(time) => {
            let ext = fields.entry(SCIMD_USER).or_insert_with(|| json!({}));
            ext.as_object_mut()?.insert("lastAccess".into(), json!(time));
        }
        None => {
            let ext = fields.get_mut(SCIMD_USER).and_then(Value::as_object_mut)?;
            ext.remove("lastAccess");
            if ext.is_empty() {
                fields.remove(SCIMD_USER);
            }
        }
    }
    Some(field.name.as_str())
}

/// Why the source disables the user, if it says.
fn source_reason(record: &Record) -> Option<String> {
    let field = record.fields.iter().find(|f| f.path == DEACTIVATION_REASON_PATH)?;
    Some(field.value.as_str()?.to_owned())
}

/// The PATCH operation that sets a field; a null value (the source has none) removes what the
/// path holds, and for `attr[filter].value` the whole element, not a typeless leftover.
fn field_op(field: &Field) -> PatchOp {
    if field.value.is_null() {
        let path = field.path.strip_suffix(".value").filter(|p| p.ends_with(']')).unwrap_or(&field.path);
        return PatchOp { op: PatchOpKind::Remove, path: Some(path.to_owned()), value: None };
    }
    PatchOp { op: PatchOpKind::Add, path: Some(field.path.clone()), value: Some(field.value.clone()) }
}

/// `doc` with `ops` applied; removing what is already gone changes nothing.
fn apply_ops(schema: &ResourceSchema, doc: &Value, ops: &[PatchOp]) -> ScimResult<Value> {
    if ops.iter().all(|op| op.op != PatchOpKind::Remove) {
        return apply_patch(schema, doc, ops).map(|outcome| outcome.doc);
    }
    let mut doc = doc.clone();
    for op in ops {
        match apply_patch(schema, &doc, std::slice::from_ref(op)) {
            Ok(outcome) => doc = outcome.doc,
            Err(e) if op.op == PatchOpKind::Remove && e.scim_type == Some(ScimType::NoTarget) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(doc)
}

/// Field names in first-seen order.
fn field_names(record: &Record) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for field in &record.fields {
        if !names.contains(&field.name.as_str()) {
            names.push(&field.name);
        }
    }
    names
}

fn plan_create(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    seq: i64,
    record: &Record,
    groups: Vec<String>,
) -> RecordPlan {
    let origin = record.origin.as_ref();
    let key = Some(record.key.as_str());
    let ops: Vec<PatchOp> = field_names(record).into_iter().flat_map(|name| ops_of(record, name)).collect();
    let empty = json!({ "schemas": [schema.core.id] });
    let doc =
        apply_ops(schema, &empty, &ops).and_then(|doc| prepare_write(schema, doc, None)).map(|prepared| prepared.doc);
    let mut doc = match doc {
        Ok(doc) => doc,
        Err(e) => return failed(seq, "FAILED", None, origin, key, format!("INVALID_VALUE ({})", e.detail)),
    };
    apply_last_access(&mut doc, record);
    let id = new_id();
    let inactive = doc.get("active").and_then(Value::as_bool) == Some(false);
    RecordPlan {
        write: Some(PlannedWrite::Create {
            id: id.clone(),
            doc,
            managing_entity: writer.managing_entity.to_owned(),
            deactivation_reason: inactive
                .then(|| source_reason(record).unwrap_or_else(|| writer.deactivation_reason.to_owned())),
        }),
        join: dedup(groups),
        leave: Vec::new(),
        link: Some(LinkWrite {
            key: record.key.clone(),
            action: LinkAction::Create,
            mark: LinkMark { hash: Some(fingerprint(record)), version: Some(1), name: record.name.clone() },
        }),
        outcome: Outcome {
            seq,
            status: "CREATED",
            resource_id: Some(id),
            source_key: Some(record.key.clone()),
            line: origin.map(|o| o.line as i64),
            changed_fields: None,
            error: None,
            report: report(origin),
        },
        outcome_later: false,
    }
}

fn dedup(ids: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
}

fn plan_update(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    loaded: &Loaded,
    seq: i64,
    record: &Record,
    user: &SyncUser,
    groups: Vec<String>,
) -> RecordPlan {
    let origin = record.origin.as_ref();
    let key = Some(record.key.as_str());
    let linked_here = loaded.by_link.get(&record.key).is_some_and(|u| u.id == user.id);
    let hash = fingerprint(record);
    let mark = linked_here.then(|| loaded.marks.get(&record.key)).flatten();
    // The same record as last time, and nobody changed the resource since: nothing to diff.
    let as_left = mark.is_some_and(|m| m.hash.as_deref() == Some(hash.as_str()) && m.version == Some(user.version));
    let (write, mut changed) = if as_left {
        (None, Vec::new())
    } else {
        match diff_fields(schema, writer, record, user) {
            Ok(diff) => diff,
            Err((status, error)) => return failed(seq, status, Some(user), origin, key, error),
        }
    };
    let (join, leave) = match &record.groups {
        Some(membership) => {
            let current = loaded.memberships.get(&user.id);
            let wanted: HashSet<&String> = groups.iter().collect();
            let join: Vec<String> =
                dedup(groups.iter().filter(|g| current.is_none_or(|c| !c.contains_key(*g))).cloned().collect());
            let leave: Vec<String> = current
                .into_iter()
                .flatten()
                .filter(|(group, source)| source.as_deref() == Some(writer.connector_id) && !wanted.contains(group))
                .map(|(group, _)| group.clone())
                .collect();
            if !join.is_empty() || !leave.is_empty() {
                changed.push(&membership.field);
            }
            (join, leave)
        }
        None => (Vec::new(), Vec::new()),
    };
    let new_mark = LinkMark {
        hash: Some(hash),
        version: Some(user.version + i64::from(write.is_some())),
        name: record.name.clone(),
    };
    let action = match mark {
        _ if !linked_here => Some(LinkAction::Replace),
        Some(mark) if *mark == new_mark => None,
        _ => Some(LinkAction::Mark),
    };
    RecordPlan {
        write,
        join,
        leave,
        link: action.map(|action| LinkWrite { key: record.key.clone(), action, mark: new_mark }),
        outcome: Outcome {
            seq,
            status: if changed.is_empty() { "UNCHANGED" } else { "UPDATED" },
            resource_id: Some(user.id.clone()),
            source_key: Some(record.key.clone()),
            line: origin.map(|o| o.line as i64),
            changed_fields: (!changed.is_empty()).then(|| changed.join(" ")),
            error: None,
            report: report(origin),
        },
        outcome_later: false,
    }
}

/// A digest of the fields a record sets (not of its memberships, which are always compared, nor
/// of where it came from).
pub(super) fn fingerprint(record: &Record) -> String {
    let fields: Vec<Value> = record.fields.iter().map(|f| json!([f.name, f.path, f.value])).collect();
    let bytes = serde_json::to_vec(&fields).expect("JSON values serialise");
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// Why a record fails: its outcome status and error.
type Failure = (&'static str, String);

/// The user's document with the record's fields applied, if it changes, and the names of the
/// fields that change it; or the status and error that make the record fail.
fn diff_fields<'r>(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    record: &'r Record,
    user: &SyncUser,
) -> Result<(Option<PlannedWrite>, Vec<&'r str>), Failure> {
    let Ok(current) = serde_json::from_str::<Value>(&user.doc) else {
        return Err(("NOT_REGISTERED", "SYSTEM_ERROR (stored document is corrupt)".into()));
    };
    let (doc, mut changed) =
        patch_fields(schema, &current, record).map_err(|e| ("FAILED", format!("INVALID_VALUE ({})", e.detail)))?;
    let was_active = user.active != Some(false);
    let is_active = doc.get("active").and_then(Value::as_bool) != Some(false);
    let reason = source_reason(record);
    let deactivation_reason = match (was_active, is_active) {
        (true, false) => Some(reason.unwrap_or_else(|| writer.deactivation_reason.to_owned())),
        (_, true) => None,
        (false, false) => reason.or_else(|| user.deactivation_reason.clone()),
    };
    // A user the source still disables, for another reason now (suspended, then archived).
    let reason_changed = !is_active && deactivation_reason != user.deactivation_reason;
    if let Some(field) = record.fields.iter().find(|f| f.path == DEACTIVATION_REASON_PATH)
        && reason_changed
        && !changed.contains(&field.name.as_str())
    {
        changed.push(&field.name);
    }
    let write = (doc != current || reason_changed).then(|| PlannedWrite::Update {
        id: user.id.clone(),
        changes: update_changes(&current, &doc, user.deactivation_reason.as_deref(), deactivation_reason.as_deref()),
        doc,
        version: user.version,
        deactivation_reason,
    });
    Ok((write, changed))
}

/// The audit log's changes of an update: the document's, and the deactivation reason's (a column
/// of its own, not in the document).
fn update_changes(current: &Value, doc: &Value, old_reason: Option<&str>, new_reason: Option<&str>) -> Value {
    let mut changes = crate::audit::diff(current, doc);
    if old_reason != new_reason
        && let Some(map) = changes.as_object_mut()
    {
        map.insert("deactivationReason".to_owned(), json!({ "old": old_reason, "new": new_reason }));
    }
    changes
}

/// `current` with the record's fields applied, and the names of the fields that changed it.
pub(super) fn patch_fields<'r>(
    schema: &ResourceSchema,
    current: &Value,
    record: &'r Record,
) -> ScimResult<(Value, Vec<&'r str>)> {
    let mut doc = current.clone();
    let mut changed: Vec<&str> = Vec::new();
    // Most records of a resync change nothing: one patch of all fields tells, and only a record
    // that changes is patched field by field to name what changed.
    let all: Vec<PatchOp> = field_names(record).into_iter().flat_map(|name| ops_of(record, name)).collect();
    let unchanged = apply_ops(schema, &doc, &all).is_ok_and(|patched| patched == doc);
    for name in field_names(record).into_iter().filter(|_| !unchanged) {
        let ops: Vec<PatchOp> = ops_of(record, name).collect();
        let patched = apply_ops(schema, &doc, &ops)?;
        if patched != doc {
            doc = patched;
            changed.push(name);
        }
    }
    if let Some(name) = apply_last_access(&mut doc, record)
        && !changed.contains(&name)
    {
        changed.push(name);
    }
    Ok((doc, changed))
}

/// The missing policy for one user the run did not see.
pub fn plan_missing(writer: &Writer<'_>, policy: &str, seq: i64, user: &SyncUser) -> RecordPlan {
    let report_values = |doc: &Value, active: &str| {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let email = user.email_lower.clone().unwrap_or_default();
        serde_json::to_string(&[text("displayName"), email, text("userName"), String::new(), active.to_owned()])
            .expect("strings serialise")
    };
    let doc: Value = serde_json::from_str(&user.doc).unwrap_or_else(|_| json!({}));
    let (status, write, active) = match policy {
        "deactivate" => {
            let mut new_doc = doc.clone();
            if let Some(fields) = new_doc.as_object_mut() {
                fields.insert("active".into(), Value::Bool(false));
            }
            let reason = writer.deactivation_reason;
            let write = PlannedWrite::Update {
                id: user.id.clone(),
                changes: update_changes(&doc, &new_doc, user.deactivation_reason.as_deref(), Some(reason)),
                doc: new_doc,
                version: user.version,
                deactivation_reason: Some(reason.to_owned()),
            };
            ("DEACTIVATED", Some(write), "INACTIVE")
        }
        "delete" => {
            let write = PlannedWrite::Delete { id: user.id.clone(), changes: crate::audit::deleted(&doc) };
            ("DELETED", Some(write), "")
        }
        _ => ("MAINTAINED", None, if user.active == Some(false) { "INACTIVE" } else { "ACTIVE" }),
    };
    RecordPlan::only(
        write,
        Outcome {
            seq,
            status,
            resource_id: Some(user.id.clone()),
            source_key: None,
            line: None,
            changed_fields: None,
            error: None,
            report: Some(report_values(&doc, active)),
        },
    )
}

/// The plan when writing it failed on its own: a data conflict (FAILED) or a system error.
pub fn plan_unwritable(plan: &RecordPlan, error: &crate::store::StoreError) -> RecordPlan {
    let (status, code) = match error {
        crate::store::StoreError::Conflict(_) => ("FAILED", "USER_ID_TAKEN".to_owned()),
        other => ("NOT_REGISTERED", format!("SYSTEM_ERROR ({other})")),
    };
    let mut outcome = plan.outcome.clone();
    outcome.status = status;
    outcome.changed_fields = None;
    outcome.error = Some(code);
    if matches!(plan.write, Some(PlannedWrite::Create { .. })) {
        outcome.resource_id = None;
    }
    RecordPlan::only(None, outcome)
}
