//! The sync engine (DESIGN.md §3): records in batches, each batch planned against the resources it
//! names and written in one transaction with its outcomes and the job's counters; after a full
//! run, the missing policy. The same for every connector.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use scimd_connectors::{Connector, Correlation, GroupRef, Record, RecordKind, SourceItem};
use scimd_schemas::schema::ResourceSchema;

use super::plan::{Loaded, Writer, plan_missing, plan_rejected, plan_unwritable, plan_user};
use super::references::{Waiting, completing, later};
use serde_json::Value;

use crate::store::{
    AuditContext, BatchJob, Candidates, GroupPlan, HELD, JobRow, LinkBy, MissingScope, Outcome, PlannedWrite,
    RecordPlan, Store, StoreError, UserKey, email_lower, lease_until,
};

/// Records from which a run counts as a bulk load: the planner's statistics are refreshed then,
/// each time the count doubles, and at the end.
const BULK_LOAD_RECORDS: i64 = 10_000;

/// Times a batch is planned again when a resource changed under it.
const RETRIES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Source(#[from] scimd_connectors::ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An admin cancelled the job; what was committed stays.
    #[error("cancelled by an admin; the batches before it stay committed")]
    Cancelled,
}

/// How a run ended when nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Done,
    /// The guard stopped it before its missing policy: the users it would deactivate or delete
    /// are its `AWAITING_APPROVAL` outcomes.
    Held,
}

/// The mass-deprovision guard: a run whose missing policy would deactivate or delete more than
/// `percent` % of the connector's users, or more than `count`, waits for an admin.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub percent: i64,
    pub count: Option<i64>,
}

impl Guard {
    pub fn trips(&self, total: i64, affected: i64) -> bool {
        affected > 0 && (affected * 100 > self.percent * total || self.count.is_some_and(|count| affected > count))
    }
}

/// A batch whose write runs while the next batch is planned.
struct InFlight {
    write: tokio::task::JoinHandle<Result<(), StoreError>>,
    items: Vec<(i64, SourceItem)>,
    touched: Touched,
    /// The outcomes its plans leave for the pass after the users, by seq.
    later: HashMap<i64, Outcome>,
}

/// Which pass plans user records.
#[derive(Clone, Copy)]
pub(super) enum Pass<'p> {
    /// The users pass: each record counts as processed.
    Users,
    /// The pass after it, for the records that waited for their references (`references.rs`),
    /// with the outcomes their first plans left.
    Completing(&'p HashMap<i64, Outcome>),
}

/// What a batch may have changed: the resources it writes and every value a later record could
/// find them by (source keys, correlation values, written userNames and emails, lower-cased).
#[derive(Default)]
struct Touched {
    everything: bool,
    ids: HashSet<String>,
    keys: HashSet<String>,
}

impl Touched {
    fn by(items: &[(i64, SourceItem)], plans: &[RecordPlan]) -> Self {
        let mut touched = Touched::default();
        for (_, item) in items {
            touched.keys.extend(finding_keys(item));
        }
        for plan in plans {
            if let Some(id) = &plan.outcome.resource_id {
                touched.ids.insert(id.clone());
            }
            if let Some(PlannedWrite::Create { doc, .. } | PlannedWrite::Update { doc, .. }) = &plan.write {
                touched.keys.extend(email_lower(doc));
                touched.keys.extend(doc.get("userName").and_then(Value::as_str).map(str::to_lowercase));
            }
        }
        touched
    }

    /// Whether planning `items` as `plans` may have read something this batch changed.
    fn names_any(&self, items: &[(i64, SourceItem)], plans: &[RecordPlan]) -> bool {
        self.everything
            || plans.iter().any(|p| p.outcome.resource_id.as_ref().is_some_and(|id| self.ids.contains(id)))
            || items.iter().any(|(_, item)| finding_keys(item).any(|key| self.keys.contains(&key)))
    }
}

/// The values an item finds its resource by, lower-cased.
fn finding_keys(item: &SourceItem) -> impl Iterator<Item = String> + '_ {
    let (key, correlate) = match item {
        SourceItem::Record(record) => (Some(&record.key), record.correlate.as_slice()),
        SourceItem::Rejected(rejected) => (None, rejected.correlate.as_slice()),
        SourceItem::Deleted { key, .. } => (Some(key), &[][..]),
    };
    let values = correlate.iter().map(|rule| match rule {
        Correlation::Email(v) | Correlation::UserName(v) | Correlation::ExternalId(v) => v,
    });
    key.into_iter().chain(values).map(|v| v.to_lowercase())
}

/// What writing a run's batch needs besides the plans, owned, so a batch can be written in a
/// task of its own.
struct BatchWriter {
    store: Store,
    audit: AuditContext,
    tenant: String,
    job_id: String,
    lease_owner: String,
    connector_id: String,
    dry_run: bool,
    lease_seconds: u64,
}

impl BatchWriter {
    fn job<'s>(&'s self, lease_expires: &'s str, processed: i64) -> BatchJob<'s> {
        BatchJob {
            audit: &self.audit,
            tenant: &self.tenant,
            job_id: &self.job_id,
            lease_owner: &self.lease_owner,
            lease_expires,
            connector_id: &self.connector_id,
            dry_run: self.dry_run,
            processed,
        }
    }

    /// Writes `plans` in one transaction; `processed` is what they add to the job's progress.
    async fn write(&self, plans: &[RecordPlan], processed: i64) -> Result<(), StoreError> {
        let lease_expires = lease_until(self.lease_seconds);
        self.store.apply_sync_batch(&self.job(&lease_expires, processed), plans).await
    }

    /// Writes group plans in one transaction; each outcome they carry counts as processed.
    async fn write_groups(&self, plans: &[GroupPlan]) -> Result<(), StoreError> {
        let lease_expires = lease_until(self.lease_seconds);
        self.store.apply_group_batch(&self.job(&lease_expires, 0), plans).await
    }
}

/// One run of a job.
pub struct Run<'a> {
    pub store: &'a Store,
    pub schema: &'a ResourceSchema,
    pub group_schema: &'a ResourceSchema,
    pub job: &'a JobRow,
    pub writer: Writer<'a>,
    /// Who the run writes as in the audit log: the job, its trigger's actor and its source.
    pub audit: &'a AuditContext,
    pub lease_owner: &'a str,
    pub lease_seconds: u64,
    pub batch_size: usize,
    /// Which users the missing policy looks at after a full run.
    pub missing_scope: MissingScope<'a>,
    /// The cursor of the last committed run, for an incremental run (None: a full run).
    pub cursor: Option<&'a str>,
    /// None: the missing policy applies without asking (dry runs, approved runs, `keep`).
    pub guard: Option<Guard>,
}

impl Run<'_> {
    /// Reads the source to its end and applies it. Committed batches stay committed if a later one
    /// fails; the job's counters always match what was committed.
    ///
    /// A batch is written in a task of its own while the next one is loaded and planned, so the
    /// database and the planning each keep a core busy. The next batch was read before the
    /// write committed: if it names anything that write touched, it is loaded and planned again.
    ///
    /// User records whose references name users not linked yet are completed after the users.
    /// Group records and group deletions are set aside and applied after the users (their members
    /// are users and groups of the same source); then, after a full run, the missing policy.
    pub async fn execute(&self, source: &mut dyn Connector) -> Result<Ended, EngineError> {
        let mut in_flight = None;
        let mut groups = Vec::new();
        let mut waiting = Waiting::default();
        let result = self.apply_source(source, &mut in_flight, &mut groups, &mut waiting).await;
        // Even after an error, the batch in flight is waited for: the job ends after its writes,
        // and the records that waited get their outcomes, since their users were written.
        let finished = match in_flight {
            Some(flight) => self.finish(flight, &mut waiting).await.map(drop),
            None => Ok(()),
        };
        let completed = self.apply_waiting(waiting).await;
        let seq = result?;
        finished?;
        completed?;
        self.apply_groups(groups).await?;
        if seq >= BULK_LOAD_RECORDS && !self.job.dry_run {
            self.store.refresh_statistics().await?;
        }
        // A source that could not continue from the cursor read everything: a full run after all.
        let fell_back = !self.job.full_run && source.read_everything();
        if fell_back {
            self.store.mark_full_run(&self.job.id).await?;
        }
        if self.job.full_run || fell_back {
            self.check_cancelled().await?;
            if self.guard_trips().await? {
                self.apply_missing(seq, Candidates::Unseen, true).await?;
                return Ok(Ended::Held);
            }
            let seq = self.apply_missing(seq, Candidates::Unseen, false).await?;
            self.apply_missing_groups(seq).await?;
        }
        Ok(Ended::Done)
    }

    /// An approved run: the missing policy on the users the guard held, re-checked (those that
    /// left the scope, were deleted, or for `deactivate` are inactive already are left out), then
    /// on the groups.
    pub async fn apply_approved(&self) -> Result<(), EngineError> {
        let seq = self.store.last_outcome_seq(&self.job.id).await?;
        let seq = self.apply_missing(seq, Candidates::Held, false).await?;
        self.apply_missing_groups(seq).await?;
        Ok(())
    }

    async fn guard_trips(&self) -> Result<bool, EngineError> {
        let Some(guard) = self.guard.filter(|_| !self.job.dry_run && self.job.missing_policy != "keep") else {
            return Ok(false);
        };
        let active_only = self.job.missing_policy != "delete";
        let (total, affected) =
            self.store.missing_share(&self.job.tenant_id, &self.job.id, &self.missing_scope, active_only).await?;
        let trips = guard.trips(total, affected);
        if trips {
            tracing::warn!(job = %self.job.id, total, affected, "mass-deprovision guard: the run waits for approval");
        }
        Ok(trips)
    }

    async fn check_cancelled(&self) -> Result<(), EngineError> {
        match self.store.cancel_requested(&self.job.id).await? {
            true => Err(EngineError::Cancelled),
            false => Ok(()),
        }
    }

    pub(super) async fn write_groups(&self, plans: &[GroupPlan]) -> Result<(), StoreError> {
        self.batch_writer().write_groups(plans).await
    }

    /// Applies every item of the source, leaving the last batch in flight; the last seq.
    async fn apply_source(
        &self,
        source: &mut dyn Connector,
        in_flight: &mut Option<InFlight>,
        groups: &mut Vec<(i64, SourceItem)>,
        waiting: &mut Waiting,
    ) -> Result<i64, EngineError> {
        let mut seq = 0i64;
        let mut pending: Vec<(i64, SourceItem)> = Vec::with_capacity(self.batch_size);
        let mut items = source.read(self.cursor);
        let mut ended = false;
        let mut refresh_at = BULK_LOAD_RECORDS;
        loop {
            self.check_cancelled().await?;
            if seq >= refresh_at {
                self.store.refresh_statistics().await?;
                refresh_at *= 2;
            }
            while !ended && pending.len() < self.batch_size {
                match items.next().await {
                    Some(item) => {
                        seq += 1;
                        match item? {
                            item @ (SourceItem::Record(Record { kind: RecordKind::Group, .. })
                            | SourceItem::Deleted { kind: RecordKind::Group, .. }) => groups.push((seq, item)),
                            item => pending.push((seq, item)),
                        }
                    }
                    None => ended = true,
                }
            }
            if pending.is_empty() {
                return Ok(seq);
            }
            let (mut plans, mut taken) = self.plan(&self.load(&pending).await?, &pending, Pass::Users);
            if let Some(flight) = in_flight.take() {
                let touched = self.finish(flight, waiting).await?;
                if touched.names_any(&pending[..taken], &plans) {
                    (plans, taken) = self.plan(&self.load(&pending).await?, &pending, Pass::Users);
                }
            }
            let batch: Vec<(i64, SourceItem)> = pending.drain(..taken).collect();
            let touched = Touched::by(&batch, &plans);
            let later = later(&plans);
            *in_flight = Some(InFlight { write: self.spawn_write(plans), items: batch, touched, later });
        }
    }

    fn spawn_write(&self, plans: Vec<RecordPlan>) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let writer = self.batch_writer();
        tokio::spawn(async move { writer.write(&plans, plans.len() as i64).await })
    }

    fn batch_writer(&self) -> BatchWriter {
        BatchWriter {
            store: self.store.clone(),
            audit: self.audit.clone(),
            tenant: self.job.tenant_id.clone(),
            job_id: self.job.id.clone(),
            lease_owner: self.lease_owner.to_owned(),
            connector_id: self.writer.connector_id.to_owned(),
            dry_run: self.job.dry_run,
            lease_seconds: self.lease_seconds,
        }
    }

    /// Waits for a batch in flight. If it could not be written as planned (a resource changed
    /// under it, or a unique clash), it is applied again the careful way, and everything counts
    /// as touched. The records it leaves for the pass after the users go to `waiting`.
    async fn finish(&self, flight: InFlight, waiting: &mut Waiting) -> Result<Touched, EngineError> {
        let result = match flight.write.await {
            Ok(result) => result,
            Err(join) => match join.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: the runtime is shutting down.
                Err(_) => Err(StoreError::Closed),
            },
        };
        match result {
            Ok(()) => {
                waiting.add(flight.items, flight.later);
                Ok(flight.touched)
            }
            Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => {
                let mut items = flight.items;
                while !items.is_empty() {
                    let (applied, plans) = self.apply_items(&mut items, Pass::Users).await?;
                    waiting.add(applied, later(&plans));
                }
                Ok(Touched { everything: true, ..Touched::default() })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Plans and writes the longest prefix of `items` in which no two records touch the same
    /// resource, and removes it from `items`. Returns that prefix and the plans written for it.
    pub(super) async fn apply_items(
        &self,
        items: &mut Vec<(i64, SourceItem)>,
        pass: Pass<'_>,
    ) -> Result<(Vec<(i64, SourceItem)>, Vec<RecordPlan>), EngineError> {
        let processed = match pass {
            Pass::Users => 1,
            Pass::Completing(_) => 0,
        };
        for attempt in 0.. {
            let loaded = self.load(items).await?;
            let (mut plans, taken) = self.plan(&loaded, items, pass);
            match self.write(&plans, processed * plans.len() as i64).await {
                Ok(()) => return Ok((items.drain(..taken).collect(), plans)),
                Err(StoreError::VersionMismatch) if attempt < RETRIES => continue,
                Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => {
                    self.write_one_by_one(&mut plans, processed).await?;
                    return Ok((items.drain(..taken).collect(), plans));
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }

    async fn write(&self, plans: &[RecordPlan], processed: i64) -> Result<(), StoreError> {
        self.batch_writer().write(plans, processed).await
    }

    /// A batch that conflicts as a whole is written record by record, so one bad record fails
    /// alone (with its reason) and the others are applied; `plans` are left as written.
    /// `processed` is what each record adds to the job's progress (0 for missing resources).
    async fn write_one_by_one(&self, plans: &mut [RecordPlan], processed: i64) -> Result<(), StoreError> {
        for plan in plans {
            match self.write(std::slice::from_ref(plan), processed).await {
                Ok(()) => {}
                Err(e @ (StoreError::VersionMismatch | StoreError::Conflict(_) | StoreError::Database(_))) => {
                    tracing::warn!(job = %self.job.id, seq = plan.outcome.seq, error = %e, "record not written");
                    *plan = plan_unwritable(plan, &e);
                    self.write(std::slice::from_ref(plan), processed).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Loads every resource the items can name: by link, then by email for what no link found,
    /// then by userName for what neither found (the order `Loaded::target` follows); their groups.
    async fn load(&self, items: &[(i64, SourceItem)]) -> Result<Loaded, StoreError> {
        let tenant = &self.job.tenant_id;
        let store = self.store;
        let mut loaded = Loaded::default();
        let records: Vec<(Option<&str>, &[Correlation])> = items
            .iter()
            .filter_map(|(_, item)| match item {
                SourceItem::Record(record) if record.kind == RecordKind::User => {
                    Some((Some(record.key.as_str()), record.correlate.as_slice()))
                }
                SourceItem::Rejected(rejected) => Some((None, rejected.correlate.as_slice())),
                SourceItem::Deleted { kind: RecordKind::User, key } => Some((Some(key.as_str()), &[][..])),
                _ => None,
            })
            .collect();
        let keys: Vec<String> = records.iter().filter_map(|(key, _)| key.map(str::to_owned)).collect();
        loaded.add_links(store.linked_users(self.writer.connector_id, &keys).await?);

        let unmatched = |loaded: &Loaded, pick: fn(&Correlation) -> Option<&String>| -> Vec<String> {
            let values = records.iter().filter(|(key, correlate)| loaded.target(*key, correlate).is_none());
            values.flat_map(|(_, correlate)| correlate.iter().filter_map(pick)).map(|v| v.to_lowercase()).collect()
        };
        let emails = unmatched(&loaded, |rule| match rule {
            Correlation::Email(email) => Some(email),
            _ => None,
        });
        loaded.by_email = store
            .users_by(tenant, UserKey::Email, &emails)
            .await?
            .into_iter()
            .filter_map(|u| Some((u.email_lower.clone()?, u)))
            .collect();
        let names = unmatched(&loaded, |rule| match rule {
            Correlation::UserName(name) => Some(name),
            _ => None,
        });
        loaded.by_user_name = store
            .users_by(tenant, UserKey::UserName, &names)
            .await?
            .into_iter()
            .map(|u| (u.user_name_lower.clone(), u))
            .collect();

        let mut groups: Vec<String> = items
            .iter()
            .filter_map(|(_, item)| match item {
                SourceItem::Record(record) => record.groups.as_ref(),
                _ => None,
            })
            .flat_map(|m| &m.groups)
            .filter_map(|g| match g {
                GroupRef::ExternalIdOrName(name) => Some(name.clone()),
                GroupRef::SourceKey(_) => None,
            })
            .collect();
        groups.sort();
        groups.dedup();
        loaded.add_groups(store.groups_named(tenant, &groups).await?);
        let user_ids: Vec<String> = {
            let all = loaded.by_link.values().chain(loaded.by_email.values()).chain(loaded.by_user_name.values());
            all.map(|u| u.id.clone()).collect::<HashSet<_>>().into_iter().collect()
        };
        loaded.add_memberships(store.memberships_of(tenant, &user_ids).await?);

        let mut referenced: Vec<String> = items
            .iter()
            .filter_map(|(_, item)| match item {
                SourceItem::Record(record) => Some(record.references.iter().filter_map(|r| r.key.clone())),
                _ => None,
            })
            .flatten()
            .collect();
        referenced.sort();
        referenced.dedup();
        loaded.add_referenced(store.linked_resources(self.writer.connector_id, LinkBy::Key, &referenced).await?);
        Ok(loaded)
    }

    /// Plans records in order until one touches a resource an earlier record of the batch touched
    /// (that one starts the next batch, planned against what this batch wrote). Returns the plans
    /// and how many items they cover: a deletion of a key never linked has no plan.
    fn plan(&self, loaded: &Loaded, items: &[(i64, SourceItem)], pass: Pass<'_>) -> (Vec<RecordPlan>, usize) {
        let mut plans = Vec::with_capacity(items.len());
        let mut touched = HashSet::new();
        let mut taken = 0;
        for (seq, item) in items {
            let plan = match item {
                SourceItem::Record(record) => {
                    let plan = plan_user(self.schema, &self.writer, loaded, *seq, record);
                    match pass {
                        Pass::Completing(outcomes) => completing(&outcomes[seq], plan),
                        Pass::Users => plan,
                    }
                }
                SourceItem::Rejected(rejected) => plan_rejected(loaded, *seq, rejected),
                SourceItem::Deleted { key, .. } => match loaded.by_link.get(key) {
                    Some(user) => plan_missing(&self.writer, &self.job.missing_policy, *seq, user),
                    None => {
                        taken += 1;
                        continue;
                    }
                },
            };
            let writes = plan.write.is_some() || !plan.join.is_empty() || !plan.leave.is_empty();
            if let Some(id) = plan.outcome.resource_id.as_ref().filter(|_| writes)
                && !touched.insert(id.clone())
                && !plans.is_empty()
            {
                break;
            }
            plans.push(plan);
            taken += 1;
        }
        (plans, taken)
    }

    /// The missing policy: every user in scope that is one of `candidates`, a page at a time; or,
    /// with `hold`, only their `AWAITING_APPROVAL` outcomes (what the policy would do, applied on
    /// approval). Returns the last seq used.
    async fn apply_missing(&self, mut seq: i64, candidates: Candidates, hold: bool) -> Result<i64, EngineError> {
        let policy = self.job.missing_policy.as_str();
        let mut after = 0;
        loop {
            let users = self
                .store
                .missing_users(
                    &self.job.tenant_id,
                    &self.job.id,
                    &self.missing_scope,
                    candidates,
                    policy != "delete",
                    after,
                    self.batch_size as i64,
                )
                .await?;
            let Some(last) = users.last() else { return Ok(seq) };
            after = last.seq;
            let mut plans: Vec<RecordPlan> = users
                .iter()
                .map(|user| {
                    seq += 1;
                    let plan = plan_missing(&self.writer, policy, seq, user);
                    if hold { held(plan) } else { plan }
                })
                .collect();
            match self.write(&plans, 0).await {
                Ok(()) => {}
                Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => {
                    self.write_one_by_one(&mut plans, 0).await?
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A missing-policy plan held for approval: no write, its action in CHANGED_FIELDS.
fn held(plan: RecordPlan) -> RecordPlan {
    let mut outcome = plan.outcome;
    outcome.changed_fields = Some(outcome.status.to_owned());
    outcome.status = HELD;
    RecordPlan::only(None, outcome)
}
