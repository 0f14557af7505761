//! `cargo xtask ui`: builds the Leptos web UI to WebAssembly and writes `frontend/dist/`, the folder the server
//! serves at `/`.
//!
//! Where rustup has the `wasm32-unknown-unknown` target, this is an ordinary `cargo build --target …`. Where it has
//! not (machines without internet cannot `rustup target add`), Debian's `rustc-web` toolchain builds the standard
//! library for wasm32 from its source (`-Zbuild-std`). The settings that recipe needs (`RUSTC`, `RUSTFLAGS`,
//! `RUSTC_BOOTSTRAP`) are given to that one child process only: exported into a shell, they break native builds.
//!
//! The glue JavaScript comes from `wasm-bindgen-cli-support` used as a library. Output file names carry a content
//! hash (`app-<hash>.js`, `app-<hash>_bg.wasm`, `boot-<hash>.js`, `style-<hash>.css`) so the server can let
//! browsers keep them for a year; `index.html` names them and is never cached.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::{run, workspace_root};

const TARGET: &str = "wasm32-unknown-unknown";
const CRATE: &str = "nene-frontend";
/// Release settings for the wasm build only.
/// (Link-time optimisation would shave another fifth off the code but quadruples the build on two cores.)
const WASM_PROFILE: [&str; 1] = ["profile.release.opt-level=\"z\""];
/// The file cargo writes for the crate (its name with `_`).
const WASM_FILE: &str = "nene_frontend.wasm";

/// Builds the UI and answers the folder it was written to.
pub fn build() -> Result<PathBuf, String> {
    let root = workspace_root();
    let frontend = root.join("frontend");
    let target_dir = wasm_target_dir(&root);
    let mut cmd = wasm_build_command()?;
    cmd.current_dir(&frontend).args(["build", "--release", "--package", CRATE, "--target", TARGET, "--target-dir"]);
    cmd.arg(&target_dir);
    // Small over fast: the wasm is downloaded by every visitor. Given here so the workspace's own release profile
    // (the server's) stays as it is.
    for setting in WASM_PROFILE {
        cmd.args(["--config", setting]);
    }
    eprintln!("xtask: building the web UI (wasm) in {}", target_dir.display());
    run(cmd)?;

    let wasm = target_dir.join(TARGET).join("release").join(WASM_FILE);
    let dist = frontend.join("dist");
    write_dist(&frontend, &wasm, &dist)?;
    Ok(dist)
}

/// A target folder of its own, so the wasm build (possibly by another cargo) never fights the native one's cache.
fn wasm_target_dir(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("NENE_WASM_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let native = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    native.join("wasm-ui")
}

/// `cargo build` for wasm32: rustup's target when installed, else the Debian `rustc-web` recipe.
fn wasm_build_command() -> Result<Command, String> {
    if rustup_has_wasm_target() {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
        // The native build's settings are not meant for wasm.
        cmd.env_remove("RUSTFLAGS");
        return Ok(cmd);
    }
    let debian_rustc = Path::new("/usr/bin/rustc");
    let debian_cargo = Path::new("/usr/bin/cargo");
    let std_source = Path::new("/usr/lib/rustlib/src/rust");
    if !(debian_rustc.exists() && debian_cargo.exists() && std_source.exists()) {
        return Err(format!(
            "the {TARGET} target is not installed: run `rustup target add {TARGET}`, or on Debian without internet \
             `apt-get install -y rustc-web cargo-web rust-web-src`"
        ));
    }
    let linker = find_linker()?;
    let mut cmd = Command::new(debian_cargo);
    cmd.env("RUSTC", debian_rustc)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", format!("-C linker={}", linker.display()))
        // rustup's proxies must not redirect the Debian toolchain's calls to its own.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTDOC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO")
        .arg("-Zbuild-std=std,panic_abort");
    Ok(cmd)
}

fn rustup_has_wasm_target() -> bool {
    Command::new("rustup").args(["target", "list", "--installed"]).output().is_ok_and(|out| {
        out.status.success() && String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == TARGET)
    })
}

/// A wasm linker: rustup's `rust-lld` (shipped with every rustup toolchain), else `rust-lld` or `wasm-ld` on PATH.
fn find_linker() -> Result<PathBuf, String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let query = |arg: &str| -> Option<String> {
        let out = Command::new(&rustc).arg(arg).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    if let (Some(sysroot), Some(version)) = (query("--print=sysroot"), query("-vV")) {
        let host = version.lines().find_map(|l| l.strip_prefix("host: ")).unwrap_or("x86_64-unknown-linux-gnu");
        let lld = Path::new(sysroot.trim()).join("lib/rustlib").join(host.trim()).join("bin/rust-lld");
        if lld.exists() {
            return Ok(lld);
        }
    }
    for name in ["rust-lld", "wasm-ld"] {
        if Command::new(name).arg("--version").output().is_ok() {
            return Ok(PathBuf::from(name));
        }
    }
    Err("no wasm linker found (rustup's rust-lld, or `wasm-ld` from Debian's lld package)".into())
}

/// Runs wasm-bindgen and writes the page, its stylesheet and the hashed assets into a fresh `dist`.
fn write_dist(frontend: &Path, wasm: &Path, dist: &Path) -> Result<(), String> {
    let wasm_bytes = fs::read(wasm).map_err(|e| format!("could not read {}: {e}", wasm.display()))?;
    let css = read(&frontend.join("style.css"))?;
    let template = read(&frontend.join("index.html"))?;

    // Built beside the final folder and swapped in, so a server serving `dist` never sees half a build.
    let staging = dist.with_extension("staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| format!("could not clear {}: {e}", staging.display()))?;
    }
    fs::create_dir_all(&staging).map_err(|e| format!("could not create {}: {e}", staging.display()))?;

    let app = format!("app-{}", short_hash(&wasm_bytes));
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e}"))?
        .debug(false)
        .keep_debug(false)
        // Function names would be most of the file (Leptos' view types have long names); panics still print.
        .remove_name_section(true)
        .remove_producers_section(true)
        .out_name(&app)
        .generate(&staging)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    for extra in ["d.ts", "_bg.wasm.d.ts"] {
        // Type declarations are for TypeScript projects; a browser has no use for them.
        let _ = fs::remove_file(staging.join(format!("{app}.{extra}")));
        let _ = fs::remove_file(staging.join(format!("{app}{extra}")));
    }

    let style = format!("style-{}.css", short_hash(css.as_bytes()));
    write(&staging.join(&style), css.as_bytes())?;
    // A file rather than an inline script, so the page's Content-Security-Policy needs no exception.
    let boot_js = format!("import init from \"/{app}.js\";\ninit({{ module_or_path: \"/{app}_bg.wasm\" }});\n");
    let boot = format!("boot-{}.js", short_hash(boot_js.as_bytes()));
    write(&staging.join(&boot), boot_js.as_bytes())?;
    let page = template
        .replace("{{app_js}}", &format!("/{app}.js"))
        .replace("{{app_wasm}}", &format!("/{app}_bg.wasm"))
        .replace("{{boot_js}}", &format!("/{boot}"))
        .replace("{{style_css}}", &format!("/{style}"));
    write(&staging.join("index.html"), page.as_bytes())?;

    if dist.exists() {
        fs::remove_dir_all(dist).map_err(|e| format!("could not clear {}: {e}", dist.display()))?;
    }
    fs::rename(&staging, dist).map_err(|e| format!("could not move the build into {}: {e}", dist.display()))?;
    Ok(())
}

/// The first 16 hex digits of the SHA-256 of `bytes`: enough to tell builds apart.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("could not read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("could not write {}: {e}", path.display()))
}
