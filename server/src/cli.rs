//! The command line: `nene-server` serves; `nene-server admin grant <email>` makes an admin. Every command reads
//! the same configuration as the server.

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::app::{self, Application};
use crate::config::Config;
use crate::{accounts, ledger, telemetry};

#[derive(Debug, Parser)]
#[command(name = "nene-server", version, about = "NeNe Challenge server")]
pub struct Cli {
    /// Dev mode: sandboxes for the outside services, demo data and a movable clock (same as NENE_DEV=1).
    #[arg(long, global = true)]
    pub dev: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web app (the default).
    Serve,
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The points ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every ledger invariant: one line each; exit 0 when all hold, 1 when one fails.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Give an existing account the ADMIN role.
    Grant { email: String },
}

/// Runs the parsed command; the process exit code comes back.
pub async fn run(cli: Cli) -> i32 {
    let mut vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    // `--dev` is NENE_DEV=1, read before anything else depends on the mode (the default data folder does).
    if cli.dev {
        vars.insert("NENE_DEV".to_owned(), "1".to_owned());
    }
    let config = match Config::from_vars(&vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nene-server: {e}");
            return 2;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    telemetry::init_tracing(config.log_format, !matches!(command, Command::Serve));
    match command {
        Command::Serve => serve(config).await,
        Command::Admin { command: AdminCommand::Grant { email } } => grant(config, &email).await,
        Command::Ledger { command: LedgerCommand::Check } => ledger_check(config).await,
    }
}

async fn serve(config: Config) -> i32 {
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("nene-server: {e}");
            return 1;
        }
    };
    match app.run_until_stopped(app::shutdown_signal()).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            1
        }
    }
}

async fn grant(config: Config, email: &str) -> i32 {
    let state = match app::build_state(config, None).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nene-server: {e}");
            return 1;
        }
    };
    let outcome = accounts::grant_admin(&state.db, email).await;
    state.db.close().await;
    match outcome {
        Ok(true) => {
            eprintln!("{email} is now an admin");
            0
        }
        Ok(false) => {
            eprintln!("nene-server: no account with email {email}");
            1
        }
        Err(e) => {
            eprintln!("nene-server: {e}");
            1
        }
    }
}

async fn ledger_check(config: Config) -> i32 {
    let state = match app::build_state(config, None).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nene-server: {e}");
            return 1;
        }
    };
    let report = ledger::check::run(&state.db).await;
    state.db.close().await;
    match report {
        Ok(report) => {
            // This command's output is its product, so it is printed, not logged.
            let mut out = std::io::stdout().lock();
            for c in &report.checks {
                let _ = writeln!(out, "{} {} ({})", if c.ok { "ok  " } else { "FAIL" }, c.name, c.detail);
            }
            if report.ok { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("nene-server: {e}");
            1
        }
    }
}
