//! `scimd-fakes graph|google`: serves a generated directory until stopped (benchmarks, manual runs).

use clap::Parser;

#[derive(Parser)]
#[command(about = "Local Microsoft Graph and Google Directory API servers for scimd's tests and benchmarks")]
enum Command {}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Command::parse() {}
}
