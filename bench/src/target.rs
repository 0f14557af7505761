//! The server under test, in its own process (the default) or inside the bench process (`--in-process`).
//!
//! In its own process the server is this same binary run as `nene-bench serve`: the real [`Application`] built from
//! the environment like `nene-server` builds it, with the background workers off so the bench can step them. The
//! bench talks to it over loopback HTTP and a line protocol on its standard input and output (`drain`, `credit`,
//! `advance`), writes set-up data straight into the same database (SQLite's WAL lets two processes share the file),
//! and reads the server's memory from `/proc/<pid>/status`. That way the memory figure is the server's alone, and
//! the load generator and the sandboxes do not run inside the process being measured.

use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nene_server::config::DatabaseConfig;
use nene_server::store::Db;
use nene_server::{Application, Config};
use nene_tests::{Backend, TEST_JWT_SECRET, TestDatabase, TestServer, test_config};
use reqwest::StatusCode;
use serde_json::Value;

/// Where the server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A child process of its own (`nene-bench serve`).
    OwnProcess,
    /// Inside the bench process, beside the load generator.
    InProcess,
}

/// What a scenario changes in the server's configuration.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub db_max_connections: Option<u32>,
    /// (base URL, secret key, client key) of a Toss sandbox.
    pub toss: Option<(String, String, String)>,
    /// Base URL of an FCM sandbox (its token endpoint is `{base}/token`).
    pub fcm: Option<String>,
    /// A command the server process runs under (a profiler: `valgrind --tool=callgrind`, `heaptrack`); its
    /// memory figure is then the wrapper's.
    pub wrap: Vec<String>,
}

/// A running server: its address, a client, and the bench's own handle on its database.
pub struct Target {
    pub base: String,
    pub http: reqwest::Client,
    /// The bench's connection to the server's database, for set-up and checks.
    pub db: Db,
    run: Run,
    /// Keeps the database (and its folder) until the target is dropped.
    _database: Arc<TestDatabase>,
}

enum Run {
    Inside(Box<TestServer>),
    Outside(Box<ChildServer>),
}

struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    stdout: std::io::BufReader<ChildStdout>,
}

/// The server's memory, in MB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Peak resident memory since the last [`Target::reset_peak`] (VmHWM), or the highest sampled VmRSS when the
    /// kernel does not let the peak be reset.
    pub peak_mb: f64,
}

impl Target {
    pub async fn start(backend: Backend, placement: Placement, settings: Settings) -> Target {
        let database = Arc::new(TestDatabase::create(backend).await);
        let mut config = test_config(&database);
        config.run_workers = false;
        config.db_max_connections = settings.db_max_connections.unwrap_or(config.db_max_connections);
        config.payment_requests_per_minute = 1_000_000;
        // The load comes from one loopback address.
        config.max_connections_per_ip = config.max_connections;
        if let Some((base, secret, client)) = &settings.toss {
            config.toss.base_url = Some(base.clone());
            config.toss.secret_key = Some(secret.clone());
            config.toss.client_key = Some(client.clone());
        }
        if let Some(base) = &settings.fcm {
            config.fcm.base_url = Some(base.clone());
            config.fcm.token_url = Some(format!("{base}/token"));
            config.fcm.credentials = Some(nene_tests::write_fcm_service_account(&database));
        }
        nene_server::integrations::install_crypto_provider();
        let http = reqwest::Client::builder().pool_max_idle_per_host(8_192).build().expect("client");
        match placement {
            Placement::InProcess => {
                let server = TestServer::start_on(Arc::clone(&database), config).await;
                Target {
                    base: server.base.clone(),
                    http,
                    db: server.state.db.clone(),
                    run: Run::Inside(Box::new(server)),
                    _database: database,
                }
            }
            Placement::OwnProcess => {
                // The bench's own handle opens (and migrates) the database first; the server finds it ready.
                let db = Db::connect(&database.config, 8).await.expect("bench's database handle");
                let wrap = settings.wrap.clone();
                let child = tokio::task::spawn_blocking(move || ChildServer::spawn(&config, &wrap))
                    .await
                    .expect("spawn task")
                    .expect("server process starts");
                let base = format!("http://{}", child.1);
                Target { base, http, db, run: Run::Outside(Box::new(child.0)), _database: database }
            }
        }
    }

    pub fn placement(&self) -> Placement {
        match self.run {
            Run::Inside(_) => Placement::InProcess,
            Run::Outside(_) => Placement::OwnProcess,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        (status, resp.json().await.unwrap_or_default())
    }

    /// Counts rows, straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let mut tx = self.db.begin_read().await.expect("read");
        nene_server::on_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *c).await.expect("count"))
    }

    /// Runs the push worker's step in the server until the queue is empty: each batch's time.
    pub async fn drain_push(&mut self) -> Vec<Duration> {
        match &mut self.run {
            Run::Inside(s) => {
                let mut batches = Vec::new();
                loop {
                    let t = std::time::Instant::now();
                    if nene_server::push::deliver_step(&s.state).await.unwrap_or(0) == 0 {
                        break;
                    }
                    batches.push(t.elapsed());
                }
                batches
            }
            Run::Outside(c) => parse_micros(&c.command("drain").await),
        }
    }

    /// Runs the payment credit worker until it finds nothing to do.
    pub async fn credit_all(&mut self) {
        match &mut self.run {
            Run::Inside(s) => while nene_server::payments::worker::credit_step(&s.state).await.unwrap_or(0) > 0 {},
            Run::Outside(c) => {
                c.command("credit").await;
            }
        }
    }

    /// Moves the server's domain clock forward.
    pub async fn advance_clock(&mut self, ms: i64) {
        match &mut self.run {
            Run::Inside(s) => {
                s.state.clock.advance_ms(ms);
            }
            Run::Outside(c) => {
                c.command(&format!("advance {ms}")).await;
            }
        }
    }

    fn status_path(&self) -> String {
        match &self.run {
            Run::Inside(_) => "/proc/self/status".into(),
            Run::Outside(c) => format!("/proc/{}/status", c.child.id()),
        }
    }

    /// Starts a new peak: the kernel's high-water mark is reset (Linux ≥ 4.0 through `clear_refs`), and a sampler
    /// keeps the highest VmRSS seen as well, in case the reset is not allowed.
    pub fn reset_peak(&self) -> MemoryWatch {
        let proc_dir = match &self.run {
            Run::Inside(_) => "/proc/self".to_owned(),
            Run::Outside(c) => format!("/proc/{}", c.child.id()),
        };
        let reset = std::fs::write(format!("{proc_dir}/clear_refs"), "5").is_ok();
        let highest = Arc::new(AtomicU64::new(0));
        let path = self.status_path();
        let seen = Arc::clone(&highest);
        let sampler = tokio::spawn(async move {
            loop {
                if let Some(kb) = status_kb(&path, "VmRSS:") {
                    seen.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        MemoryWatch { path: self.status_path(), reset, highest, sampler }
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        match self.run {
            Run::Inside(s) => s.stop().await,
            Run::Outside(mut c) => {
                let _ = c.stdin.write_all(b"quit\n");
                let _ = c.stdin.flush();
                let _ = tokio::task::spawn_blocking(move || c.child.wait()).await;
            }
        }
        self.db.close().await;
    }
}

/// Watches one measured part's memory; [`MemoryWatch::finish`] gives the figure.
pub struct MemoryWatch {
    path: String,
    reset: bool,
    highest: Arc<AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl MemoryWatch {
    pub fn finish(self) -> Memory {
        self.sampler.abort();
        let now = status_kb(&self.path, "VmRSS:").unwrap_or(0);
        let sampled = self.highest.load(Ordering::Relaxed).max(now);
        let peak = if self.reset { status_kb(&self.path, "VmHWM:").unwrap_or(sampled).max(sampled) } else { sampled };
        Memory { peak_mb: peak as f64 / 1024.0 }
    }
}

fn status_kb(path: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
}

fn parse_micros(line: &str) -> Vec<Duration> {
    line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).map(Duration::from_micros).collect()
}

impl ChildServer {
    /// Runs `nene-bench serve` with the configuration in its environment, and waits for its address.
    fn spawn(config: &Config, wrap: &[String]) -> std::io::Result<(ChildServer, String)> {
        let exe = std::env::current_exe()?;
        let mut cmd = match wrap.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        cmd.arg("serve")
            .env("NENE_ADDR", "127.0.0.1:0")
            .env("NENE_DATA_DIR", &config.data_dir)
            .env("NENE_JWT_SECRET", TEST_JWT_SECRET)
            .env("NENE_DB_MAX_CONNECTIONS", config.db_max_connections.to_string())
            .env("NENE_MAX_CONNECTIONS", config.max_connections.to_string())
            .env("NENE_MAX_CONNECTIONS_PER_IP", config.max_connections_per_ip.to_string())
            .env("NENE_PAYMENT_REQUESTS_PER_MINUTE", config.payment_requests_per_minute.to_string())
            .env(
                "DATABASE_URL",
                match &config.database {
                    DatabaseConfig::Sqlite { path } => format!("sqlite:{}", path.display()),
                    DatabaseConfig::Postgres { url } => url.clone(),
                },
            )
            .env_remove("NENE_DEV")
            // The bench's default filter, less the per-send warnings a scenario provokes on purpose (push-retries
            // fails 500 sends to have retries to measure); an explicit RUST_LOG is passed on as it is.
            .env(
                "RUST_LOG",
                match std::env::var("RUST_LOG") {
                    Ok(filter) if filter != "warn" => filter,
                    _ => "warn,nene_server::integrations::fcm=error".to_owned(),
                },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in [
            ("NENE_TOSS_BASE_URL", &config.toss.base_url),
            ("NENE_TOSS_SECRET_KEY", &config.toss.secret_key),
            ("NENE_TOSS_CLIENT_KEY", &config.toss.client_key),
            ("NENE_FCM_BASE_URL", &config.fcm.base_url),
            ("NENE_FCM_TOKEN_URL", &config.fcm.token_url),
        ] {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        match &config.fcm.credentials {
            Some(p) => cmd.env("NENE_FCM_CREDENTIALS", p),
            None => cmd.env_remove("NENE_FCM_CREDENTIALS"),
        };
        let mut child = cmd.spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(std::io::Error::other("the server's pipes are missing"));
        };
        let mut server = ChildServer { child, stdin, stdout: std::io::BufReader::new(stdout) };
        let line = server.read_line()?;
        let addr = line
            .strip_prefix("ready ")
            .ok_or_else(|| std::io::Error::other(format!("the server said `{line}` instead of ready")))?
            .to_owned();
        Ok((server, addr))
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the server process ended"));
        }
        Ok(line.trim_end().to_owned())
    }

    /// Sends one command and waits for its one-line answer (blocking I/O, off the runtime's workers).
    async fn command(&mut self, command: &str) -> String {
        tokio::task::block_in_place(|| {
            writeln!(self.stdin, "{command}")?;
            self.stdin.flush()?;
            self.read_line()
        })
        .expect("the server answers its control commands")
    }
}

/// `nene-bench serve`: the server built from the environment like `nene-server`, with its background workers off,
/// answering control commands on standard input, one per line:
///
/// - `drain`: runs the push worker's step until the queue is empty; answers `drained` and each batch's µs.
/// - `credit`: runs the payment credit worker until it finds nothing; answers `credited`.
/// - `advance <ms>`: moves the domain clock forward; answers `advanced`.
/// - `quit` (or the end of input): stops gracefully.
///
/// Standard output carries only `ready <addr>` and the answers; logs go to standard error.
pub fn serve() -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nene-bench serve: {e}");
            return 2;
        }
    };
    runtime.block_on(async {
        let mut config = match Config::from_env() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("nene-bench serve: {e}");
                return 2;
            }
        };
        config.run_workers = false;
        let app = match Application::build(config).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("nene-bench serve: {e}");
                return 1;
            }
        };
        let state = app.state().clone();
        let addr = app.local_addr();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stop_rx.await;
        }));
        let say = |line: &str| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        };
        say(&format!("ready {addr}"));
        // Standard input is read on a thread of its own (blocking reads), one command at a time.
        let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(1);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            let answer = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["drain"] => {
                    let mut answer = String::from("drained");
                    loop {
                        let t = std::time::Instant::now();
                        match nene_server::push::deliver_step(&state).await {
                            Ok(0) => break,
                            Ok(_) => answer.push_str(&format!(" {}", t.elapsed().as_micros())),
                            Err(e) => {
                                eprintln!("nene-bench serve: push step failed: {e}");
                                break;
                            }
                        }
                    }
                    answer
                }
                ["credit"] => {
                    while nene_server::payments::worker::credit_step(&state).await.unwrap_or(0) > 0 {}
                    "credited".to_owned()
                }
                ["advance", ms] => {
                    state.clock.advance_ms(ms.parse().unwrap_or(0));
                    "advanced".to_owned()
                }
                ["quit"] => break,
                other => format!("unknown {other:?}"),
            };
            say(&answer);
        }
        let _ = stop_tx.send(());
        match server.await {
            Ok(Ok(())) => 0,
            _ => 1,
        }
    })
}
