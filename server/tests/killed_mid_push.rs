//! The `nene-server` binary killed (`SIGKILL`) in the middle of an offline push, on SQLite and on PostgreSQL:
//! restarted on the same database, the same push is applied exactly once, for the day the proof was first
//! received.
//!
//! The push is stopped at a known point: the proof's stored photo is replaced by a named pipe, so the server,
//! having recorded the intent's receipt, waits in its read of the photo until the test kills it there.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{Duration, Utc};
use nene_server::challenges::rules::{ALL_WEEKDAYS, Calendar};
use nene_server::config::DatabaseConfig;
use nene_server::ledger::{self, AccountId};
use nene_server::store::challenges::ChallengeRow;
use nene_server::store::{self, Db};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};
use serde_json::{Value, json};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_nene-server");
const SECRET: &str = "killed-mid-push-test-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_push_applies_the_intent_once_after_restart_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("data/nene.db").display());
    let database = DatabaseConfig::Sqlite { path: dir.path().join("data/nene.db") };
    killed_mid_push(dir.path(), &url, &database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_push_applies_the_intent_once_after_restart_postgres() {
    let admin = std::env::var("NENE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("nene_kill_{}", Uuid::new_v4().simple());
    admin_statement(&admin, &format!("CREATE DATABASE {name}")).await;
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("a database name").0);
    let dir = tempfile::tempdir().expect("temp dir");
    killed_mid_push(dir.path(), &url, &DatabaseConfig::Postgres { url: url.clone() }).await;
    admin_statement(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

async fn admin_statement(admin: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL is running");
    sqlx::query(sql).execute(&mut conn).await.expect("admin statement");
}

async fn killed_mid_push(dir: &Path, url: &str, database: &DatabaseConfig) {
    nene_server::integrations::install_crypto_provider();
    let db = Db::connect(database, 2).await.expect("database");
    let (challenge, prover) = running_photo_challenge(&db).await;
    let first_day = Utc::now().with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    db.close().await;
    let token = nene_server::auth::tokens::JwtKeys::new(SECRET)
        .issue(prover.as_uuid(), "USER", Utc::now().timestamp(), 3600)
        .expect("token")
        .0;

    let server = Running::start(dir, url);
    let hash = upload(&server.addr, &token, &jpeg()).await;
    let proof = json!({"id": "01KILLED", "seq": 1, "kind": "PROOF",
        "body": {"challenge_id": challenge, "photo_hash": hash}});
    let pipe = PipedPhoto::install(dir, &hash);
    let mut connection = TcpStream::connect(&server.addr).expect("connect");
    let body = serde_json::to_vec(&json!({"device_id": "phone-1", "intents": [proof]})).expect("json");
    write!(
        connection,
        "POST /api/v1/sync/push HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    )
    .expect("head");
    connection.write_all(&body).expect("body");
    // The server has recorded the receipt and is reading the photo: killed there.
    let reading = pipe.wait_for_reader().await;
    server.kill();
    drop(reading);
    drop(connection);
    pipe.restore();

    let db = Db::connect(database, 2).await.expect("database");
    let mut tx = db.begin_read().await.expect("read");
    let left = store::sync::intent(&mut tx, prover.as_uuid(), "01KILLED").await.expect("read").expect("received");
    drop(tx);
    assert_eq!(left.status, "PENDING", "the kill left the intent received and not applied");
    assert_eq!(count(&db, "proofs").await, 0);

    // Started again on the same database, the same push is applied once, then answered from the record.
    let server = Running::start(dir, url);
    for _ in 0..2 {
        let results = push(&server.addr, &token, json!([proof])).await;
        assert_eq!((results[0]["status"].as_str(), results[0]["code"].as_str()), (Some("APPLIED"), None));
    }
    drop(server);
    assert_eq!(count(&db, "proofs").await, 1);
    let mut tx = db.begin_read().await.expect("read");
    let day: String = nene_server::on_conn!(&mut tx, c => sqlx::query_scalar("SELECT day FROM proofs")
        .fetch_one(&mut *c).await.expect("day"));
    drop(tx);
    assert_eq!(day, first_day.to_string(), "the day of the first receipt");
    let report = ledger::check::run(&db).await.expect("ledger check");
    assert!(report.ok, "{report:#?}");
    db.close().await;
}

/// A running `nene-server` process and the address it reported.
struct Running {
    child: Child,
    addr: String,
}

impl Running {
    /// Starts the binary in `cwd` on `url` (its data in `cwd/data`) and waits for its "serving" line.
    fn start(cwd: &Path, url: &str) -> Running {
        let mut child = Command::new(BIN)
            .current_dir(cwd)
            .env_clear()
            .env("NENE_ADDR", "127.0.0.1:0")
            .env("NENE_LOG_FORMAT", "json")
            .env("NENE_JWT_SECRET", SECRET)
            .env("DATABASE_URL", url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("the server printed its address before exiting").expect("log line");
            let v: Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "serving" {
                break v["addr"].as_str().expect("addr").to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Running { child, addr }
    }

    /// `SIGKILL`: no shutdown, no clean-up, as a crash or a pulled plug.
    fn kill(mut self) {
        self.child.kill().expect("kill -9");
        let status = self.child.wait().expect("exit status");
        assert!(!status.success(), "killed, not stopped: {status:?}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A three-day photo challenge that started today (in Seoul), with its host and one more participant in it;
/// answers its id and the other participant.
async fn running_photo_challenge(db: &Db) -> (String, UserId) {
    let now = Utc::now().timestamp_millis();
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    let calendar =
        Calendar { start: today, end: today + Duration::days(2), tz: chrono_tz::Asia::Seoul, weekdays: ALL_WEEKDAYS };
    let mut tx = db.begin_write().await.expect("write");
    let mut people = Vec::new();
    for nickname in ["host", "prover"] {
        let id = Uuid::now_v7();
        let email = format!("{nickname}@kill.test");
        let new = store::users::NewUser {
            id,
            email: &email,
            nickname,
            nickname_key: nickname,
            password_hash: "unusable",
            now_ms: now,
        };
        store::users::insert(&mut tx, &new).await.expect("user");
        let user = UserId::from_uuid(id);
        ledger::open_wallet(&mut tx, user, now).await.expect("wallet");
        ledger::credit_lot(
            &mut tx,
            &format!("charge:seed-{nickname}"),
            TransferKind::Charge,
            &AccountId::payments_toss(),
            user,
            Points::new(5_000),
            LotSource::Charge,
            Some(&format!("seed-{nickname}")),
            "seed",
            now,
        )
        .await
        .expect("points");
        people.push(user);
    }
    let id = Uuid::now_v7();
    let row = ChallengeRow {
        id,
        creator_id: people[0].as_uuid(),
        creator_nickname: String::new(),
        title: "Photos".into(),
        description: String::new(),
        category: "HEALTH".into(),
        proof_type: "PHOTO".into(),
        start_date: calendar.start.to_string(),
        end_date: calendar.end.to_string(),
        timezone: "Asia/Seoul".into(),
        proof_weekdays: i64::from(ALL_WEEKDAYS),
        proof_days: calendar.proof_days(),
        stake: 5_000,
        capacity: 5,
        min_participants: 2,
        success_threshold: 80,
        fee_bps: 0,
        status: "RECRUITING".into(),
        participant_count: 0,
        version: 1,
        starts_at: calendar.starts_at().timestamp_millis(),
        ends_at: calendar.ends_at().timestamp_millis(),
        created_at: now,
        updated_at: now,
        settled_at: None,
        deleted_at: None,
    };
    store::challenges::insert(&mut tx, &row).await.expect("challenge");
    ledger::open_system_account(&mut tx, &AccountId::escrow_challenge(id), now).await.expect("escrow");
    for user in &people {
        nene_server::challenges::join_in(&mut tx, id, *user, now).await.expect("join");
    }
    assert!(store::challenges::transition(&mut tx, id, &["RECRUITING"], "IN_PROGRESS", now).await.expect("start"));
    tx.commit().await.expect("commit");
    (id.to_string(), people[1])
}

fn jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

async fn upload(addr: &str, token: &str, photo: &[u8]) -> String {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/sync/photos"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(photo.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json::<Value>().await.expect("json")["hash"].as_str().expect("hash").to_owned()
}

async fn push(addr: &str, token: &str, intents: Value) -> Vec<Value> {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/sync/push"))
        .bearer_auth(token)
        .json(&json!({"device_id": "phone-1", "intents": intents}))
        .send()
        .await
        .expect("push");
    assert_eq!(resp.status().as_u16(), 200);
    resp.json::<Value>().await.expect("json")["results"].as_array().expect("results").clone()
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let mut tx = db.begin_read().await.expect("read");
    nene_server::on_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *c).await.expect("count"))
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// A stored photo swapped for a named pipe: the server's next read of it waits until the test lets it go.
struct PipedPhoto {
    path: PathBuf,
    kept: PathBuf,
}

impl PipedPhoto {
    fn install(dir: &Path, hash: &str) -> PipedPhoto {
        let path = find_file(dir, hash).expect("the uploaded photo is stored under its hash");
        let kept = path.with_extension("kept");
        std::fs::rename(&path, &kept).expect("set the photo aside");
        assert!(Command::new("mkfifo").arg(&path).status().expect("mkfifo runs").success());
        PipedPhoto { path, kept }
    }

    /// Waits until the server has opened the photo to read it, and keeps it waiting there.
    async fn wait_for_reader(&self) -> std::fs::File {
        let path = self.path.clone();
        // Opening a pipe to write waits until a reader opens it too.
        tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(path))
            .await
            .expect("join")
            .expect("the server opens the photo")
    }

    fn restore(self) {
        std::fs::remove_file(&self.path).expect("remove the pipe");
        std::fs::rename(&self.kept, &self.path).expect("put the photo back");
    }
}
