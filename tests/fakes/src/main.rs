//! `scimd-fakes graph|google`: serves a generated directory until stopped (benchmarks, manual runs).

use clap::Parser;
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
    }
}
