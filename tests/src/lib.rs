//! The end-to-end harness: starts the real server on a loopback port against a fresh database (an SQLite file in a
//! temporary folder, or a PostgreSQL database made for the one test and dropped after it), and talks to it over
//! HTTP like any client would.
//!
//! PostgreSQL is found through `NENE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the account must be allowed to create databases.

use std::future::IntoFuture;
use std::sync::Arc;

use nene_server::config::DatabaseConfig;
use nene_server::{AppState, Application, Config};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::oneshot;

/// The secret every test server signs with, so tests can craft expired or tampered tokens.
pub const TEST_JWT_SECRET: &str = "end-to-end-test-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct-horse-42";

/// Runs each named `async fn name(backend: Backend)` once on SQLite and once on PostgreSQL, as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub config: DatabaseConfig,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("NENE_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                TestDatabase { config: DatabaseConfig::Sqlite { path: dir.path().join("nene.db") }, dir, pg: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("nene_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL must be running for tests");
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
                conn.close().await.ok();
                let url = match admin.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("NENE_TEST_DATABASE_URL must end with a database name"),
                };
                TestDatabase { config: DatabaseConfig::Postgres { url }, dir, pg: Some((admin, name)) }
            }
        }
    }

    pub fn url(&self) -> String {
        match &self.config {
            DatabaseConfig::Sqlite { path } => format!("sqlite:{}", path.display()),
            DatabaseConfig::Postgres { url } => url.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Drop runs outside any async context we may block, so the clean-up gets a runtime of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A running server and a client for it.
pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub db: Arc<TestDatabase>,
}

/// A server's default test configuration on `db`.
pub fn test_config(db: &TestDatabase) -> Config {
    let mut config = Config::for_data_dir(db.dir.path());
    config.addr = "127.0.0.1:0".parse().expect("addr");
    config.database = db.config.clone();
    config.jwt_secret = Some(TEST_JWT_SECRET.to_owned());
    config.db_max_connections = 8;
    config
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let db = Arc::new(TestDatabase::create(backend).await);
        let mut config = test_config(&db);
        adjust(&mut config);
        Self::start_on(db, config).await
    }

    /// Starts a server on an existing database (a second instance, or a restart).
    pub async fn start_on(db: Arc<TestDatabase>, config: Config) -> TestServer {
        let app = Application::build(config).await.expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        nene_server::integrations::install_crypto_provider();
        let http = reqwest::Client::builder().build().expect("client");
        TestServer { base, http, state, shutdown: Some(tx), task: Some(task), db }
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.into_future().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional JSON body and bearer token; answers the status and the JSON body
    /// (`Value::Null` when there is none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &impl Serialize) -> (StatusCode, Value) {
        let body = serde_json::to_value(body).expect("serialisable");
        self.call(Method::POST, path, token, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &impl Serialize) -> (StatusCode, Value) {
        let body = serde_json::to_value(body).expect("serialisable");
        self.call(Method::PATCH, path, token, Some(&body)).await
    }

    /// Signs up a user and returns the sign-up answer (token pair and user).
    pub async fn signup(&self, email: &str, nickname: &str) -> Session {
        let (status, body) = self
            .post(
                "/api/v1/auth/signup",
                None,
                &serde_json::json!({"email": email, "password": PASSWORD, "nickname": nickname}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "signup of {email}: {body}");
        Session::from_pair(&body)
    }

    /// Counts the rows of a table, straight from the database (to prove that a refused request wrote nothing).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let mut tx = self.state.db.begin_read().await.expect("read");
        nene_server::on_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *c).await.expect("count"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A signed-in user as a test holds it.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

impl Session {
    pub fn from_pair(body: &Value) -> Session {
        Session {
            access: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh_token (an APP answer)").to_owned(),
            user_id: body["user"]["id"].as_str().expect("user.id").to_owned(),
        }
    }
}

/// Moves the spending of every spent refresh token `ms` into the past, straight in the database: a replay after
/// that falls outside the grace window that covers two tabs refreshing at once, as a replay by a thief would.
pub async fn age_spent_refresh_tokens(db: &nene_server::store::Db, ms: i64) {
    let mut tx = db.begin_write().await.expect("write");
    nene_server::on_conn!(&mut tx, c => sqlx::query("UPDATE refresh_tokens SET used_at = used_at - $1 WHERE used_at IS NOT NULL")
        .bind(ms)
        .execute(&mut *c)
        .await
        .expect("age refresh tokens")
        .rows_affected());
    tx.commit().await.expect("commit");
}

/// The `code` of an error body.
pub fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("<no code>")
}

/// A user made straight in the database (no password hashing), with an open wallet: for tests that exercise the
/// ledger and need many users quickly.
pub async fn direct_user(db: &nene_server::store::Db, nickname: &str) -> nene_shared::UserId {
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now().timestamp_millis();
    let email = format!("{}@direct.test", id.simple());
    let mut tx = db.begin_write().await.expect("write");
    let new = nene_server::store::users::NewUser {
        id,
        email: &email,
        nickname,
        nickname_key: &nickname.to_lowercase(),
        password_hash: "unusable",
        now_ms: now,
    };
    nene_server::store::users::insert(&mut tx, &new).await.expect("user");
    let user = nene_shared::UserId::from_uuid(id);
    nene_server::ledger::open_wallet(&mut tx, user, now).await.expect("wallet");
    tx.commit().await.expect("commit");
    user
}

/// Puts charged points into a wallet, as the payment flow's credit does.
pub async fn credit_charge(db: &nene_server::store::Db, user: nene_shared::UserId, amount: i64, order_id: &str) {
    use nene_server::ledger::{self, AccountId};
    use nene_shared::ledger::{LotSource, TransferKind};
    let mut tx = db.begin_write().await.expect("write");
    ledger::credit_lot(
        &mut tx,
        &format!("charge:{order_id}"),
        TransferKind::Charge,
        &AccountId::payments_toss(),
        user,
        nene_shared::Points::new(amount),
        LotSource::Charge,
        Some(order_id),
        order_id,
        chrono::Utc::now().timestamp_millis(),
    )
    .await
    .expect("credit");
    tx.commit().await.expect("commit");
}

/// Asserts that every ledger invariant holds.
pub async fn assert_ledger_ok(db: &nene_server::store::Db) {
    let report = nene_server::ledger::check::run(db).await.expect("ledger check runs");
    assert!(report.ok, "ledger invariants broken: {report:#?}");
}

/// A server whose TossPayments client talks to a sandbox of Toss on its own loopback port.
pub struct WithToss {
    pub server: TestServer,
    pub toss: nene_server::sandbox::toss::TossSandbox,
}

pub const TOSS_SECRET: &str = "test_sk_e2e_0123456789";

impl WithToss {
    /// Background workers are off unless `adjust` turns them on: tests step them by hand.
    pub async fn start(backend: Backend, adjust: impl FnOnce(&mut Config)) -> WithToss {
        let toss = nene_server::sandbox::toss::TossSandbox::new(TOSS_SECRET);
        let (addr, _task) = toss.serve().await.expect("sandbox serves");
        let server = TestServer::start_with(backend, |c| {
            c.toss.base_url = Some(format!("http://{addr}"));
            c.toss.secret_key = Some(TOSS_SECRET.to_owned());
            c.toss.client_key = Some("test_ck_e2e_0123456789".to_owned());
            c.toss.timeout = std::time::Duration::from_secs(5);
            c.run_workers = false;
            adjust(c);
        })
        .await;
        WithToss { server, toss }
    }

    /// Creates an order and pays it in the sandbox's widget; returns (order id, payment key).
    pub async fn pay(&self, token: &str, amount: i64) -> (String, String) {
        let (status, order) =
            self.server.post("/api/v1/payments/orders", Some(token), &serde_json::json!({"amount": amount})).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        let order_id = order["order_id"].as_str().expect("order_id").to_owned();
        let key = self.toss.create_session(&order_id, amount, order["order_name"].as_str().unwrap_or("points"));
        (order_id, key)
    }

    /// Confirms a payment made in the sandbox's widget, as the web UI's success page does.
    pub async fn confirm(&self, token: &str, order_id: &str, payment_key: &str, amount: i64) -> (StatusCode, Value) {
        let body = serde_json::json!({"payment_key": payment_key, "order_id": order_id, "amount": amount});
        self.server.post("/api/v1/payments/confirm", Some(token), &body).await
    }

    /// Pays, confirms and runs the credit worker: the points are in the wallet afterwards.
    pub async fn charge(&self, token: &str, amount: i64) -> String {
        let (order_id, key) = self.pay(token, amount).await;
        let (status, body) = self
            .server
            .post(
                "/api/v1/payments/confirm",
                Some(token),
                &serde_json::json!({"payment_key": key, "order_id": order_id, "amount": amount}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "PAID");
        nene_server::payments::worker::credit_step(&self.server.state).await.expect("credit step");
        order_id
    }

    pub async fn order(&self, token: &str, order_id: &str) -> Value {
        let (status, body) = self.server.get(&format!("/api/v1/payments/orders/{order_id}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub async fn wallet(&self, token: &str) -> (i64, i64) {
        let (status, body) = self.server.get("/api/v1/wallet", Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["balance"].as_i64().expect("balance"), body["refundable_cash"].as_i64().expect("refundable"))
    }
}

/// An access token for `user`, signed like the server's own (tests know its secret): lets a test act as many
/// users without paying for a password hash each.
pub fn mint_token(user: nene_shared::UserId) -> String {
    mint_token_as(user, "USER")
}

/// [`mint_token`] with the ADMIN role.
pub fn mint_admin_token(user: nene_shared::UserId) -> String {
    mint_token_as(user, "ADMIN")
}

fn mint_token_as(user: nene_shared::UserId, role: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({"sub": user, "role": role, "jti": uuid::Uuid::new_v4(), "iat": now,
        "exp": now + 3600, "iss": "nene-challenge"});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("token")
}

/// A user with `points` of charged points and a token.
pub async fn funded_user(db: &nene_server::store::Db, nickname: &str, points: i64) -> (nene_shared::UserId, String) {
    let user = direct_user(db, nickname).await;
    if points > 0 {
        credit_charge(db, user, points, &format!("seed-{}", user.as_uuid().simple())).await;
    }
    (user, mint_token(user))
}

/// A wallet's (balance, refundable cash), straight from the ledger.
pub async fn wallet_of(db: &nene_server::store::Db, user: nene_shared::UserId) -> (i64, i64) {
    let account = nene_server::ledger::AccountId::wallet(user);
    let mut tx = db.begin_read().await.expect("read");
    let balance =
        nene_server::store::ledger::account(&mut tx, account.as_str()).await.expect("account").map(|a| a.balance);
    let refundable = nene_server::store::ledger::refundable(&mut tx, account.as_str()).await.expect("refundable");
    (balance.unwrap_or(0), refundable)
}

/// A balance of any ledger account.
pub async fn balance_of(db: &nene_server::store::Db, account: &str) -> i64 {
    let mut tx = db.begin_read().await.expect("read");
    nene_server::store::ledger::account(&mut tx, account).await.expect("account").map(|a| a.balance).unwrap_or(0)
}

/// A challenge body starting tomorrow (by the server's domain clock) for `days` days.
pub fn challenge_body(s: &TestServer, title: &str, days: i64, stake: i64, capacity: i64) -> Value {
    let tz: chrono_tz::Tz = chrono_tz::Asia::Seoul;
    let today = s.state.clock.now().with_timezone(&tz).date_naive();
    let start = today + chrono::Duration::days(1);
    let end = start + chrono::Duration::days(days - 1);
    serde_json::json!({
        "title": title, "description": "매일 30분 달리기", "category": "HEALTH", "proof_type": "TEXT",
        "start_date": start.to_string(), "end_date": end.to_string(), "stake": stake, "capacity": capacity,
        "min_participants": 2, "success_threshold": 80,
    })
}

/// Moves the domain clock to 00:00:30 of `day` in Seoul (a challenge's default time zone).
pub fn move_clock_to(s: &TestServer, day: chrono::NaiveDate) {
    use chrono::TimeZone;
    let target = chrono_tz::Asia::Seoul
        .from_local_datetime(&day.and_hms_opt(0, 0, 30).expect("time"))
        .single()
        .expect("Seoul has no DST")
        .with_timezone(&chrono::Utc);
    let now = s.state.clock.now();
    if target > now {
        s.state.clock.advance_ms((target - now).num_milliseconds());
    }
}

/// A real JPEG photo of `w`×`h` pixels (a gradient), made in memory.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

impl TestServer {
    /// Sends a proof as multipart/form-data, like the apps do.
    pub async fn submit_proof(
        &self,
        token: &str,
        challenge: &str,
        photo: Option<(&str, Vec<u8>)>,
        text: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new();
        if let Some((name, bytes)) = photo {
            form = form.part("photo", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
        }
        if let Some(t) = text {
            form = form.text("text", t.to_owned());
        }
        let resp = self
            .http
            .post(self.url(&format!("/api/v1/challenges/{challenge}/proofs")))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request sent");
        let status = resp.status();
        (status, resp.json().await.unwrap_or_default())
    }
}

/// A server pushing to a sandbox of FCM on its own loopback port.
pub struct WithPush {
    pub server: TestServer,
    pub fcm: nene_server::sandbox::fcm::FcmSandbox,
    /// Where the sandbox listens (to point more server instances at it).
    pub addr: std::net::SocketAddr,
}

impl WithPush {
    /// Background workers are off unless `adjust` turns them on: tests step them by hand.
    pub async fn start(backend: Backend, adjust: impl FnOnce(&mut Config)) -> WithPush {
        let db = Arc::new(TestDatabase::create(backend).await);
        let fcm = nene_server::sandbox::fcm::FcmSandbox::new();
        let (addr, _task) = fcm.serve().await.expect("sandbox serves");
        let mut config = test_config(&db);
        config.run_workers = false;
        push_to(&mut config, addr, &db);
        adjust(&mut config);
        let server = TestServer::start_on(db, config).await;
        WithPush { server, fcm, addr }
    }
}

/// Writes the FCM sandbox's service account into the database's folder, where a server can read it; answers its path.
pub fn write_fcm_service_account(db: &TestDatabase) -> std::path::PathBuf {
    let account = nene_server::sandbox::fcm::FcmSandbox::test_account();
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": account.project_id,
        "client_email": account.client_email,
        "private_key": account.private_key,
    });
    let path = db.dir.path().join("fcm-service-account.json");
    std::fs::write(&path, json.to_string()).expect("write service account");
    path
}

/// Points `config` at an FCM sandbox listening on `addr`, with the sandbox's service account written to a file.
pub fn push_to(config: &mut Config, addr: std::net::SocketAddr, db: &TestDatabase) {
    let path = write_fcm_service_account(db);
    config.fcm.base_url = Some(format!("http://{addr}"));
    config.fcm.token_url = Some(format!("http://{addr}/token"));
    config.fcm.credentials = Some(path);
}
