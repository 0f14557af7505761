//! The web UI in a real browser: headless Chromium driven through chromedriver (WebDriver), against the real server
//! in dev mode on the SQLite default, serving the built UI (`frontend/dist`, made by `cargo xtask ui`).
//!
//! Two people, each in a browser session of their own: Alice signs up, charges points in the TossPayments sandbox
//! and creates a two-day challenge; Bob signs up, charges, finds it and joins. Both prove day one (a note and a
//! photo file); Bob reports Alice's proof, which an administrator without a stake dismisses (Alice, made an
//! administrator, sees the case but may not decide it); the domain clock moves (`/dev/clock`); Alice proves day two,
//! Bob does not; after the end the settlement shows in both wallets. Screenshots of the main screens are saved as PNGs under
//! `$NENE_ARTIFACTS_DIR` (default `target/artifacts/browser`).
//!
//! Needs `chromium` and `chromium-driver` (Debian) or `CHROME_BINARY` / `CHROMEDRIVER`. A missing UI build fails the
//! test with the command that makes it, rather than skipping.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use nene_tests::{Backend, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How long any one thing may take to appear.
const PATIENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const PASSWORD: &str = "browser-test-1234";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("the tests crate sits in the workspace")
}

/// The built UI; the test cannot run without it.
fn ui_dir() -> PathBuf {
    let dir =
        std::env::var_os("NENE_UI_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("frontend/dist"));
    assert!(
        dir.join("index.html").is_file(),
        "the web UI is not built ({} has no index.html): run `cargo xtask ui` first (`cargo xtask test` and .ci/run do)",
        dir.display()
    );
    dir
}

fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("NENE_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/artifacts"))
        .join("browser");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    dir
}

fn find_program(env: &str, candidates: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("none of {candidates:?} exists: install Debian's chromium and chromium-driver, or set {env}")
    })
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    profiles: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let binary = find_program("CHROMEDRIVER", &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let url = format!("http://127.0.0.1:{port}");
        let driver = Driver { child, url, profiles: tempfile::tempdir().expect("profiles dir") };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(resp) = ready
                && resp.status() == StatusCode::OK
                && resp.json::<Value>().await.is_ok_and(|v| v["value"]["ready"] == true)
            {
                return driver;
            }
            assert!(started.elapsed() < PATIENCE, "chromedriver did not become ready on {}", driver.url);
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new browser with its own fresh profile (cookies, storage), phone-sized.
    async fn browser(&self, name: &str) -> Client {
        let chromium = find_program("CHROME_BINARY", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let profile = self.profiles.path().join(name);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=420,900", "--lang=ko-KR",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!("a JSON object") };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(caps).connect(&self.url).await.expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One person's browser, with the helpers the story uses.
struct Person {
    name: &'static str,
    browser: Client,
    base: String,
    shots: PathBuf,
}

impl Person {
    async fn go(&self, path: &str) {
        self.browser.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    async fn wait(&self, css: &str) -> Element {
        match self.browser.wait().at_most(PATIENCE).every(POLL).for_element(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => {
                self.shot(&format!("failed-{}", css.replace(|c: char| !c.is_alphanumeric(), "_"))).await;
                let url = self.browser.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                panic!("{}: `{css}` never appeared on {url}: {e}", self.name)
            }
        }
    }

    /// Waits until the element's text contains `expected`.
    async fn wait_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            if let Ok(el) = self.browser.find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
                && text.contains(expected)
            {
                return text;
            }
            if started.elapsed() > PATIENCE {
                self.shot("failed-text").await;
                let now = match self.browser.find(Locator::Css(css)).await {
                    Ok(el) => el.text().await.unwrap_or_default(),
                    Err(_) => "<missing>".into(),
                };
                panic!("{}: `{css}` never read `{expected}` (it reads `{now}`)", self.name);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn click(&self, css: &str) {
        let el = self.wait(css).await;
        // Centred first, so the fixed top and tab bars never cover what is clicked.
        let arg = serde_json::to_value(&el).expect("element as JSON");
        let _ = self.browser.execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg]).await;
        el.click().await.unwrap_or_else(|e| panic!("{}: click `{css}`: {e}", self.name));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    /// Sets an input's value the way typing would (for date inputs, whose typing depends on the locale).
    async fn set_value(&self, css: &str, value: &str) {
        let el = self.wait(css).await;
        let arg = serde_json::to_value(&el).expect("element as JSON");
        self.browser
            .execute(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                vec![arg, json!(value)],
            )
            .await
            .expect("set value");
    }

    async fn shot(&self, name: &str) {
        if let Ok(png) = self.browser.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{}-{name}.png", self.name)), png);
        }
    }

    /// The whole page, not only what fits the window: the window grows to the page's height for the picture.
    async fn full_shot(&self, name: &str) {
        let Ok((width, height)) = self.browser.get_window_size().await else { return };
        let page = self.browser.execute("return document.documentElement.scrollHeight;", vec![]).await;
        let page = page.ok().and_then(|v| v.as_u64()).unwrap_or(height).min(4000);
        let chrome = height.saturating_sub(self.inner_height().await);
        let (Ok(width), Ok(tall), Ok(height)) =
            (u32::try_from(width), u32::try_from(page + chrome), u32::try_from(height))
        else {
            return;
        };
        if self.browser.set_window_size(width, tall).await.is_ok() {
            self.shot(name).await;
            let _ = self.browser.set_window_size(width, height).await;
        }
    }

    async fn inner_height(&self) -> u64 {
        let inner = self.browser.execute("return window.innerHeight;", vec![]).await;
        inner.ok().and_then(|v| v.as_u64()).unwrap_or(0)
    }

    async fn sign_up(&self, email: &str, nickname: &str) {
        self.go("/").await;
        // Not signed in: the guard sends the person to sign in; from there to sign up.
        self.wait("[data-testid=signin-form]").await;
        self.shot("01-signin").await;
        self.click("[data-testid=to-signup]").await;
        self.type_into("[data-testid=signup-form] [data-testid=email]", email).await;
        self.type_into("[data-testid=signup-form] [data-testid=nickname]", nickname).await;
        self.type_into("[data-testid=signup-form] [data-testid=password]", PASSWORD).await;
        self.shot("02-signup").await;
        self.click("[data-testid=signup-submit]").await;
        self.wait_text("[data-testid=greeting]", nickname).await;
        self.wait("[data-testid=empty]").await;
        self.shot("03-home-empty").await;
    }

    /// Charges `amount` through the sandbox payment window and waits for the points.
    async fn charge(&self, amount: i64, shown: &str) {
        self.click("[data-testid=tab-wallet]").await;
        self.wait("[data-testid=wallet-balance]").await;
        self.type_into("[data-testid=charge-amount]", &amount.to_string()).await;
        self.click("[data-testid=charge-submit]").await;
        self.wait_text("[data-testid=confirm-amount]", shown).await;
        self.shot("04-charge-confirm").await;
        self.click("[data-testid=confirm-yes]").await;
        // The sandbox's payment window (served by the server in dev mode).
        self.click("a.pay").await;
        self.wait("[data-testid=charge-result][data-status=CREDITED]").await;
        self.shot("05-charge-done").await;
        self.click("[data-testid=back-to-wallet]").await;
        self.wait_text("[data-testid=wallet-balance]", shown).await;
    }

    /// Submits today's proof with a note and a photo file, and waits for the progress screen.
    async fn prove(&self, challenge: &str, note: &str, photo: &Path, shot: &str) {
        self.go(&format!("/challenges/{challenge}")).await;
        self.click("[data-testid=go-proof]").await;
        self.wait("[data-testid=proof-form]").await;
        let input = self.wait("[data-testid=photo-input]").await;
        input.send_keys(&photo.display().to_string()).await.expect("choose the photo");
        self.wait("[data-testid=photo-preview]").await;
        self.type_into("[data-testid=proof-text]", note).await;
        self.shot(&format!("{shot}-proof-form")).await;
        self.click("[data-testid=proof-submit]").await;
        self.wait("[data-testid=proof-calendar]").await;
        self.wait("[data-testid=proof-calendar] .cal-proved").await;
        self.full_shot(&format!("{shot}-progress")).await;
    }
}

/// Moves the domain clock to 00:00:30 of `day` in Seoul through the dev endpoint.
async fn clock_to(s: &TestServer, day: chrono::NaiveDate) {
    let (_, clock) = s.get("/dev/clock", None).await;
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now")).expect("a time");
    let target =
        chrono_tz::Asia::Seoul.from_local_datetime(&day.and_hms_opt(0, 0, 30).expect("time")).single().expect("no DST");
    let secs = (target.with_timezone(&chrono::Utc) - now.with_timezone(&chrono::Utc)).num_seconds().max(0);
    let (status, body) = s.post("/dev/clock", None, &json!({"advance_secs": secs})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits (polling the API as Alice would see it) until the challenge reaches `status`.
async fn wait_status(s: &TestServer, token: &str, id: &str, status: &str) {
    let started = Instant::now();
    loop {
        let (_, body) = s.get(&format!("/api/v1/challenges/{id}"), Some(token)).await;
        if body["status"] == status {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "challenge never became {status}: {body}");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_play_a_challenge_through_in_the_browser() {
    let dist = ui_dir();
    let shots = artifacts_dir();
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.dev = true;
        c.run_workers = true;
        c.ui_dir = Some(dist.clone());
    })
    .await;
    let driver = Driver::start().await;
    let alice =
        Person { name: "alice", browser: driver.browser("alice").await, base: s.base.clone(), shots: shots.clone() };
    let bob = Person { name: "bob", browser: driver.browser("bob").await, base: s.base.clone(), shots: shots.clone() };

    // The server answers UI paths with the page and keeps API paths JSON.
    let page = s.http.get(s.url("/wallet")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let (status, body) = s.get("/api/v1/no-such-thing", None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));

    alice.sign_up("alice@example.com", "앨리스").await;
    alice.charge(50_000, "50,000 P").await;
    alice.shot("06-wallet").await;

    // Creating: a refused field is shown next to the field, in words.
    alice.click("[data-testid=tab-create]").await;
    alice.type_into("[data-testid=create-stake]", "500").await;
    alice.click("[data-testid=create-submit]").await;
    alice.wait("[data-testid=field-error-title]").await;
    alice.wait("[data-testid=field-error-stake]").await;
    alice.shot("07-create-errors").await;

    let (_, clock) = s.get("/dev/clock", None).await;
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().expect("now")).expect("a time");
    let start = now.with_timezone(&chrono_tz::Asia::Seoul).date_naive() + chrono::Duration::days(1);
    let end = start + chrono::Duration::days(1);
    alice.type_into("[data-testid=create-title]", "이틀 아침 산책").await;
    alice.type_into("[data-testid=create-description]", "아침에 20분 걷고 사진 한 장").await;
    alice.click("[data-testid=create-proof-type] option[value=BOTH]").await;
    alice.set_value("[data-testid=create-start]", &start.to_string()).await;
    alice.set_value("[data-testid=create-end]", &end.to_string()).await;
    alice.type_into("[data-testid=create-stake]", "10000").await;
    alice.full_shot("08-create-form").await;
    alice.click("[data-testid=create-submit]").await;
    alice.wait_text("[data-testid=confirm-amount]", "10,000 P").await;
    alice.click("[data-testid=confirm-yes]").await;
    alice.wait_text("[data-testid=challenge-title]", "이틀 아침 산책").await;
    alice.full_shot("09-detail-created").await;
    let url = alice.browser.current_url().await.expect("url");
    let id = url.path().trim_start_matches("/challenges/").to_owned();

    // Bob finds it through explore and joins, seeing the stake and the pot split first.
    bob.sign_up("bob@example.com", "밥돌이").await;
    bob.charge(20_000, "20,000 P").await;
    bob.click("[data-testid=tab-explore]").await;
    bob.type_into("[data-testid=filter-q]", "산책").await;
    bob.click("[data-testid=filter-apply]").await;
    bob.wait("[data-testid=challenge-card][data-title='이틀 아침 산책']").await;
    bob.shot("10-explore").await;
    bob.click("[data-testid=challenge-card][data-title='이틀 아침 산책']").await;
    bob.wait("[data-testid=pot-preview]").await;
    bob.full_shot("11-detail-before-join").await;
    bob.click("[data-testid=join]").await;
    bob.wait_text("[data-testid=confirm-amount]", "10,000 P").await;
    bob.shot("12-join-confirm").await;
    bob.click("[data-testid=confirm-yes]").await;
    bob.wait_text("[data-testid=participant-count]", "2 / 10").await;
    bob.wait("[data-testid=leave]").await;

    // Day one: both prove, each with a note and a photo.
    let photo_dir = tempfile::tempdir().expect("photo dir");
    let photo = photo_dir.path().join("morning.jpg");
    std::fs::write(&photo, nene_tests::jpeg(480, 360)).expect("photo file");
    let (_, login) =
        s.post("/api/v1/auth/login", None, &json!({"email": "alice@example.com", "password": PASSWORD})).await;
    let token = login["access_token"].as_str().expect("token").to_owned();
    clock_to(&s, start).await;
    wait_status(&s, &token, &id, "IN_PROGRESS").await;
    alice.prove(&id, "첫날 20분 걸었어요", &photo, "13-day1").await;
    bob.prove(&id, "저도 걸었어요!", &photo, "14-day1").await;
    bob.go(&format!("/challenges/{id}")).await;
    bob.wait("[data-testid=live-rate]").await;
    bob.wait("[data-testid=proof-feed] img.thumb").await;
    bob.full_shot("15-detail-feed").await;

    // Bob doubts Alice's photo: he may report it, with a reason, but never reject it; it keeps counting meanwhile.
    bob.click("[data-testid=report-proof]").await;
    bob.wait("[data-testid=report]").await;
    bob.type_into("[data-testid=report-reason]", "어제 찍은 사진 같아요").await;
    bob.shot("15a-report-form").await;
    bob.click("[data-testid=report-send]").await;
    bob.wait("[data-testid=reported]").await;
    bob.wait("[data-testid=under-review]").await;
    bob.full_shot("15b-reported").await;
    // Alice is made an administrator, but she has a stake in this pot: she sees the case and cannot decide it.
    assert!(nene_server::accounts::grant_admin(&s.state.db, "alice@example.com").await.expect("grant"));
    alice.go("/me").await; // a fresh page: the renewed sign-in carries the role
    alice.click("[data-testid=go-moderation]").await;
    alice.wait("[data-testid=case][data-kind=REPORT]").await;
    alice.wait_text("[data-testid=case-report]", "어제 찍은 사진 같아요").await;
    alice.wait("[data-testid=cannot-decide]").await;
    alice.full_shot("15c-moderation-queue").await;
    // An administrator with no stake dismisses the report; the proof counts as it did.
    let moderator = nene_tests::direct_user(&s.state.db, "moderator").await;
    let (_, feed) = s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&token)).await;
    let reported = feed["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| p["under_review"] == true))
        .and_then(|p| p["id"].as_str())
        .expect("the reported proof")
        .to_owned();
    let (status, body) = s
        .post(
            &format!("/api/v1/admin/moderation/{reported}/dismiss"),
            Some(&nene_tests::mint_admin_token(moderator)),
            &json!({"reason": "오늘 찍은 사진이 맞아요"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    alice.go("/admin/moderation").await;
    alice.wait("[data-testid=decision][data-action=DISMISS]").await;
    alice.wait("[data-testid=moderation] [data-testid=empty]").await;

    // Day two: only Alice proves.
    clock_to(&s, end).await;
    alice.prove(&id, "둘째 날도 완료", &photo, "16-day2").await;
    alice.go("/").await;
    alice.wait("[data-testid=today-done]").await;
    alice.shot("17-home").await;

    // The day after the end: settlement pays Bob's stake to Alice.
    clock_to(&s, end + chrono::Duration::days(1)).await;
    wait_status(&s, &token, &id, "ENDED").await;
    alice.go("/wallet").await;
    alice.wait_text("[data-testid=wallet-balance]", "60,000 P").await;
    alice.wait("[data-testid=history-entry][data-kind=PAYOUT]").await;
    alice.wait("[data-testid=history-entry][data-kind=STAKE_REFUND]").await;
    alice.full_shot("18-wallet-settled").await;
    bob.go("/wallet").await;
    bob.wait_text("[data-testid=wallet-balance]", "10,000 P").await;
    bob.full_shot("19-wallet-settled").await;
    bob.go(&format!("/challenges/{id}")).await;
    bob.wait("[data-testid=challenge-detail][data-status=ENDED]").await;
    bob.wait("[data-testid=my-settlement][data-outcome=FAIL]").await;
    bob.full_shot("20-detail-ended").await;
    alice.go(&format!("/challenges/{id}")).await;
    alice.wait("[data-testid=my-settlement][data-outcome=SUCCESS]").await;
    alice.go(&format!("/challenges/{id}/progress")).await;
    alice.wait("[data-testid=rate-chart]").await;
    alice.full_shot("21-progress-ended").await;

    // The same screens in English, and on a wide window with the side bar.
    alice.go("/me").await;
    alice.click("[data-testid=lang-en]").await;
    alice.wait_text("[data-testid=tab-wallet]", "Wallet").await;
    alice.shot("22-profile-en").await;
    alice.browser.set_window_size(1280, 820).await.expect("resize");
    alice.go("/wallet").await;
    alice.wait_text("[data-testid=wallet-balance]", "60,000 P").await;
    alice.shot("23-wallet-wide-en").await;
    alice.go("/inbox").await;
    alice.wait("[data-testid=notifications], [data-testid=empty], [data-testid=error]").await;
    alice.shot("24-inbox").await;

    for person in [alice, bob] {
        let _ = person.browser.close().await;
    }
    drop(driver);
    nene_tests::assert_ledger_ok(&s.state.db).await;
    s.stop().await;
}
