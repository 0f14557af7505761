//! Project commands, so a newcomer needs two lines and no knowledge of the toolchain's corners:
//!
//! - `cargo xtask dev`  — build the web UI, then start the product in dev mode (server + UI on the embedded SQLite
//!   default, at <http://127.0.0.1:8080>).
//! - `cargo xtask test` — build the web UI, then run every test (unit, end-to-end on SQLite and PostgreSQL, and the
//!   browser test).
//! - `cargo xtask ui`   — only build the web UI into `frontend/dist/`.
//!
//! Arguments after the command go to the underlying tool.

mod ui;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let result = match task.as_str() {
        "dev" => ui::build().and_then(|dist| dev(&dist, &rest)),
        "test" => ui::build().and_then(|_| test(&rest)),
        "ui" => ui::build().map(|dist| println!("web UI built in {}", dist.display())),
        _ => {
            eprintln!("usage: cargo xtask <dev|test|ui> [args…]");
            eprintln!(
                "  dev   build the web UI, then start the server with it in dev mode (demo data, sandboxes, movable clock)"
            );
            eprintln!(
                "  test  build the web UI, then run the whole test suite (PostgreSQL on 127.0.0.1:5432 or NENE_TEST_DATABASE_URL)"
            );
            eprintln!("  ui    build the web UI into frontend/dist/");
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

/// The workspace's root folder (this crate sits one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or_else(|| manifest.to_path_buf())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

pub fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not run {shown}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{shown} failed with {status}")) }
}

fn dev(dist: &Path, rest: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "--package", "nene-server", "--", "--dev"]).args(rest).env("NENE_UI_DIR", dist);
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
