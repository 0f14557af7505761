//! `nene-bench`: the real server under load on loopback, on SQLite or PostgreSQL, beside the bare database doing the
//! same writes. Prints a table and writes a JSON file.
//!
//!     cargo run --release -p nene-bench -- all --db sqlite --out bench-sqlite.json
//!     cargo run --release -p nene-bench -- join-storm --db postgres
//!
//! The scenarios that go through the server (join storm, hot join, confirm, push) run it in a process of its own,
//! this same binary started as `nene-bench serve` (see [`target`]), so the memory they report is the server's
//! alone; `--in-process` runs it inside the bench process instead, as a comparison. Settlement and the ledger
//! scenarios call the domain code directly and always run in the bench process.

mod bare;
mod metrics;
mod report;
mod scenarios;
mod setup;
mod target;

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
    Progress,
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
    /// Run the server inside the bench process instead of a process of its own.
    #[arg(long)]
    in_process: bool,
    /// Concurrent clients of the join storm's fixed-concurrency run.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Run the server process under this command, to profile it (e.g. "valgrind --tool=callgrind"); split on
    /// spaces.
    #[arg(long)]
    server_wrap: Option<String>,
}

fn main() {
    // The server process the bench starts for itself (hidden: not a scenario).
    if std::env::args().nth(1).as_deref() == Some("serve") {
        if std::env::var_os("RUST_LOG").is_none() {
            // SAFETY: set before any other thread exists (the runtime is built in `serve`).
            unsafe { std::env::set_var("RUST_LOG", "warn") };
        }
        nene_server::telemetry::init_tracing(nene_server::config::LogFormat::Pretty, true);
        std::process::exit(target::serve());
    }
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
    let options = scenarios::Options {
        placement: if args.in_process { target::Placement::InProcess } else { target::Placement::OwnProcess },
        clients: args.clients.max(1),
        wrap: args
            .server_wrap
            .as_deref()
            .map(|w| w.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        let all = args.scenario == Scenario::All;
        let size = |n: usize| ((n as f64 * args.scale).round() as usize).max(1);
        if all || args.scenario == Scenario::JoinStorm {
            rows.extend(scenarios::join_storm(backend, &options, size(5_000), 100).await);
        }
        if all || args.scenario == Scenario::HotJoin {
            rows.push(scenarios::hot_join(backend, &options, size(5_000)).await);
        }
        if all || args.scenario == Scenario::Confirm {
            rows.extend(scenarios::confirm(backend, &options, size(2_000)).await);
        }
        if all || args.scenario == Scenario::PushDrain {
            rows.push(scenarios::push_drain(backend, &options, size(100_000)).await);
        }
        if all || args.scenario == Scenario::PushRetries {
            rows.push(scenarios::push_retries(backend, &options, size(500)).await);
        }
        if all || args.scenario == Scenario::Settlement {
            let (first, rerun) = scenarios::settlement(backend, size(1_000), 100).await;
            rows.push(first);
            rows.push(rerun);
        }
        if all || args.scenario == Scenario::Ledger {
            rows.extend(scenarios::ledger(backend, size(20_000)).await);
        }
        if all || args.scenario == Scenario::Progress {
            rows.push(scenarios::progress(backend, &options, size(10_000), 30, 10).await);
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
