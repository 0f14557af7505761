//! `nene-server`: parse the command line and hand over to [`nene_server::cli`].

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = nene_server::cli::Cli::parse();
    std::process::exit(nene_server::cli::run(cli).await);
}
