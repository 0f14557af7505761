//! `nene-bench`: the real server under load on loopback, on SQLite or PostgreSQL, beside the bare database doing the
//! same writes. Prints a table and writes a JSON file.
//!
//!     cargo run --release -p nene-bench -- all --db sqlite --out bench-sqlite.json
//!     cargo run --release -p nene-bench -- join-storm --db postgres
//!
//! The server runs in this process (one binary, loopback HTTP), so the reported peak memory covers the server and
//! the load generator together: an upper bound for the server alone.

mod report;
mod scenarios;
mod setup;

use clap::{Parser, ValueEnum};
use nene_tests::Backend;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    All,
    JoinStorm,
    HotJoin,
    Confirm,
    PushDrain,
    PushRetries,
    Settlement,
    Ledger,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
#[command(name = "nene-bench", about = "NeNe Challenge benchmarks")]
struct Args {
    scenario: Scenario,
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// Where to write the JSON report.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Scale every scenario's size by this factor (1.0 = the sizes of BENCHMARKS.md).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

fn main() {
    let args = Args::parse();
    // Warnings and errors only, on standard error: the table on standard output is the product.
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: set before any other thread exists (the runtime is built below).
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    nene_server::telemetry::init_tracing(nene_server::config::LogFormat::Pretty, true);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nene-bench: {e}");
            std::process::exit(2);
        }
    };
    let backend = match args.db {
        Db::Sqlite => Backend::Sqlite,
        Db::Postgres => Backend::Postgres,
    };
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        let all = args.scenario == Scenario::All;
        let size = |n: usize| ((n as f64 * args.scale).round() as usize).max(1);
        if all || args.scenario == Scenario::JoinStorm {
            rows.push(scenarios::join_storm(backend, size(5_000), 100).await);
        }
        if all || args.scenario == Scenario::HotJoin {
            rows.push(scenarios::hot_join(backend, size(5_000)).await);
        }
        if all || args.scenario == Scenario::Confirm {
            rows.push(scenarios::confirm(backend, size(2_000)).await);
        }
        if all || args.scenario == Scenario::PushDrain {
            rows.push(scenarios::push_drain(backend, size(100_000)).await);
        }
        if all || args.scenario == Scenario::PushRetries {
            rows.push(scenarios::push_retries(backend, size(500)).await);
        }
        if all || args.scenario == Scenario::Settlement {
            let (first, rerun) = scenarios::settlement(backend, size(1_000), 100).await;
            rows.push(first);
            rows.push(rerun);
        }
        if all || args.scenario == Scenario::Ledger {
            rows.extend(scenarios::ledger(backend, size(20_000)).await);
        }
        rows
    });
    report::print_table(&rows);
    if let Some(path) = args.out {
        match serde_json::to_string_pretty(&rows) {
            Ok(json) => {
                if let Err(e) = std::fs::write(&path, json) {
                    eprintln!("nene-bench: cannot write {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("nene-bench: {e}"),
        }
    }
    if rows.iter().any(|r| !r.check_ok) {
        std::process::exit(1);
    }
}
