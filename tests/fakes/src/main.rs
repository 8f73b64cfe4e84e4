//! `scimd-fakes graph|google`: serves a generated directory until stopped (benchmarks, manual runs).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use scimd_fakes::google::{Directory, FakeGoogle};
use scimd_fakes::graph::{self, FakeGraph};

#[derive(Parser)]
#[command(about = "Local Microsoft Graph and Google Directory API servers for scimd's tests and benchmarks")]
enum Command {
    /// Microsoft Graph with a generated Entra ID tenant. Prints its base URL (the authority; Graph is
    /// under /v1.0) on stdout and the tenant, client id and secret on stderr, then serves until
    /// stopped. POST /_admin/change-users?count=N changes N users' jobTitle.
    Graph {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        #[arg(long, default_value_t = 1000)]
        users: usize,
        #[arg(long, default_value_t = 10)]
        groups: usize,
        /// Members of the first group (the others have 50 each).
        #[arg(long, default_value_t = 500)]
        big_group_members: usize,
    },
    /// The Google Directory API and its token endpoint; prints the base URL, writes the service
    /// account's key file (whose token_uri points here), and serves until stopped.
    Google(GoogleArgs),
}

#[derive(clap::Args)]
struct GoogleArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 0)]
    users: u64,
    #[arg(long, default_value_t = 0)]
    groups: u64,
    /// Group 0 holds the first K users too.
    #[arg(long, default_value_t = 0, value_name = "K")]
    big_group_members: u64,
    /// Where to write the service account's JSON key.
    #[arg(long, value_name = "FILE")]
    key_out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {
        Command::Graph { listen, users, groups, big_group_members } => {
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            let fake = FakeGraph::serve(listener, graph::generate(users, groups, big_group_members)).await?;
            println!("{}", fake.base_url);
            eprintln!(
                "tenant {}, client id {}, client secret {}, Graph at {}",
                graph::TENANT,
                graph::CLIENT_ID,
                graph::CLIENT_SECRET,
                fake.graph_url()
            );
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Google(args) => serve_google(args).await,
    }
}

async fn serve_google(args: GoogleArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.big_group_members <= args.users, "--big-group-members exceeds --users");
    let directory = Directory::generate(args.users, args.groups, args.big_group_members);
    let fake = FakeGoogle::start(args.listen, directory).await?;
    fake.write_key(&args.key_out)?;
    println!("{}", fake.base_url);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
