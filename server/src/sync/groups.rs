//! Group records (DESIGN.md §3): applied after the run's users, in two passes over the buffered
//! group records. The first creates, updates and links the groups; the second sets the members
//! each group's source owns, so a member that is itself a group of the run (nested groups) is
//! found whatever order the source listed the groups in. A group's outcome is written with its
//! members, so a group counts once.

use std::collections::{HashMap, HashSet};

use scimd_connectors::{Correlation, MemberRef, Record, RecordKind, SourceItem};
use scimd_schemas::resource::prepare_write;
use scimd_schemas::schema::ResourceSchema;
use serde_json::{Value, json};

use super::engine::{EngineError, Run};
use super::plan::{Writer, fingerprint, patch_fields};
use crate::store::{
    GroupKeyColumn, GroupPlan, LinkAction, LinkBy, LinkMark, LinkWrite, Outcome, PlannedWrite, StoreError, SyncGroup,
    new_id,
};

/// A group record after the first pass: the group it created or updated, and its outcome so far.
struct Applied {
    seq: i64,
    record: Record,
    group_id: String,
    status: &'static str,
    changed: Vec<String>,
}

/// The groups a batch of records names: by link, then by externalId, then by displayName.
#[derive(Default)]
struct LoadedGroups {
    by_link: HashMap<String, (SyncGroup, LinkMark)>,
    by_external_id: HashMap<String, SyncGroup>,
    by_name: HashMap<String, SyncGroup>,
}

impl LoadedGroups {
    fn target(&self, record: &Record) -> Option<(&SyncGroup, bool)> {
        if let Some((group, _)) = self.by_link.get(&record.key) {
            return Some((group, true));
        }
        let by_rule = record.correlate.iter().find_map(|rule| match rule {
            Correlation::ExternalId(id) => self.by_external_id.get(id),
            _ => None,
        });
        by_rule
            .or_else(|| display_name(record).and_then(|name| self.by_name.get(&name.to_lowercase())))
            .map(|g| (g, false))
    }
}

fn display_name(record: &Record) -> Option<&str> {
    record.fields.iter().find(|f| f.path == "displayName").and_then(|f| f.value.as_str())
}

fn outcome(seq: i64, status: &'static str, resource_id: Option<&str>, key: Option<&str>) -> Outcome {
    Outcome {
        seq,
        status,
        resource_id: resource_id.map(str::to_owned),
        source_key: key.map(str::to_owned),
        line: None,
        changed_fields: None,
        error: None,
        report: None,
    }
}

fn failed_plan(seq: i64, resource_id: Option<&str>, key: &str, status: &'static str, error: String) -> GroupPlan {
    let mut outcome = outcome(seq, status, resource_id, Some(key));
    outcome.error = Some(error);
    GroupPlan { id: None, write: None, link: None, add: Vec::new(), remove: Vec::new(), outcome: Some(outcome) }
}

/// The group's document with the record's fields applied, and the names of the fields that changed
/// it; an error text if a value is invalid.
fn apply_fields(schema: &ResourceSchema, current: &Value, record: &Record) -> Result<(Value, Vec<String>), String> {
    let (doc, changed) = patch_fields(schema, current, record).map_err(|e| e.detail)?;
    let changed = changed.into_iter().map(str::to_owned).collect();
    let doc = prepare_write(schema, doc, Some(current)).map_err(|e| e.detail)?.doc;
    Ok((doc, changed))
}

/// The first pass for one record: the group's fields and link.
fn plan_group(
    schema: &ResourceSchema,
    writer: &Writer<'_>,
    loaded: &LoadedGroups,
    seq: i64,
    record: &Record,
) -> GroupPlan {
    let key = record.key.as_str();
    let mark = LinkMark { hash: Some(fingerprint(record)), version: None, name: record.name.clone() };
    match loaded.target(record) {
        Some((group, false)) if group.managing_entity != "local" && group.managing_entity != writer.managing_entity => {
            let error = format!("MANAGED_BY_OTHER_SOURCE ({})", group.managing_entity);
            failed_plan(seq, Some(&group.id), key, "FAILED", error)
        }
        Some((group, linked)) => {
            let Ok(current) = serde_json::from_str::<Value>(&group.doc) else {
                return failed_plan(
                    seq,
                    Some(&group.id),
                    key,
                    "NOT_REGISTERED",
                    "SYSTEM_ERROR (stored document is corrupt)".into(),
                );
            };
            let (doc, changed) = match apply_fields(schema, &current, record) {
                Ok(applied) => applied,
                Err(e) => return failed_plan(seq, Some(&group.id), key, "FAILED", format!("INVALID_VALUE ({e})")),
            };
            let write = (doc != current).then(|| PlannedWrite::Update {
                id: group.id.clone(),
                changes: crate::audit::diff(&current, &doc),
                doc,
                version: group.version,
                deactivation_reason: None,
            });
            let mark = LinkMark { version: Some(group.version + i64::from(write.is_some())), ..mark };
            let action = match loaded.by_link.get(key) {
                _ if !linked => Some(LinkAction::Replace),
                Some((_, old)) if *old == mark => None,
                _ => Some(LinkAction::Mark),
            };
            let status = if changed.is_empty() { "UNCHANGED" } else { "UPDATED" };
            let mut outcome = outcome(seq, status, Some(&group.id), Some(key));
            outcome.changed_fields = (!changed.is_empty()).then(|| changed.join(" "));
            GroupPlan {
                id: Some(group.id.clone()),
                write,
                link: action.map(|action| LinkWrite { key: key.to_owned(), action, mark }),
                add: Vec::new(),
                remove: Vec::new(),
                outcome: Some(outcome),
            }
        }
        None => {
            let empty = json!({ "schemas": [schema.core.id] });
            let doc = match apply_fields(schema, &empty, record) {
                Ok((doc, _)) => doc,
                Err(e) => return failed_plan(seq, None, key, "FAILED", format!("INVALID_VALUE ({e})")),
            };
            let id = new_id();
            GroupPlan {
                id: Some(id.clone()),
                write: Some(PlannedWrite::Create {
                    id: id.clone(),
                    doc,
                    managing_entity: writer.managing_entity.to_owned(),
                    deactivation_reason: None,
                }),
                link: Some(LinkWrite {
                    key: key.to_owned(),
                    action: LinkAction::Create,
                    mark: LinkMark { version: Some(1), ..mark },
                }),
                add: Vec::new(),
                remove: Vec::new(),
                outcome: Some(outcome(seq, "CREATED", Some(&id), Some(key))),
            }
        }
    }
}

/// The missing policy for a group the source no longer has: groups cannot be deactivated, so
/// `deactivate` and `delete` delete it (and its memberships); `keep` keeps it.
fn plan_gone(policy: &str, seq: i64, group: &SyncGroup, key: Option<&str>) -> GroupPlan {
    let (status, write) = match policy {
        "keep" => ("MAINTAINED", None),
        _ => {
            let changes = crate::audit::deleted_text(&group.doc);
            ("DELETED", Some(PlannedWrite::Delete { id: group.id.clone(), changes }))
        }
    };
    GroupPlan {
        id: Some(group.id.clone()),
        write,
        link: None,
        add: Vec::new(),
        remove: Vec::new(),
        outcome: Some(outcome(seq, status, Some(&group.id), key)),
    }
}

/// A first-pass plan, and the outcome its record gets: with the plan for a failure or deletion,
/// else with the group's members in the second pass.
struct FieldPlan {
    plan: GroupPlan,
    outcome: Outcome,
    record: Option<Record>,
}

impl FieldPlan {
    fn new(mut plan: GroupPlan, record: &Record) -> Self {
        let outcome = plan.outcome.take().expect("a record's plan has an outcome");
        let carried_on = plan.id.is_some() && outcome.status != "FAILED" && outcome.status != "NOT_REGISTERED";
        if !carried_on {
            plan.outcome = Some(outcome.clone());
        }
        FieldPlan { plan, outcome, record: carried_on.then(|| record.clone()) }
    }

    /// The record could not be written: it fails alone, with `error`.
    fn unwritable(&self, error: &StoreError) -> GroupPlan {
        let (status, code) = match error {
            StoreError::Conflict(message) => ("FAILED", format!("GROUP_NAME_TAKEN ({message})")),
            other => ("NOT_REGISTERED", format!("SYSTEM_ERROR ({other})")),
        };
        let existing = self
            .outcome
            .resource_id
            .as_deref()
            .filter(|_| !matches!(self.plan.write, Some(PlannedWrite::Create { .. })));
        failed_plan(self.outcome.seq, existing, self.outcome.source_key.as_deref().unwrap_or_default(), status, code)
    }
}

impl Run<'_> {
    /// Applies the run's group records and explicit group deletions, after its users.
    pub(super) async fn apply_groups(&self, items: Vec<(i64, SourceItem)>) -> Result<(), EngineError> {
        let mut applied = Vec::new();
        for batch in items.chunks(self.batch_size) {
            applied.extend(self.apply_group_fields(batch).await?);
        }
        for batch in applied.chunks(self.batch_size) {
            self.apply_members(batch).await?;
        }
        Ok(())
    }

    async fn load_groups(&self, items: &[(i64, SourceItem)]) -> Result<LoadedGroups, StoreError> {
        let tenant = &self.job.tenant_id;
        let keys: Vec<String> = items
            .iter()
            .filter_map(|(_, item)| match item {
                SourceItem::Record(r) => Some(r.key.clone()),
                SourceItem::Deleted { key, .. } => Some(key.clone()),
                SourceItem::Rejected(_) => None,
            })
            .collect();
        let mut loaded = LoadedGroups::default();
        for (key, group, mark) in self.store.linked_groups(self.writer.connector_id, &keys).await? {
            loaded.by_link.insert(key, (group, mark));
        }
        let unlinked: Vec<&Record> = items
            .iter()
            .filter_map(|(_, item)| match item {
                SourceItem::Record(r) if !loaded.by_link.contains_key(&r.key) => Some(r),
                _ => None,
            })
            .collect();
        let external_ids: Vec<String> = unlinked
            .iter()
            .flat_map(|r| &r.correlate)
            .filter_map(|rule| match rule {
                Correlation::ExternalId(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let names: Vec<String> = unlinked.iter().filter_map(|r| display_name(r)).map(str::to_lowercase).collect();
        let by_external_id = self.store.groups_by(tenant, GroupKeyColumn::ExternalId, &external_ids).await?;
        let by_name = self.store.groups_by(tenant, GroupKeyColumn::DisplayName, &names).await?;
        loaded.by_external_id = by_external_id.into_iter().filter_map(|g| Some((g.external_id.clone()?, g))).collect();
        loaded.by_name = by_name.into_iter().map(|g| (g.display_name_lower.clone(), g)).collect();
        Ok(loaded)
    }

    /// The first pass over a batch: creates, updates and links its groups, and deletes those the
    /// source reported deleted. Failures and deletions get their outcomes now; the groups written
    /// are returned for the second pass.
    async fn apply_group_fields(&self, items: &[(i64, SourceItem)]) -> Result<Vec<Applied>, EngineError> {
        let loaded = self.load_groups(items).await?;
        let mut plans = Vec::new();
        let mut claimed = HashSet::new();
        for (seq, item) in items {
            match item {
                SourceItem::Record(record) => {
                    let mut plan = plan_group(self.group_schema, &self.writer, &loaded, *seq, record);
                    // Two records of one batch that find the same group: the later one fails.
                    if let Some(id) = plan.id.clone().filter(|id| !claimed.insert(id.clone())) {
                        let error = "DUPLICATE_RECORD (another record of this run names the same group)".to_owned();
                        plan = failed_plan(*seq, Some(&id), &record.key, "FAILED", error);
                    }
                    plans.push(FieldPlan::new(plan, record));
                }
                SourceItem::Deleted { kind: RecordKind::Group, key } => {
                    if let Some((group, _)) = loaded.by_link.get(key) {
                        let plan = plan_gone(&self.job.missing_policy, *seq, group, Some(key));
                        let outcome = plan.outcome.clone().expect("a deletion has an outcome");
                        plans.push(FieldPlan { plan, outcome, record: None });
                    }
                }
                _ => {}
            }
        }
        let group_plans: Vec<GroupPlan> = plans.iter().map(|p| p.plan.clone()).collect();
        let all_written = match self.write_groups(&group_plans).await {
            Ok(()) => true,
            Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => false,
            Err(e) => return Err(e.into()),
        };
        let mut applied = Vec::new();
        for field_plan in plans {
            if !all_written {
                match self.write_groups(std::slice::from_ref(&field_plan.plan)).await {
                    Ok(()) => {}
                    Err(e @ (StoreError::VersionMismatch | StoreError::Conflict(_) | StoreError::Database(_))) => {
                        tracing::warn!(job = %self.job.id, seq = field_plan.outcome.seq, error = %e, "group not written");
                        self.write_groups(&[field_plan.unwritable(&e)]).await?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if let (Some(record), Some(group_id)) = (field_plan.record, field_plan.plan.id) {
                let outcome = field_plan.outcome;
                let changed =
                    outcome.changed_fields.map(|c| c.split(' ').map(str::to_owned).collect()).unwrap_or_default();
                applied.push(Applied { seq: outcome.seq, record, group_id, status: outcome.status, changed });
            }
        }
        Ok(applied)
    }

    /// The second pass over a batch: each group's members as its record lists them, resolved
    /// through the links of the run's connector, and the groups' outcomes.
    async fn apply_members(&self, batch: &[Applied]) -> Result<(), EngineError> {
        let refs = || batch.iter().flat_map(|a| a.record.members.iter().flatten());
        let pick = |want: fn(&MemberRef) -> Option<&String>| -> Vec<String> {
            let mut values: Vec<String> = refs().filter_map(want).cloned().collect();
            values.sort();
            values.dedup();
            values
        };
        let names = pick(|r| if let MemberRef::SourceName(n) = r { Some(n) } else { None });
        let keys = pick(|r| if let MemberRef::SourceKey(k) = r { Some(k) } else { None });
        let user_names: Vec<String> = pick(|r| if let MemberRef::UserName(n) = r { Some(n) } else { None })
            .iter()
            .map(|n| n.to_lowercase())
            .collect();
        let connector = self.writer.connector_id;
        let member_type = |t: &str| if t == "Group" { "Group" } else { "User" };
        let by_name: HashMap<String, (String, &'static str)> = self
            .store
            .linked_resources(connector, LinkBy::Name, &names)
            .await?
            .into_iter()
            .map(|l| (l.found_by, (l.resource_id, member_type(&l.resource_type))))
            .collect();
        let by_key: HashMap<String, (String, &'static str)> = self
            .store
            .linked_resources(connector, LinkBy::Key, &keys)
            .await?
            .into_iter()
            .map(|l| (l.found_by, (l.resource_id, member_type(&l.resource_type))))
            .collect();
        let by_user_name: HashMap<String, String> =
            self.store.user_ids_named(&self.job.tenant_id, &user_names).await?.into_iter().collect();
        let group_ids: Vec<String> = batch.iter().map(|a| a.group_id.clone()).collect();
        let mut current: HashMap<String, HashMap<String, Option<String>>> = HashMap::new();
        for row in self.store.group_memberships(&self.job.tenant_id, &group_ids).await? {
            current.entry(row.group_id).or_default().insert(row.member_id, row.source);
        }

        let plans: Vec<GroupPlan> = batch
            .iter()
            .map(|applied| {
                let mut wanted: Vec<(String, &'static str)> = Vec::new();
                let mut missing: Vec<&str> = Vec::new();
                let mut seen = HashSet::new();
                for member in applied.record.members.iter().flatten() {
                    let found = match member {
                        MemberRef::SourceName(name) => by_name.get(name).cloned(),
                        MemberRef::SourceKey(key) => by_key.get(key).cloned(),
                        MemberRef::UserName(name) => {
                            by_user_name.get(&name.to_lowercase()).map(|id| (id.clone(), "User"))
                        }
                    };
                    match found {
                        Some((id, _)) if id == applied.group_id => {}
                        Some((id, kind)) => {
                            if seen.insert(id.clone()) {
                                wanted.push((id, kind));
                            }
                        }
                        None => missing.push(match member {
                            MemberRef::SourceName(v) | MemberRef::SourceKey(v) | MemberRef::UserName(v) => v,
                        }),
                    }
                }
                let now = current.get(&applied.group_id);
                let add: Vec<(String, &'static str)> = match &applied.record.members {
                    Some(_) => wanted.into_iter().filter(|(id, _)| now.is_none_or(|m| !m.contains_key(id))).collect(),
                    None => Vec::new(),
                };
                let remove: Vec<String> = match &applied.record.members {
                    Some(_) => now
                        .into_iter()
                        .flatten()
                        .filter(|(id, source)| source.as_deref() == Some(connector) && !seen.contains(*id))
                        .map(|(id, _)| id.clone())
                        .collect(),
                    None => Vec::new(),
                };
                let mut changed = applied.changed.clone();
                let mut status = applied.status;
                if !add.is_empty() || !remove.is_empty() {
                    changed.push("members".to_owned());
                    if status == "UNCHANGED" {
                        status = "UPDATED";
                    }
                }
                let mut outcome = outcome(applied.seq, status, Some(&applied.group_id), Some(&applied.record.key));
                outcome.changed_fields = (!changed.is_empty()).then(|| changed.join(" "));
                outcome.error = (!missing.is_empty()).then(|| member_not_found(&missing));
                GroupPlan {
                    id: Some(applied.group_id.clone()),
                    write: None,
                    link: None,
                    add,
                    remove,
                    outcome: Some(outcome),
                }
            })
            .collect();
        Ok(self.write_groups(&plans).await?)
    }

    /// The missing policy for the groups linked to the connector that the run did not see;
    /// `seq` is the last seq used. Returns the last seq it used.
    pub(super) async fn apply_missing_groups(&self, mut seq: i64) -> Result<i64, EngineError> {
        let mut after = 0;
        loop {
            let groups = self
                .store
                .unseen_groups(
                    &self.job.tenant_id,
                    &self.job.id,
                    self.writer.connector_id,
                    after,
                    self.batch_size as i64,
                )
                .await?;
            let Some(last) = groups.last() else { return Ok(seq) };
            after = last.seq;
            let plans: Vec<GroupPlan> = groups
                .iter()
                .map(|group| {
                    seq += 1;
                    plan_gone(&self.job.missing_policy, seq, group, None)
                })
                .collect();
            self.write_groups(&plans).await?;
        }
    }
}

/// The error of a group whose source lists members the run cannot find (outside the connector's
/// user and group bases, or failed themselves): the group is written without them.
fn member_not_found(missing: &[&str]) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<&str> = missing.iter().take(SHOWN).copied().collect();
    let more = if missing.len() > SHOWN { format!("; and {} more", missing.len() - SHOWN) } else { String::new() };
    format!("MEMBER_NOT_FOUND ({} members: {}{more})", missing.len(), shown.join("; "))
}
