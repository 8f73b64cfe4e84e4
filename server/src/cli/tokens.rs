//! `scimd tenant list`, `scimd token create|list|revoke`: tenants and API tokens, on the database
//! directly (no running server needed).

use clap::Subcommand;

use super::{cli_actor, open, tenant_named};
use crate::config::Config;
use crate::store::{Revoked, Role, StoreError, TokenFilter, TokenInfo};

/// Tokens read per query while listing.
const PAGE: i64 = 500;

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
    /// List a tenant's tokens, oldest first: id, role, client, created, revoked. Never their secrets.
    #[command(after_help = "Examples:\n  scimd token list --tenant acme\n  scimd token list --tenant acme --all\n  \
scimd token list --tenant acme --role scim\n\nTab-separated with a header line; `-` marks an empty field.")]
    List {
        #[arg(long)]
        tenant: String,
        /// Revoked tokens too.
        #[arg(long)]
        all: bool,
        /// Only tokens of this role.
        #[arg(long, value_enum)]
        role: Option<Role>,
    },
    /// Revoke a token: every running server refuses it from then on.
    #[command(after_help = "Examples:\n  scimd token list --tenant acme          # find the id\n  \
scimd token revoke 0192f0c4-7a1e-7c3a-9f00-1b2c3d4e5f60 --tenant acme\n\n\
Every running `scimd serve` drops the token at once: on PostgreSQL it is notified, on SQLite it \
looks for revocations five times a second. Revoking a revoked token changes nothing.")]
    Revoke {
        /// The token's id (from `scimd token list`), not its secret.
        id: String,
        #[arg(long)]
        tenant: String,
    },
}

pub async fn token(config: Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = open(&config).await?;
    match command {
        TokenCommand::Create { tenant, role, client } => {
            if role != Role::Scim && client.is_some() {
                anyhow::bail!("--client is for scim tokens only; leave it out for {} tokens", role.as_str());
            }
            let tenant = tenant_named(&store, &tenant).await?;
            let token = store.create_token(&tenant.id, role, client.as_deref(), &cli_actor()).await?;
            println!(
                "created {} token {} for tenant {}; store it now, it is not shown again:",
                role.as_str(),
                token.id,
                tenant.name
            );
            println!("{}", token.token);
        }
        TokenCommand::List { tenant, all, role } => {
            let tenant = tenant_named(&store, &tenant).await?;
            let filter = TokenFilter { role, include_revoked: all };
            println!("ID\tROLE\tCLIENT\tCREATED\tREVOKED");
            let mut after: Option<String> = None;
            loop {
                let page = store.list_tokens(&tenant.id, filter, after.as_deref(), PAGE).await?;
                for token in &page {
                    print_token(token);
                }
                match page.last() {
                    Some(last) if page.len() as i64 == PAGE => after = Some(last.id.clone()),
                    _ => break,
                }
            }
        }
        TokenCommand::Revoke { id, tenant } => {
            let tenant = tenant_named(&store, &tenant).await?;
            match store.revoke_token(&tenant.id, &id, &cli_actor()).await {
                Ok(Revoked::Now { token, .. }) => {
                    println!("revoked {} token {} of tenant {}", token.role, token.id, tenant.name);
                    println!("Every running `scimd serve` on this database refuses it now.");
                }
                Ok(Revoked::Already(token)) => println!(
                    "token {} of tenant {} was already revoked at {}; nothing changed",
                    token.id,
                    tenant.name,
                    token.revoked.as_deref().unwrap_or("?")
                ),
                Err(StoreError::NotFound) => anyhow::bail!(
                    "tenant {} has no token {id:?}; list its tokens with `scimd token list --tenant {} --all`",
                    tenant.name,
                    tenant.name
                ),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

fn print_token(token: &TokenInfo) {
    println!(
        "{}\t{}\t{}\t{}\t{}",
        token.id,
        token.role,
        token.client.as_deref().unwrap_or("-"),
        token.created,
        token.revoked.as_deref().unwrap_or("-")
    );
}

/// `scimd tenant list`: name, id, created and live tokens, tab-separated under a header.
pub async fn tenant_list(config: Config) -> anyhow::Result<()> {
    let store = open(&config).await?;
    let tenants = store.list_tenants().await?;
    if tenants.is_empty() {
        eprintln!("no tenants yet; create one with `scimd tenant create NAME`");
        return Ok(());
    }
    let counts: std::collections::HashMap<String, i64> = store.live_token_counts().await?.into_iter().collect();
    println!("NAME\tID\tCREATED\tTOKENS");
    for tenant in tenants {
        let tokens = counts.get(&tenant.id).copied().unwrap_or(0);
        println!("{}\t{}\t{}\t{tokens}", tenant.name, tenant.id, tenant.created);
    }
    Ok(())
}
