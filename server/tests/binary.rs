//! The `nene-server` binary as an operator runs it: no configuration at all (SQLite file and secret appear in
//! `./data`), PostgreSQL through `DATABASE_URL`, a clean stop on SIGTERM, `admin grant`, a clear one-line
//! refusal of a bad setting, and dev mode in a folder of its own that never opens production data (nor the reverse).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_nene-server");

/// A running `nene-server` process and the address it reported.
struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `cwd` with exactly `envs` (plus a port-0 address so tests never collide), and waits for
/// the "serving" log line, which names the bound address.
fn start(cwd: &Path, envs: &[(&str, &str)]) -> Running {
    start_with_args(cwd, &[], envs)
}

/// [`start`] with command-line arguments.
fn start_with_args(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Running {
    nene_server::integrations::install_crypto_provider();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("NENE_ADDR", "127.0.0.1:0")
        .env("NENE_LOG_FORMAT", "json")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("server printed its address before exiting").expect("log line");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "serving" {
            break v["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Running { child, addr }
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let resp = reqwest::get(url).await.expect("request");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    })
}

fn terminate(mut running: Running) -> std::process::ExitStatus {
    let pid = running.child.id().to_string();
    let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success();
    assert!(ok);
    // wait() blocks until the process has exited; the test runner's timeout bounds a hang.
    running.child.wait().expect("exit status")
}

#[test]
fn no_configuration_at_all_starts_on_sqlite_in_data() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &[]);
    let (status, body) = get(&format!("http://{}/health", running.addr));
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(&format!("http://{}/ready", running.addr)).0, 200);
    assert!(dir.path().join("data/nene.db").is_file());
    let secret = dir.path().join("data/jwt_secret");
    assert!(secret.is_file());
    assert_eq!(get(&format!("http://{}/dev/clock", running.addr)).0, 404);

    // SIGTERM stops it cleanly.
    let exit = terminate(running);
    assert!(exit.success(), "{exit:?}");

    // admin grant reads the same configuration: unknown account fails, known account succeeds.
    let grant = |email: &str| {
        Command::new(BIN).current_dir(dir.path()).env_clear().args(["admin", "grant", email]).status().unwrap()
    };
    assert_eq!(grant("nobody@example.com").code(), Some(1));
    let running = start(dir.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("http://{}/api/v1/auth/signup", running.addr))
            .json(&serde_json::json!({"email": "boss@example.com", "password": "long-enough-1", "nickname": "boss"}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 201);
    assert_eq!(grant("boss@example.com").code(), Some(0));
    let rt2 = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let role = rt2.block_on(async {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("http://{}/api/v1/auth/login", running.addr))
            .json(&serde_json::json!({"email": "boss@example.com", "password": "long-enough-1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["user"]["role"].clone()
    });
    assert_eq!(role, "ADMIN");

    // The ledger check reads the same database and reports every invariant.
    let out = Command::new(BIN).current_dir(dir.path()).env_clear().args(["ledger", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("ok ")), "{stdout}");
    assert!(stdout.contains("sum_of_all_accounts_is_zero"));
}

#[test]
fn postgres_through_database_url() {
    let admin = std::env::var("NENE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("nene_bin_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let exec = |sql: String| {
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL is running");
            sqlx::query(&sql).execute(&mut conn).await.expect("admin statement");
        })
    };
    exec(format!("CREATE DATABASE {name}"));
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    let running =
        start(dir.path(), &[("DATABASE_URL", &url), ("NENE_JWT_SECRET", "a-shared-secret-for-all-instances-0001")]);
    let (status, _) = get(&format!("http://{}/health", running.addr));
    assert_eq!(status, 200);
    assert_eq!(get(&format!("http://{}/ready", running.addr)).0, 200);
    assert!(!dir.path().join("data/nene.db").exists(), "no SQLite file when PostgreSQL is configured");
    // A second instance on the same database starts too (migrations are taken under a lock).
    let second =
        start(dir.path(), &[("DATABASE_URL", &url), ("NENE_JWT_SECRET", "a-shared-secret-for-all-instances-0001")]);
    assert_eq!(get(&format!("http://{}/ready", second.addr)).0, 200);
    assert!(terminate(second).success());
    assert!(terminate(running).success());
    exec(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

#[test]
fn a_bad_setting_stops_the_start_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        Command::new(BIN).current_dir(dir.path()).env_clear().env("DATABASE_URL", "mysql://nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "nene-server: invalid setting DATABASE_URL: must start with postgres:// or sqlite:");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn dev_mode_keeps_its_own_folder_and_never_shares_a_database_with_production() {
    let dir = tempfile::tempdir().unwrap();
    // Production, with no configuration: ./data.
    let running = start(dir.path(), &[]);
    assert!(terminate(running).success());
    assert!(dir.path().join("data/nene.db").is_file());

    // Dev mode, with no configuration either: ./data-dev, next to the real data and apart from it.
    let running = start_with_args(dir.path(), &["--dev"], &[]);
    assert_eq!(get(&format!("http://{}/ready", running.addr)).0, 200);
    assert!(terminate(running).success());
    assert!(dir.path().join("data-dev/nene.db").is_file());

    // Each refuses the other's database, with one line saying why.
    let refused = |args: &[&str], data: &str| {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("NENE_ADDR", "127.0.0.1:0")
            .env("NENE_DATA_DIR", data)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        stderr
    };
    let dev_on_production = refused(&["--dev"], "data");
    assert!(dev_on_production.starts_with("nene-server: this database was created by a production server"));
    let production_on_dev = refused(&[], "data-dev");
    assert!(production_on_dev.starts_with("nene-server: this database was created in dev mode"));
    let dev_by_variable = Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("NENE_ADDR", "127.0.0.1:0")
        .env("NENE_DEV", "1")
        .env("NENE_DATA_DIR", "data")
        .output()
        .unwrap();
    assert_eq!(dev_by_variable.status.code(), Some(1), "NENE_DEV=1 is the same as --dev");
}
