//! `scimd audit verify|export`: the hash chain's check, and the log exported as CSV or JSON Lines
//! (the events of `GET /admin/v1/audit/export`, streamed a page at a time).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use futures_util::StreamExt;

use super::{open, tenant_named};
use crate::audit::export::{self, Format};
use crate::config::Config;
use crate::store::{AuditFilter, ChainCheck};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk a tenant's audit log and check its hash chain: every event follows the one before, and
    /// its hash matches its content. Exits non-zero and names the first broken event otherwise.
    #[command(after_help = "Examples:\n  scimd audit verify --tenant acme\n  \
scimd --database postgres://scimd@db/scimd audit verify --tenant acme || alert-security-team\n\n\
Prints \"N events, chain intact\" when nothing was changed or removed.")]
    Verify {
        /// The tenant whose log is checked.
        #[arg(long)]
        tenant: String,
    },
    /// Export a tenant's audit events, oldest first, with the filters of GET /admin/v1/audit.
    #[command(after_help = "Examples:\n  scimd audit export --tenant acme --format csv --output audit.csv\n  \
scimd audit export --tenant acme --since 2026-11-01T00:00:00Z --action user.patch > patches.jsonl\n  \
scimd audit export --tenant acme --resource-type Token --format csv\n  \
scimd audit export --tenant acme --job-id 0192f0c4-7a1e-7c3a-9f00-1b2c3d4e5f60 --output job.jsonl\n\n\
Events are read a page at a time, so a log of any size streams in constant memory. With --output, progress \
is shown on stderr; without it the events go to stdout.")]
    Export(Box<ExportArgs>),
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Write to this file instead of stdout (replaced if it exists).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Events at or after this RFC 3339 time, e.g. 2026-11-01T00:00:00Z.
    #[arg(long, value_name = "TIME", value_parser = rfc3339)]
    since: Option<String>,
    /// Events before this RFC 3339 time.
    #[arg(long, value_name = "TIME", value_parser = rfc3339)]
    until: Option<String>,
    /// A token id, `cli` or `system`.
    #[arg(long)]
    actor: Option<String>,
    /// user.create, user.patch, token.revoke, sync.user.update, …
    #[arg(long)]
    action: Option<String>,
    /// User, Group, Token, Tenant, Connector, Link.
    #[arg(long)]
    resource_type: Option<String>,
    #[arg(long)]
    resource_id: Option<String>,
    /// scim, admin, cli, csv or connector:<name>.
    #[arg(long)]
    source: Option<String>,
    /// The events of one sync job.
    #[arg(long)]
    job_id: Option<String>,
}

fn rfc3339(value: &str) -> Result<String, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|_| value.to_owned())
        .map_err(|_| format!("{value:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z"))
}

pub async fn audit(config: Config, command: AuditCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    match command {
        AuditCommand::Verify { tenant } => {
            let tenant = tenant_named(&store, &tenant).await?;
            match store.verify_audit(&tenant.id).await? {
                ChainCheck::Intact { events } => {
                    println!("{events} events, chain intact");
                    Ok(())
                }
                ChainCheck::Broken { seq, reason } => {
                    anyhow::bail!("the audit log of tenant {} is broken at event {seq}: {reason}", tenant.name)
                }
            }
        }
        AuditCommand::Export(args) => {
            let tenant = tenant_named(&store, &args.tenant).await?;
            let filter = AuditFilter {
                since: args.since,
                until: args.until,
                actor: args.actor,
                resource_type: args.resource_type,
                resource_id: args.resource_id,
                action: args.action,
                source: args.source,
                job_id: args.job_id,
            };
            let pages = export::pages(store, tenant.id, filter);
            match &args.output {
                None => {
                    let events = write_events(pages, args.format, std::io::stdout().lock(), None).await?;
                    if events == 0 {
                        eprintln!("no events of tenant {} match these filters", tenant.name);
                    }
                    Ok(())
                }
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}; choose another --output", path.display()))?;
                    let progress = indicatif::ProgressBar::new_spinner().with_style(
                        indicatif::ProgressStyle::with_template("{spinner} {pos} events  {elapsed_precise}")
                            .expect("a valid template"),
                    );
                    let written = write_events(pages, args.format, file, Some(&progress)).await;
                    progress.finish_and_clear();
                    match written {
                        Ok(events) => {
                            eprintln!("wrote {events} events of tenant {} to {}", tenant.name, path.display());
                            Ok(())
                        }
                        Err(e) => {
                            let _ = std::fs::remove_file(path);
                            Err(e.context(format!("the export stopped; {} was removed, run it again", path.display())))
                        }
                    }
                }
            }
        }
    }
}

/// Writes the header and every page as it is read; the number of events.
async fn write_events(
    pages: impl futures_util::Stream<Item = crate::store::StoreResult<Vec<crate::store::AuditRow>>>,
    format: Format,
    out: impl Write,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(out);
    out.write_all(format.header())?;
    let mut events = 0u64;
    let mut pages = std::pin::pin!(pages);
    while let Some(page) = pages.next().await {
        let rows = page.context("cannot read the audit log")?;
        out.write_all(&format.render(&rows))?;
        events += rows.len() as u64;
        if let Some(progress) = progress {
            progress.set_position(events);
        }
    }
    out.flush()?;
    Ok(events)
}
