//! The desktop app driven through WebDriver (tauri-driver + WebKitWebDriver under Xvfb) against a real server: sign
//! in, see the challenge list, stop the server, restart the app and still see the list from the cache, submit a
//! proof offline through the page's form (shown as waiting to be sent), start the server again, and the proof
//! arrives exactly once; then choose another server in the settings and be signed out. All of it under the app's
//! content security policy, which refuses nothing the app does. Screenshots go to `$NENE_ARTIFACTS_DIR/desktop` (default `target/artifacts/desktop`).
//!
//! It is compiled only with the `shell` feature, and needs `tauri-driver` (`cargo install tauri-driver --version ^2
//! --locked`), `WebKitWebDriver` (Debian: webkit2gtk-driver) and `xvfb-run` (Debian: xvfb); `cargo xtask test` runs
//! it when they are there (and CI always):
//!
//!     cargo test -p nene-app --features shell --test desktop
//!
//! The page is the real web UI (`frontend/`, built into the binary from `frontend/dist` by `cargo xtask ui`): the
//! test signs in through its form, reads the list, submits the proof through the proof screen, and checks the app's
//! side through the page's own bridge (`window.__TAURI__.core.invoke`: the cache, the outbox, a sync).
#![cfg(feature = "shell")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use nene_server::challenges::scheduler;
use nene_shared::UserId;
use nene_tests::{Backend, PASSWORD, TestServer, credit_charge, mint_token, move_clock_to, test_config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::challenge;

/// A WebDriver session on the app, through tauri-driver.
struct Driver {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
    application: PathBuf,
}

impl Driver {
    async fn start_app(&mut self) {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": self.application},
        }}});
        let answer = self.send(reqwest::Method::POST, "/session", Some(caps)).await;
        self.session = Some(answer["sessionId"].as_str().expect("session id").to_owned());
    }

    async fn quit_app(&mut self) {
        if let Some(id) = self.session.take() {
            self.send(reqwest::Method::DELETE, &format!("/session/{id}"), None).await;
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("webdriver answers");
        let status = resp.status();
        let body: Value = resp.json().await.expect("webdriver json");
        assert!(status.is_success(), "webdriver {path}: {status} {body}");
        body["value"].clone()
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session.as_deref().expect("app running"))
    }

    /// Calls an app command from inside the page; answers its result, or panics with its error.
    async fn invoke(&self, command: &str, args: Value) -> Value {
        let script = "const [cmd, args, done] = arguments;
            window.__TAURI__.core.invoke(cmd, args).then(ok => done({ok}), err => done({err}));";
        let answer = self
            .send(
                reqwest::Method::POST,
                &self.path("/execute/async"),
                Some(json!({"script": script, "args": [command, args]})),
            )
            .await;
        if let Some(err) = answer.get("err").filter(|e| !e.is_null()) {
            panic!("{command} failed: {err}");
        }
        answer["ok"].clone()
    }

    /// Types into the first element matching `css`.
    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.send(reqwest::Method::POST, &self.path(&format!("/element/{id}/value")), Some(json!({"text": text})))
            .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.send(reqwest::Method::POST, &self.path(&format!("/element/{id}/click")), Some(json!({}))).await;
    }

    /// The first element matching `css`, waiting for the page to show it.
    async fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let resp = self
                .http
                .post(format!("{}{}", self.base, self.path("/element")))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("webdriver answers");
            if resp.status().is_success() {
                let body: Value = resp.json().await.expect("webdriver json");
                let element = &body["value"]["element-6066-11e4-a52e-4f735466cecf"];
                return element.as_str().unwrap_or_else(|| panic!("element id in {body}")).to_owned();
            }
            assert!(start.elapsed() < Duration::from_secs(15), "no {css} on the page");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the page shows an element matching `css` right now.
    async fn exists(&self, css: &str) -> bool {
        let answer = self
            .send(
                reqwest::Method::POST,
                &self.path("/execute/sync"),
                Some(json!({"script": "return document.querySelector(arguments[0]) !== null", "args": [css]})),
            )
            .await;
        answer.as_bool().unwrap_or(false)
    }

    async fn page_text(&self) -> String {
        let answer = self
            .send(
                reqwest::Method::POST,
                &self.path("/execute/sync"),
                Some(json!({"script": "return document.body.innerText", "args": []})),
            )
            .await;
        answer.as_str().unwrap_or_default().to_owned()
    }

    /// Saves a screenshot taken while the page shows `text` (checked before and after the shot: a UI may re-render
    /// in between).
    async fn screenshot(&self, dir: &Path, name: &str, text: &str) {
        let start = Instant::now();
        loop {
            let before = self.page_text().await.contains(text);
            // What the DOM holds reaches the screen at the next frames.
            let frames =
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
            self.send(reqwest::Method::POST, &self.path("/execute/async"), Some(json!({"script": frames, "args": []})))
                .await;
            let answer = self.send(reqwest::Method::GET, &self.path("/screenshot"), None).await;
            let after = self.page_text().await.contains(text);
            if (before && after) || start.elapsed() > Duration::from_secs(10) {
                let png =
                    base64::engine::general_purpose::STANDARD.decode(answer.as_str().expect("png")).expect("base64");
                std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot saved");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// tauri-driver under its own Xvfb, ended (with its whole process group) when dropped.
struct DriverProcess(Child);

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // The process group we made at spawn: xvfb-run, Xvfb, tauri-driver, WebKitWebDriver and the app.
        let _ = Command::new("kill").arg("--").arg(format!("-{}", self.0.id())).status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    home.join("bin/tauri-driver")
}

/// Polls `url` until it answers (the driver starting up), for at most `limit`.
async fn wait_until_up(http: &reqwest::Client, url: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(start.elapsed() < limit, "{url} did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Retries `check` (the app's background work settling) until it holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "condition not met in {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_works_offline_and_delivers_a_queued_proof_once() {
    let artifacts = std::env::var_os("NENE_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"))
        .join("desktop");
    std::fs::create_dir_all(&artifacts).expect("artifacts folder");
    let data = tempfile::tempdir().expect("app data folder");

    // A server with a person in a challenge that started today.
    let s = TestServer::start_with(Backend::Sqlite, |c| c.run_workers = false).await;
    let me = s.signup("desk@app.test", "desk").await;
    let user: UserId = me.user_id.parse().expect("user id");
    credit_charge(&s.state.db, user, 10_000, "seed-desk").await;
    let (run, start) = challenge(&s, "Morning run", 1, 2_000, 5, "TEXT").await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{run}/join"), Some(&mint_token(user)), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.expect("scheduler");

    let port = free_port();
    let native = free_port();
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1024x900x24"])
        .arg(tauri_driver())
        .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
        .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
        .env("NENE_APP_DATA_DIR", data.path())
        .env("NENE_APP_TOKEN_STORE", "file")
        .env("NENE_SERVER_URL", &s.base)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let _driver_process = DriverProcess(cmd.spawn().expect("xvfb-run and tauri-driver start"));
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&http, &format!("{base}/status"), Duration::from_secs(30)).await;

    let application = PathBuf::from(env!("CARGO_BIN_EXE_nene-app"));
    let mut app = Driver { http, base, session: None, application };
    app.start_app().await;
    app.watch_policy_violations().await;
    app.invoke("set_server_url", json!({"url": s.base})).await;

    // Sign in through the page's form and see the challenge list.
    app.type_into("input[type=email]", "desk@app.test").await;
    app.type_into("input[type=password]", PASSWORD).await;
    app.click("button[type=submit]").await;
    eventually(Duration::from_secs(15), || async { app.page_text().await.contains("Morning run") }).await;
    let list = app.invoke("challenges", json!({})).await;
    assert_eq!(list[0]["challenge"]["title"], "Morning run");
    assert_eq!(list[0]["challenge"]["status"], "IN_PROGRESS");
    app.screenshot(&artifacts, "1-signed-in", "Morning run").await;
    app.assert_no_policy_violations().await;
    // The page runs under the app's content security policy (and works under it, as everything above shows): code
    // made from strings is refused, so an injected string stays a string.
    let eval = app.script("try { (0, eval)('1'); return 'ran'; } catch (e) { return e.name; }").await;
    assert_eq!(eval, "EvalError", "eval is refused");
    let refused = app.script("return window.__refused;").await;
    assert!(refused.to_string().contains("script-src"), "the refusal is seen, so the watch above sees any: {refused}");

    // The server stops; the app is closed and opened again: the list is still there, from the cache.
    let db = std::sync::Arc::clone(&s.db);
    let addr = s.base.trim_start_matches("http://").parse().expect("address");
    let offset = s.state.clock.offset_ms();
    s.stop().await;
    app.quit_app().await;
    app.start_app().await;
    app.watch_policy_violations().await;
    let session = app.invoke("session", json!({})).await;
    assert_eq!(session["nickname"], "desk", "still signed in after a restart");
    let list = app.invoke("challenges", json!({})).await;
    assert_eq!(list[0]["challenge"]["title"], "Morning run");
    eventually(Duration::from_secs(15), || async { app.page_text().await.contains("Morning run") }).await;
    app.screenshot(&artifacts, "2-restarted-offline", "Morning run").await;

    // A proof submitted offline through the page's own form: saved on the device, shown as waiting.
    app.click("[data-testid=challenge-card]").await;
    app.click("[data-testid=go-proof]").await;
    app.type_into("[data-testid=proof-text]", "ran 5 km offline").await;
    app.click("[data-testid=proof-submit]").await;
    app.find("[data-testid=proof-queued]").await;
    let sync = app.invoke_result("sync").await;
    assert!(sync.is_err(), "the server is down: {sync:?}");
    let pending = app.invoke("pending_intents", json!({})).await;
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
    assert_eq!(pending[0]["kind"], "PROOF");
    app.find("[data-testid=outbox-waiting][data-count='1']").await;
    app.screenshot(&artifacts, "3-proof-queued-offline", "Morning run").await;

    // The server is back on the same address: the proof arrives, once.
    let mut config = test_config(&db);
    config.run_workers = false;
    config.addr = addr;
    let s = TestServer::start_on(db, config).await;
    s.state.clock.advance_ms(offset);
    // (The app's background loop may get there first; either way it is sent once.)
    app.invoke("sync", json!({})).await;
    app.invoke("sync", json!({})).await;
    assert_eq!(s.count("proofs").await, 1, "the proof arrived exactly once");
    let (_, feed) = s.get(&format!("/api/v1/challenges/{run}/proofs"), Some(&mint_token(user))).await;
    assert_eq!(feed["items"][0]["text"], "ran 5 km offline");
    assert_eq!(app.invoke("pending_intents", json!({})).await, json!([]));
    // The page stops showing it as waiting, and the challenge's progress (from the cache, refreshed by the pull)
    // has today done.
    eventually(Duration::from_secs(15), || async { !app.exists("[data-testid=outbox-waiting]").await }).await;
    app.click("[data-testid=back-to-challenge]").await;
    app.find("[data-testid=today-done]").await;
    app.screenshot(&artifacts, "4-proof-delivered", "Morning run").await;

    // Pointing the app at another server through the settings form signs the person out first: the page goes
    // back to signing in, and nothing of the previous server is left in the app.
    let elsewhere = TestServer::start(Backend::Sqlite).await;
    app.click("[data-testid=tab-profile]").await;
    let field = app.find("[data-testid=server-url]").await;
    app.send(reqwest::Method::POST, &app.path(&format!("/element/{field}/clear")), Some(json!({}))).await;
    // Enter submits the form, as a person typing the address would.
    app.type_into("[data-testid=server-url]", &format!("{}\u{E007}", elsewhere.base)).await;
    app.find("[data-testid=signin-form]").await;
    assert_eq!(app.invoke("settings", json!({})).await["server_url"], elsewhere.base);
    assert_eq!(app.invoke("session", json!({})).await, Value::Null);
    assert_eq!(app.invoke("challenges", json!({})).await, json!([]));
    app.screenshot(&artifacts, "5-signed-out-for-another-server", "").await;
    app.assert_no_policy_violations().await;
    app.quit_app().await;
}

impl Driver {
    /// Starts recording what the page's content security policy refuses (from now until the app quits).
    async fn watch_policy_violations(&self) {
        self.script(
            "window.__refused = [];
             document.addEventListener('securitypolicyviolation',
                 e => window.__refused.push(e.violatedDirective + ' ' + e.blockedURI));",
        )
        .await;
    }

    /// Everything the app did since [`Driver::watch_policy_violations`] was allowed by its content security policy:
    /// the wasm, the styles, the bridge to the app.
    async fn assert_no_policy_violations(&self) {
        let refused = self.script("return window.__refused;").await;
        assert_eq!(refused, json!([]), "the content security policy refused what the app needs");
    }

    /// Runs `body` (a function body) in the page and answers what it returns.
    async fn script(&self, body: &str) -> Value {
        self.send(reqwest::Method::POST, &self.path("/execute/sync"), Some(json!({"script": body, "args": []}))).await
    }

    /// Like [`Driver::invoke`] with no arguments, answering the command's error instead of panicking.
    async fn invoke_result(&self, command: &str) -> Result<Value, Value> {
        let script = "const [cmd, done] = arguments;
            window.__TAURI__.core.invoke(cmd, {}).then(ok => done({ok}), err => done({err}));";
        let answer = self
            .send(
                reqwest::Method::POST,
                &self.path("/execute/async"),
                Some(json!({"script": script, "args": [command]})),
            )
            .await;
        match answer.get("err").filter(|e| !e.is_null()) {
            Some(err) => Err(err.clone()),
            None => Ok(answer["ok"].clone()),
        }
    }
}
