//! Project commands, so a newcomer needs two lines and no knowledge of the toolchain's corners:
//!
//! - `cargo xtask dev`  — build the web UI, then start the product in dev mode (server + UI on the embedded SQLite
//!   default, at <http://127.0.0.1:8080>), with its data in `./data-dev`: dev mode never opens a real `./data`.
//! - `cargo xtask test` — build the web UI, then run every test (unit, end-to-end on SQLite and PostgreSQL, the
//!   browser test, and the desktop app test where the machine can build the Tauri shell).
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
/// The desktop app's test (the Tauri shell under Xvfb, driven through WebDriver) is compiled in when this machine
/// can build and drive the shell; otherwise it says what is missing, and under CI (`CI` set) that is a failure.
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
    match desktop_prerequisites() {
        Ok(driver) => {
            cmd.args(["--features", "nene-app/shell"]).env("TAURI_DRIVER", driver);
        }
        Err(missing) => {
            let message = format!(
                "the desktop app test needs {} (Debian: {DESKTOP_PACKAGES}; then `cargo install tauri-driver --version ^2 --locked`)",
                missing.join(", ")
            );
            if std::env::var_os("CI").is_some() {
                return Err(message);
            }
            eprintln!("xtask: not running the desktop app test: {message}");
        }
    }
    cmd.args(rest);
    run(cmd)
}

/// What building the Tauri shell and driving it needs on Linux (toolchain.md).
const DESKTOP_PACKAGES: &str = "libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev \
    libayatana-appindicator3-dev libxdo-dev xvfb webkit2gtk-driver";

/// The tauri-driver to use when everything the desktop test needs is here; else what is missing.
fn desktop_prerequisites() -> Result<PathBuf, Vec<String>> {
    let mut missing = Vec::new();
    let webkit = Command::new("pkg-config")
        .args(["--exists", "webkit2gtk-4.1", "javascriptcoregtk-4.1", "libsoup-3.0"])
        .status()
        .is_ok_and(|s| s.success());
    if !webkit {
        missing.push("WebKitGTK 4.1 development files".to_owned());
    }
    if find_on_path("xvfb-run").is_none() {
        missing.push("xvfb-run".to_owned());
    }
    if !Path::new("/usr/bin/WebKitWebDriver").is_file() {
        missing.push("WebKitWebDriver".to_owned());
    }
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"));
    let driver = std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .or_else(|| find_on_path("tauri-driver"))
        .or_else(|| cargo_bin.filter(|p| p.is_file()));
    if driver.is_none() {
        missing.push("tauri-driver".to_owned());
    }
    match driver {
        Some(driver) if missing.is_empty() => Ok(driver),
        _ => Err(missing),
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}
