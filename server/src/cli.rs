//! The `scimd` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::{Role, Store, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "scimd",
    version,
    about = "scimd — an identity hub: SCIM 2.0 server, directory sync and audit",
    after_help = "Examples:\n  scimd serve                                   # SQLite in ./scimd.db on 127.0.0.1:8080\n  scimd --database postgres://scimd@db/scimd serve --listen 0.0.0.0:8080\n  scimd tenant create acme\n  scimd token create --tenant acme --role scim --client entra\n\nSettings come from defaults < scimd.toml < SCIMD_* environment variables < flags."
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
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    #[command(after_help = "Example:\n  scimd tenant create acme")]
    Create {
        /// The tenant's unique name.
        name: String,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; it is printed once, alone on the last line, and only its hash is kept.
    #[command(
        after_help = "Examples:\n  scimd token create --tenant acme --role scim --client okta\n  scimd token create --tenant acme --role admin\n  TOKEN=$(scimd token create --tenant acme --role scim --client entra | tail -n1)"
    )]
    Create {
        /// The tenant the token acts in.
        #[arg(long)]
        tenant: String,
        /// scim (an identity provider pushing users), admin, or auditor (read-only history).
        #[arg(long, value_enum)]
        role: Role,
        /// For scim tokens: the client's name; what it creates is managed by `scim:<client>`.
        #[arg(long)]
        client: Option<String>,
    },
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
            let tenant = store.create_tenant(&name).await?;
            println!("created tenant {} (id {})", tenant.name, tenant.id);
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open(&config).await?;
            for tenant in store.list_tenants().await? {
                println!("{}\t{}\t{}", tenant.name, tenant.id, tenant.created);
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create { tenant, role, client }) => {
            if role != Role::Scim && client.is_some() {
                anyhow::bail!("--client is for scim tokens only");
            }
            let store = open(&config).await?;
            let tenant = match store.tenant_by_name(&tenant).await {
                Err(StoreError::NotFound) => {
                    anyhow::bail!("no tenant named {tenant:?}: create it with `scimd tenant create {tenant}`")
                }
                other => other?,
            };
            let token = store.create_token(&tenant.id, role, client.as_deref()).await?;
            println!(
                "created {} token {} for tenant {}; store it now, it is not shown again:",
                role.as_str(),
                token.id,
                tenant.name
            );
            println!("{}", token.token);
            Ok(())
        }
    }
}

async fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open database {}", config.database_url.redacted()))
}
