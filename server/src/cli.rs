//! The `scimd` command line.

mod audit;
mod runs;
mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::{AuditContext, Store, StoreError};
use crate::sync::csv::Actor;
use crate::sync::run_claimed;

#[derive(Debug, Parser)]
#[command(
    name = "scimd",
    version,
    about = "scimd — an identity hub: SCIM 2.0 server, directory sync and audit",
    after_help = "Examples:\n  scimd serve                                   # SQLite in ./scimd.db on 127.0.0.1:8080\n  scimd --database postgres://scimd@db/scimd serve --listen 0.0.0.0:8080\n  scimd tenant create acme\n  scimd token create --tenant acme --role scim --client entra\n  scimd token list --tenant acme\n  scimd audit export --tenant acme --format csv --output audit.csv\n\nSettings come from defaults < scimd.toml < SCIMD_* environment variables < flags."
)]
pub struct Cli {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST:PORT/DB.
    /// Also SCIMD_DATABASE_URL or `database_url` in scimd.toml.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,

    /// Configuration file (default: ./scimd.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies database migrations first).
    #[command(
        after_help = "Examples:\n  scimd serve\n  scimd serve --listen 0.0.0.0:8080\n  SCIMD_LOG__FORMAT=json scimd serve"
    )]
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080, or server.listen in scimd.toml].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Register users in bulk from a CSV file (UserName,Email,UserId[,GroupIdList][,ActiveStatus]).
    #[command(
        after_help = "Examples:\n  scimd csv-sync --template > users.csv\n  scimd csv-sync users.csv --tenant acme --missing keep --wait\n  \
scimd csv-sync users.csv --tenant acme --missing deactivate --dry-run --wait\n\n\
Without --wait the job is queued for a running `scimd serve` on the same database.\n\
Results: GET /admin/v1/jobs/<id>, /admin/v1/jobs/<id>/result.csv and /errors.csv."
    )]
    CsvSync {
        /// The CSV file (UTF-8, with or without BOM).
        #[arg(required_unless_present = "template")]
        file: Option<PathBuf>,
        /// The tenant to register the users in.
        #[arg(long, required_unless_present = "template")]
        tenant: Option<String>,
        /// Users absent from the file (managed by the CSV or created by admins): deactivate or keep.
        #[arg(long, value_parser = ["deactivate", "keep"], required_unless_present = "template")]
        missing: Option<String>,
        /// Work out and record every outcome, but change no user.
        #[arg(long)]
        dry_run: bool,
        /// Run the job here, with a progress bar, and print its summary.
        #[arg(long)]
        wait: bool,
        /// Print the CSV template and exit.
        #[arg(long, conflicts_with_all = ["file", "tenant", "missing", "dry_run", "wait"])]
        template: bool,
    },
    /// Configure directory connectors (LDAP, Active Directory) and run them.
    #[command(subcommand)]
    Connector(ConnectorCommand),
    /// Check or export the audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Show, cancel, approve or reject jobs (CSV imports and connector runs).
    #[command(subcommand)]
    Jobs(runs::JobsCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Create a connector from a JSON configuration file (see README, "LDAP and Active Directory",
    /// "Microsoft Entra ID", "Google Workspace").
    #[command(
        after_help = "Examples:\n  scimd connector create corp --tenant acme --kind ldap --settings corp-ldap.json\n  \
scimd connector create ad --tenant acme --kind ldap --settings ad.json --missing keep\n  \
scimd connector create entra --tenant acme --kind azure --settings entra.json\n  \
scimd connector create workspace --tenant acme --kind google --settings google.json\n\n\
Secrets are never in the file: an LDAP bind password is named by bindPasswordEnv or bindPasswordFile, Entra \
ID's client secret by clientSecretEnv or clientSecretFile, a Google service account key by keyFile or keyFileEnv."
    )]
    Create {
        /// The connector's name, unique in the tenant; what it creates is managed by `connector:<name>`.
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long, value_parser = ["ldap", "azure", "google"])]
        kind: String,
        /// The connector's JSON configuration file (`--config` is scimd's own scimd.toml).
        #[arg(long, value_name = "FILE")]
        settings: PathBuf,
        /// Users and groups gone from the source after a full run: deactivate (groups: delete), keep or delete.
        #[arg(long, value_parser = ["deactivate", "keep", "delete"], default_value = "deactivate")]
        missing: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Show a connector: its settings, schedule, next run, retries and guard.
    #[command(after_help = "Example:\n  scimd connector show corp --tenant acme")]
    Show {
        name: String,
        #[arg(long)]
        tenant: String,
    },
    /// Change a connector's schedule, enabled flag, retries or guard (other settings stay).
    #[command(after_help = "Examples:\n  scimd connector set corp --tenant acme --schedule \"0 */6 * * *\"\n  \
scimd connector set corp --tenant acme --schedule none --enabled false\n  \
scimd connector set corp --tenant acme --guard-percent 5 --guard-count 200 --retry-attempts 3")]
    Set {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// A connector's run history, newest first (scheduled, skipped, retried and held runs included).
    #[command(
        after_help = "Examples:\n  scimd connector runs corp --tenant acme\n  scimd connector runs corp --tenant acme --count 5"
    )]
    Runs {
        name: String,
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 20)]
        count: u64,
    },
    /// List the tenant's connectors.
    #[command(after_help = "Example:\n  scimd connector list --tenant acme")]
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Run a connector: incremental from its last cursor, or full (the first run always is).
    #[command(
        after_help = "Examples:\n  scimd connector run corp --tenant acme --wait\n  scimd connector run corp --tenant acme --full --dry-run --wait\n\n\
Without --wait the run is queued for a running `scimd serve` on the same database.\n\
History: GET /admin/v1/jobs?kind=connector_sync; outcomes: /admin/v1/jobs/<id>/result.csv and /errors.csv."
    )]
    Run {
        name: String,
        #[arg(long)]
        tenant: String,
        /// Read everything and apply the missing policy, not only what changed since the last run.
        #[arg(long)]
        full: bool,
        /// Work out and record every outcome, but change nothing (the cursor stays too).
        #[arg(long)]
        dry_run: bool,
        /// Run here, with progress, and print the summary.
        #[arg(long)]
        wait: bool,
    },
}

/// A connector's schedule, enabled flag, retries and mass-deprovision guard.
#[derive(Debug, clap::Args)]
pub struct RunFlags {
    /// A cron expression (five fields, or six with seconds first), e.g. "0 */6 * * *"; "none" removes it.
    #[arg(long, value_name = "CRON")]
    schedule: Option<String>,
    /// Whether the connector may run (scheduled or not).
    #[arg(long, value_name = "BOOL")]
    enabled: Option<bool>,
    /// Retries after a failed run [default: sync.retry_attempts].
    #[arg(long, value_name = "N")]
    retry_attempts: Option<i64>,
    /// Wait before the first retry, doubled for each further one [default: sync.retry_backoff_seconds].
    #[arg(long, value_name = "SECONDS")]
    retry_backoff_seconds: Option<i64>,
    /// Stop for approval when a run would deactivate or delete more than this % of the connector's users.
    #[arg(long, value_name = "PERCENT")]
    guard_percent: Option<i64>,
    /// … or more than this many users.
    #[arg(long, value_name = "N")]
    guard_count: Option<i64>,
}

impl RunFlags {
    fn options(&self) -> crate::sync::connector::RunOptions {
        crate::sync::connector::RunOptions {
            schedule: self.schedule.as_ref().map(|s| (s != "none").then(|| s.clone())),
            enabled: self.enabled,
            retry_attempts: self.retry_attempts.map(Some),
            retry_backoff_seconds: self.retry_backoff_seconds.map(Some),
            guard_percent: self.guard_percent.map(Some),
            guard_count: self.guard_count.map(Some),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    #[command(after_help = "Example:\n  scimd tenant create acme")]
    Create {
        /// The tenant's unique name.
        name: String,
    },
    /// List tenants: name, id, created, and how many live tokens each has.
    #[command(after_help = "Example:\n  scimd tenant list\n\nTab-separated with a header line.")]
    List,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref(), cli.database.as_deref())?;
    match cli.command {
        Command::Serve { listen } => {
            let mut config = config;
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let _flush_logs_on_exit = crate::telemetry::init(&config.log);
            crate::serve::run(config).await
        }
        Command::Tenant(TenantCommand::Create { name }) => {
            let store = open(&config).await?;
            let tenant = store.create_tenant(&name, &cli_actor()).await?;
            println!("created tenant {} (id {})", tenant.name, tenant.id);
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => tokens::tenant_list(config).await,
        Command::Token(command) => tokens::token(config, command).await,
        Command::CsvSync { template: true, .. } => {
            print!("{}", scimd_connectors::csv::template());
            Ok(())
        }
        Command::CsvSync { file, tenant, missing, dry_run, wait, template: false } => {
            let (Some(file), Some(tenant), Some(missing)) = (file, tenant, missing) else {
                anyhow::bail!("FILE, --tenant and --missing are required (see scimd csv-sync --help)");
            };
            csv_sync(config, file, tenant, missing, dry_run, wait).await
        }
        Command::Connector(command) => connector(config, command).await,
        Command::Audit(command) => audit::audit(config, command).await,
        Command::Jobs(command) => runs::jobs(config, command).await,
    }
}

async fn tenant_named(store: &Store, name: &str) -> anyhow::Result<crate::store::Tenant> {
    match store.tenant_by_name(name).await {
        Err(StoreError::NotFound) => {
            anyhow::bail!("no tenant named {name:?}: create it with `scimd tenant create {name}`")
        }
        other => Ok(other?),
    }
}

fn jobs_for(config: Config, store: &Store) -> anyhow::Result<crate::sync::Jobs> {
    let registry = std::sync::Arc::new(crate::serve::registry(&config)?);
    Ok(crate::sync::Jobs {
        store: store.clone(),
        registry,
        config: std::sync::Arc::new(config),
        queued: Default::default(),
    })
}

async fn connector(config: Config, command: ConnectorCommand) -> anyhow::Result<()> {
    use crate::sync::connector::{RunRequest, check_settings, queue_run};
    let store = open(&config).await?;
    match command {
        ConnectorCommand::Create { name, tenant, kind, settings: file, missing, run } => {
            let tenant = tenant_named(&store, &tenant).await?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let stored = check_settings(&kind, &value, &missing)
                .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
            let run = crate::sync::connector::run_settings(&run.options(), None)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let settings = crate::store::ConnectorSettings {
                name: &name,
                kind: &kind,
                config: &stored,
                missing_policy: &missing,
                run: &run,
            };
            let created = match store.create_connector(&tenant.id, &settings, &cli_actor()).await {
                Err(StoreError::Conflict(_)) => {
                    anyhow::bail!("tenant {} has a connector named {name:?}; choose another name", tenant.name)
                }
                other => other?,
            };
            println!(
                "created {} connector {} (id {}); run it with `scimd connector run {} --tenant {} --wait`",
                created.kind, created.name, created.id, created.name, tenant.name
            );
            Ok(())
        }
        ConnectorCommand::Show { name, tenant } => {
            let tenant = tenant_named(&store, &tenant).await?;
            runs::print_connector(&runs::connector_named(&store, &tenant, &name).await?);
            Ok(())
        }
        ConnectorCommand::Runs { name, tenant, count } => {
            let tenant = tenant_named(&store, &tenant).await?;
            runs::print_runs(&store, &runs::connector_named(&store, &tenant, &name).await?, count).await
        }
        ConnectorCommand::Set { name, tenant, run } => {
            let tenant = tenant_named(&store, &tenant).await?;
            let current = runs::connector_named(&store, &tenant, &name).await?;
            let run = crate::sync::connector::run_settings(&run.options(), Some(&current))
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let settings = crate::store::ConnectorSettings {
                name: &current.name,
                kind: &current.kind,
                config: &current.config,
                missing_policy: &current.missing_policy,
                run: &run,
            };
            runs::print_connector(&store.update_connector(&tenant.id, &current.id, &settings, &cli_actor()).await?);
            Ok(())
        }
        ConnectorCommand::List { tenant } => {
            let tenant = tenant_named(&store, &tenant).await?;
            for c in store.list_connectors(&tenant.id, None).await? {
                println!(
                    "{}\t{}\t{}\tmissing={}\tcursor={}",
                    c.name,
                    c.kind,
                    c.id,
                    c.missing_policy,
                    c.cursor.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        ConnectorCommand::Run { name, tenant, full, dry_run, wait } => {
            let tenant = tenant_named(&store, &tenant).await?;
            let Some(connector) = store.connector_by_name(&tenant.id, &name).await? else {
                anyhow::bail!(
                    "tenant {} has no connector named {name:?}; see `scimd connector list --tenant {}`",
                    tenant.name,
                    tenant.name
                );
            };
            let jobs = jobs_for(config, &store)?;
            let user = cli_user();
            let actor = Actor { trigger: "cli", token_id: None, name: Some(&user) };
            let job = queue_run(&jobs, &RunRequest { connector: &connector, full, dry_run, actor }).await?;
            if !wait {
                println!(
                    "queued {} run {} of {}; a running `scimd serve` on this database runs it.",
                    if job.full_run { "full" } else { "incremental" },
                    job.id,
                    connector.name
                );
                println!("Follow it with GET /admin/v1/jobs/{}, or pass --wait to run it here.", job.id);
                return Ok(());
            }
            let done = run_here(&jobs, &tenant.id, job).await?;
            print_summary(&done, "records");
            Ok(())
        }
    }
}

/// Claims a queued job and runs it in this process with a progress bar (a spinner when the
/// total is unknown); the job as it ended.
async fn run_here(
    jobs: &crate::sync::Jobs,
    tenant: &str,
    job: crate::store::JobRow,
) -> anyhow::Result<crate::store::JobRow> {
    let store = &jobs.store;
    let owner = format!("scimd-cli-{}", uuid::Uuid::new_v4());
    let claimed = store.claim_job(Some(&job.id), &owner, jobs.config.sync.lease_seconds).await?;
    let runner = claimed.map(|claimed| {
        let (jobs, owner) = (jobs.clone(), owner.clone());
        tokio::spawn(async move { run_claimed(&jobs.store, &jobs.registry, &jobs.config, claimed, &owner).await })
    });
    let bar = match job.total {
        Some(total) => indicatif::ProgressBar::new(total.max(0) as u64).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {elapsed_precise}  eta {eta}")
                .expect("a valid template"),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} records  {elapsed_precise}")
                .expect("a valid template"),
        ),
    };
    loop {
        let current = store.job(tenant, &job.id).await?.context("the job disappeared")?;
        bar.set_position(current.processed.max(0) as u64);
        bar.tick();
        if current.is_done() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
    if let Some(runner) = runner {
        runner.await?;
    }
    store.job(tenant, &job.id).await?.context("the job disappeared")
}

fn print_summary(done: &crate::store::JobRow, unit: &str) {
    println!(
        "job {} {}{}: {} {unit}; created {}, updated {}, unchanged {}, deactivated {}, deleted {}, maintained {}; failed {}, not registered {}",
        done.id,
        done.status,
        if done.dry_run { " (dry run: nothing changed)" } else { "" },
        done.total.unwrap_or(done.processed),
        done.created_count,
        done.updated_count,
        done.unchanged_count,
        done.deactivated_count,
        done.deleted_count,
        done.maintained_count,
        done.invalid_count,
        done.not_registered_count
    );
    if let Some(error) = &done.error {
        println!("error: {error}");
    }
    if done.invalid_count + done.not_registered_count > 0 {
        println!("the failed records and their codes: GET /admin/v1/jobs/{}/errors.csv", done.id);
    }
}

async fn csv_sync(
    config: Config,
    file: PathBuf,
    tenant: String,
    missing: String,
    dry_run: bool,
    wait: bool,
) -> anyhow::Result<()> {
    use crate::sync::csv::{CsvRequest, check_file_name, check_lock, new_upload, queue};
    let store = open(&config).await?;
    let tenant = tenant_named(&store, &tenant).await?;
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    check_file_name(&file_name)?;
    let size = std::fs::metadata(&file).with_context(|| format!("cannot read {}", file.display()))?.len();
    if size > config.sync.csv_max_bytes {
        anyhow::bail!(
            "2706 CSV_FILE_SIZE_LIMIT_EXCEEDED: {} is over {} bytes (sync.csv_max_bytes); split it into smaller files",
            file.display(),
            config.sync.csv_max_bytes
        );
    }
    let jobs = jobs_for(config, &store)?;
    check_lock(&jobs, &tenant.id).await?;
    let (id, path) = new_upload(&jobs)?;
    if let Err(e) = std::fs::copy(&file, &path) {
        crate::sync::discard_dir(path.parent().unwrap_or(&path));
        anyhow::bail!("2708 CSV_FILE_SAVE_FAILED: cannot copy {} into {}: {e}", file.display(), path.display());
    }
    let user = cli_user();
    let actor = Actor { trigger: "cli", token_id: None, name: Some(&user) };
    let request = CsvRequest { tenant_id: &tenant.id, file_name: &file_name, missing: &missing, dry_run, actor };
    let job = queue(&jobs, &id, &request).await?;
    if !wait {
        println!(
            "queued job {} ({} rows); a running `scimd serve` on this database runs it.",
            job.id,
            job.total.unwrap_or(0)
        );
        println!("Follow it with GET /admin/v1/jobs/{}, or pass --wait to run it here.", job.id);
        return Ok(());
    }
    let done = run_here(&jobs, &tenant.id, job).await?;
    print_summary(&done, "rows");
    Ok(())
}

/// The user running the command, as the audit log names it.
fn cli_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".to_owned())
}

fn cli_actor() -> AuditContext {
    AuditContext::cli(Some(cli_user()))
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open database {}", config.database_url.redacted()))
}
