//! Project commands, so a newcomer needs two lines and no knowledge of the toolchain's corners:
//!
//! - `cargo xtask dev`  — start the product in dev mode (server + web UI on the embedded SQLite default).
//! - `cargo xtask test` — run every test (unit, end-to-end on SQLite and PostgreSQL).
//!
//! Arguments after the command go to the underlying tool.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "dev" => dev(&rest),
        "test" => test(&rest),
        _ => {
            eprintln!("usage: cargo xtask <dev|test> [args…]");
            eprintln!("  dev   start the server with the web UI in dev mode (demo data, sandboxes, movable clock)");
            eprintln!("  test  run the whole test suite (PostgreSQL on 127.0.0.1:5432 or NENE_TEST_DATABASE_URL)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not run {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed with {status}")) }
}

fn dev(rest: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "--package", "nene-server", "--", "--dev"]).args(rest);
    run(cmd)
}

/// Uses cargo-nextest when installed (one process per test, parallel, with a hang timeout), else `cargo test`.
fn test(rest: &[String]) -> Result<(), String> {
    let has_nextest = cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = cargo();
    if has_nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.args(rest);
    run(cmd)
}
