//! `scimd-fakes graph|google`: serves a generated directory until stopped (benchmarks, manual runs).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use scimd_fakes::google::{Directory, FakeGoogle};

#[derive(Parser)]
#[command(about = "Local Microsoft Graph and Google Directory API servers for scimd's tests and benchmarks")]
enum Command {
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
