//! `scimd connector show|runs|set`, `scimd jobs show|cancel|approve|reject`: a connector's settings
//! and run history, and run control, on the database directly (a running `scimd serve` picks up
//! what they queue).

use clap::Subcommand;

use super::{open, tenant_named};
use crate::config::Config;
use crate::store::{Cancelled, ConnectorRow, JobFilter, JobRow, Store};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// A job's status, counts and links to its outcomes.
    #[command(after_help = "Example:\n  scimd jobs show 0192f0c4-7a1e-7c3a-9f00-1b2c3d4e5f60 --tenant acme")]
    Show {
        id: String,
        #[arg(long)]
        tenant: String,
    },
    /// Cancel a job: a queued one at once, a running one after its current batch (which stays committed).
    #[command(after_help = "Example:\n  scimd jobs cancel 0192f0c4-7a1e-7c3a-9f00-1b2c3d4e5f60 --tenant acme")]
    Cancel {
        id: String,
        #[arg(long)]
        tenant: String,
    },
    /// Approve a run the mass-deprovision guard stopped: its listed users are deactivated or deleted.
    #[command(after_help = "Examples:\n  scimd jobs show $JOB --tenant acme      # status awaiting_approval\n  \
curl -H \"Authorization: Bearer $ADMIN\" http://127.0.0.1:8080/admin/v1/jobs/$JOB/result.csv   # the AWAITING_APPROVAL rows\n  \
scimd jobs approve $JOB --tenant acme\n\nA running `scimd serve` applies the approved list.")]
    Approve {
        id: String,
        #[arg(long)]
        tenant: String,
    },
    /// Reject a run the mass-deprovision guard stopped: it ends `rejected`, applying nothing.
    #[command(after_help = "Example:\n  scimd jobs reject $JOB --tenant acme")]
    Reject {
        id: String,
        #[arg(long)]
        tenant: String,
    },
}

pub async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    let (JobsCommand::Show { id, tenant }
    | JobsCommand::Cancel { id, tenant }
    | JobsCommand::Approve { id, tenant }
    | JobsCommand::Reject { id, tenant }) = &command;
    let tenant = tenant_named(&store, tenant).await?;
    let Some(job) = store.job(&tenant.id, id).await? else {
        anyhow::bail!("tenant {} has no job {id:?}", tenant.name);
    };
    match command {
        JobsCommand::Show { .. } => print_job(&job),
        JobsCommand::Cancel { .. } => match store.cancel_job(&tenant.id, &job.id).await? {
            Cancelled::Now => println!("job {} cancelled", job.id),
            Cancelled::AfterBatch => println!("job {} stops after its current batch", job.id),
            Cancelled::NotActive => {
                anyhow::bail!("job {} is {}; only a pending or running job can be cancelled", job.id, job.status)
            }
        },
        JobsCommand::Approve { .. } | JobsCommand::Reject { .. } => {
            let approve = matches!(command, JobsCommand::Approve { .. });
            if !store.decide_job(&tenant.id, &job.id, approve).await? {
                anyhow::bail!("job {} is {}; only a run awaiting approval can be decided", job.id, job.status);
            }
            let what = if approve { "approved; a running `scimd serve` applies it" } else { "rejected" };
            println!("job {} {what}", job.id);
        }
    }
    Ok(())
}

fn print_job(job: &JobRow) {
    println!("job {} ({}, trigger {}, attempt {}): {}", job.id, job.kind, job.trigger, job.attempt, job.status);
    for (label, value) in [
        ("requested", Some(&job.requested)),
        ("scheduled for", job.scheduled_for.as_ref()),
        ("retry of", job.retry_of.as_ref()),
        ("not before", job.not_before.as_ref()),
        ("started", job.started.as_ref()),
        ("finished", job.finished.as_ref()),
        ("error", job.error.as_ref()),
    ] {
        if let Some(value) = value {
            println!("  {label}: {value}");
        }
    }
    println!(
        "  processed {}; created {}, updated {}, unchanged {}, deactivated {}, deleted {}, maintained {}; failed {}, not registered {}",
        job.processed,
        job.created_count,
        job.updated_count,
        job.unchanged_count,
        job.deactivated_count,
        job.deleted_count,
        job.maintained_count,
        job.invalid_count,
        job.not_registered_count
    );
    println!("  outcomes: GET /admin/v1/jobs/{}/result.csv and /errors.csv", job.id);
}

/// A connector by name, or an error saying how to list them.
pub async fn connector_named(store: &Store, tenant: &crate::store::Tenant, name: &str) -> anyhow::Result<ConnectorRow> {
    match store.connector_by_name(&tenant.id, name).await? {
        Some(connector) => Ok(connector),
        None => anyhow::bail!(
            "tenant {} has no connector named {name:?}; see `scimd connector list --tenant {}`",
            tenant.name,
            tenant.name
        ),
    }
}

pub fn print_connector(c: &ConnectorRow) {
    println!("{} ({}, id {})", c.name, c.kind, c.id);
    println!("  enabled: {}", c.enabled);
    println!("  missing policy: {}", c.missing_policy);
    println!(
        "  schedule: {} (next run {})",
        c.schedule.as_deref().unwrap_or("none"),
        c.next_run.as_deref().unwrap_or("-")
    );
    let or_default = |value: Option<i64>| value.map_or_else(|| "default".to_owned(), |v| v.to_string());
    println!("  retries: {} (backoff {} s)", or_default(c.retry_attempts), or_default(c.retry_backoff_seconds));
    println!("  guard: {} % / {} users", or_default(c.guard_percent), or_default(c.guard_count));
    println!("  cursor: {}", c.cursor.as_deref().unwrap_or("-"));
    println!("  config: {}", c.config);
}

/// The connector's last runs, newest first, one a line.
pub async fn print_runs(store: &Store, connector: &ConnectorRow, count: u64) -> anyhow::Result<()> {
    let filter = JobFilter { connector_id: Some(&connector.id), ..JobFilter::default() };
    let (total, jobs) = store.list_jobs(&connector.tenant_id, &filter, 0, count).await?;
    println!("{total} runs of {}; the last {}:", connector.name, jobs.len());
    for job in jobs {
        println!(
            "{}\t{}\t{}\t{}\tprocessed={}\tdeactivated={}\tdeleted={}\t{}",
            job.id,
            job.requested,
            job.trigger,
            job.status,
            job.processed,
            job.deactivated_count,
            job.deleted_count,
            job.error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
