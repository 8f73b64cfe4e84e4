//! The sync engine (DESIGN.md §3): records in batches, each batch planned against the resources it
//! names and written in one transaction with its outcomes and the job's counters; after a full
//! run, the missing policy. The same for every connector.

use std::collections::HashSet;

use futures_util::StreamExt;
use scimd_connectors::{Connector, Correlation, RecordKind, SourceItem};
use scimd_schemas::schema::ResourceSchema;

use super::plan::{Loaded, Writer, plan_missing, plan_rejected, plan_unwritable, plan_user};
use crate::store::{BatchJob, JobRow, MissingScope, RecordPlan, Store, StoreError, UserKey, lease_until};

/// Times a batch is planned again when a resource changed under it.
const RETRIES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Source(#[from] scimd_connectors::ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One run of a job.
pub struct Run<'a> {
    pub store: &'a Store,
    pub schema: &'a ResourceSchema,
    pub job: &'a JobRow,
    pub writer: Writer<'a>,
    pub lease_owner: &'a str,
    pub lease_seconds: u64,
    pub batch_size: usize,
    /// Which users the missing policy looks at after a full run.
    pub missing_scope: MissingScope<'a>,
}

impl Run<'_> {
    /// Reads the source to its end and applies it. Committed batches stay committed if a later one
    /// fails; the job's counters always match what was committed.
    pub async fn execute(&self, source: &mut dyn Connector) -> Result<(), EngineError> {
        let mut seq = 0i64;
        let mut pending: Vec<(i64, SourceItem)> = Vec::with_capacity(self.batch_size);
        {
            let mut items = source.read(None);
            while let Some(item) = items.next().await {
                seq += 1;
                pending.push((seq, item?));
                if pending.len() >= self.batch_size {
                    self.apply_items(&mut pending).await?;
                }
            }
        }
        while !pending.is_empty() {
            self.apply_items(&mut pending).await?;
        }
        if self.job.full_run {
            self.apply_missing(seq).await?;
        }
        Ok(())
    }

    /// Plans and writes the longest prefix of `items` in which no two records touch the same
    /// resource, and removes it from `items`.
    async fn apply_items(&self, items: &mut Vec<(i64, SourceItem)>) -> Result<(), EngineError> {
        for attempt in 0.. {
            let loaded = self.load(items).await?;
            let plans = self.plan(&loaded, items);
            let taken = plans.len();
            match self.write(&plans, taken as i64).await {
                Ok(()) => {
                    items.drain(..taken);
                    return Ok(());
                }
                Err(StoreError::VersionMismatch) if attempt < RETRIES => continue,
                Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => {
                    self.write_one_by_one(&plans, 1).await?;
                    items.drain(..taken);
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }

    async fn write(&self, plans: &[RecordPlan], processed: i64) -> Result<(), StoreError> {
        let lease_expires = lease_until(self.lease_seconds);
        let batch = BatchJob {
            tenant: &self.job.tenant_id,
            job_id: &self.job.id,
            lease_owner: self.lease_owner,
            lease_expires: &lease_expires,
            connector_id: self.writer.connector_id,
            dry_run: self.job.dry_run,
            processed,
        };
        self.store.apply_sync_batch(&batch, plans).await
    }

    /// A batch that conflicts as a whole is written record by record, so one bad record fails
    /// alone (with its reason) and the others are applied.
    /// `processed` is what each record adds to the job's progress (0 for missing resources).
    async fn write_one_by_one(&self, plans: &[RecordPlan], processed: i64) -> Result<(), StoreError> {
        for plan in plans {
            match self.write(std::slice::from_ref(plan), processed).await {
                Ok(()) => {}
                Err(e @ (StoreError::VersionMismatch | StoreError::Conflict(_) | StoreError::Database(_))) => {
                    tracing::warn!(job = %self.job.id, seq = plan.outcome.seq, error = %e, "record not written");
                    self.write(&[plan_unwritable(plan, &e)], processed).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Loads every resource the items can name: by link, email and userName; their groups.
    async fn load(&self, items: &[(i64, SourceItem)]) -> Result<Loaded, StoreError> {
        let tenant = &self.job.tenant_id;
        let mut keys = Vec::new();
        let mut emails = Vec::new();
        let mut names = Vec::new();
        let mut groups = Vec::new();
        for (_, item) in items {
            let correlate = match item {
                SourceItem::Record(record) if record.kind == RecordKind::User => {
                    keys.push(record.key.clone());
                    groups.extend(record.groups.iter().flat_map(|m| &m.groups).filter_map(|g| match g {
                        scimd_connectors::GroupRef::ExternalIdOrName(name) => Some(name.clone()),
                        scimd_connectors::GroupRef::SourceKey(_) => None,
                    }));
                    &record.correlate
                }
                SourceItem::Rejected(rejected) => &rejected.correlate,
                _ => continue,
            };
            for rule in correlate {
                match rule {
                    Correlation::Email(email) => emails.push(email.to_lowercase()),
                    Correlation::UserName(name) => names.push(name.to_lowercase()),
                    Correlation::ExternalId(_) => {}
                }
            }
        }
        let mut loaded = Loaded::default();
        let store = self.store;
        loaded.by_link = store.linked_users(self.writer.connector_id, &keys).await?.into_iter().collect();
        loaded.by_email = store
            .users_by(tenant, UserKey::Email, &emails)
            .await?
            .into_iter()
            .filter_map(|u| Some((u.email_lower.clone()?, u)))
            .collect();
        loaded.by_user_name = store
            .users_by(tenant, UserKey::UserName, &names)
            .await?
            .into_iter()
            .map(|u| (u.user_name_lower.clone(), u))
            .collect();
        groups.sort();
        groups.dedup();
        loaded.add_groups(store.groups_named(tenant, &groups).await?);
        let user_ids: Vec<String> = {
            let all = loaded.by_link.values().chain(loaded.by_email.values()).chain(loaded.by_user_name.values());
            all.map(|u| u.id.clone()).collect::<HashSet<_>>().into_iter().collect()
        };
        loaded.add_memberships(store.memberships_of(tenant, &user_ids).await?);
        Ok(loaded)
    }

    /// Plans records in order until one touches a resource an earlier record of the batch touched
    /// (that one starts the next batch, planned against what this batch wrote).
    fn plan(&self, loaded: &Loaded, items: &[(i64, SourceItem)]) -> Vec<RecordPlan> {
        let mut plans = Vec::with_capacity(items.len());
        let mut touched = HashSet::new();
        for (seq, item) in items {
            let plan = match item {
                SourceItem::Record(record) => plan_user(self.schema, &self.writer, loaded, *seq, record),
                SourceItem::Rejected(rejected) => plan_rejected(loaded, *seq, rejected),
                SourceItem::Deleted { key, .. } => match loaded.by_link.get(key) {
                    Some(user) => plan_missing(&self.writer, &self.job.missing_policy, *seq, user),
                    None => continue,
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
        }
        plans
    }

    /// The missing policy: every user in scope that the run did not see, a page at a time.
    async fn apply_missing(&self, mut seq: i64) -> Result<(), EngineError> {
        let policy = self.job.missing_policy.as_str();
        let mut after = 0;
        loop {
            let users = self
                .store
                .unseen_users(
                    &self.job.tenant_id,
                    &self.job.id,
                    &self.missing_scope,
                    policy != "delete",
                    after,
                    self.batch_size as i64,
                )
                .await?;
            let Some(last) = users.last() else { return Ok(()) };
            after = last.seq;
            let plans: Vec<RecordPlan> = users
                .iter()
                .map(|user| {
                    seq += 1;
                    plan_missing(&self.writer, policy, seq, user)
                })
                .collect();
            match self.write(&plans, 0).await {
                Ok(()) => {}
                Err(StoreError::VersionMismatch | StoreError::Conflict(_)) => self.write_one_by_one(&plans, 0).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
