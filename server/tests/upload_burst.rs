//! A burst of large-dimension 16-bit PNG uploads against the real `nene-server` binary does not take the server's
//! memory past a stated bound.
//!
//! Before decoding was bounded, 16 parallel uploads of one 205 KB 16-bit 6000×6000 PNG took a server from 82 MB to
//! 3.2 GB: every upload decoded at once on the blocking pool (up to 512 threads), each into 216 MB of pixels. Here
//! 32 arrive at once: 16 such bombs, and 16 different 16-bit 4700×4700 PNGs whose 132.5 MB of pixels are just
//! inside the per-decode bound (the worst photo still accepted). The server runs with two decoders.
//!
//! The bound: two decodes of at most 128 MiB each (265 MB for two of these photos), plus the server's own baseline
//! (about 35 MB), the request bodies (about 1.4 MB each) and thumbnails, and 200 MB of margin: **the peak resident
//! memory (VmHWM) stays under 500 MB**. Measured here: 34 MB before the burst, 302 MB at its peak; with sixteen
//! decoders instead of two, 2,075 MB. Without any bound the bombs would decode too, 216 MB each.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_nene-server");
/// The stated bound on the server's peak resident memory, in MB.
const BOUND_MB: u64 = 500;

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

/// Starts the binary with exactly `envs` and waits for the "serving" log line, which names the bound address.
fn start(envs: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
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

/// A field of `/proc/<pid>/status`, in MB.
fn status_mb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .expect("field present");
    kb / 1024
}

#[test]
fn a_burst_of_decoding_bombs_stays_within_the_memory_bound() {
    nene_server::integrations::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let running = start(&[
        ("NENE_DATA_DIR", data.to_str().unwrap()),
        ("NENE_JWT_SECRET", "burst-test-secret-0123456789abcdefghij"),
        ("NENE_PHOTO_DECODERS", "2"),
        ("NENE_UPLOADS_PER_DAY", "100"),
        ("NENE_MIN_FREE_DISK_MB", "0"),
    ]);
    let pid = running.child.id();
    let base = format!("http://{}/api/v1", running.addr);
    let near: Vec<Vec<u8>> = (0..16).map(|i| support::png16_black(4700, 4700, &format!("near {i}"))).collect();
    let bombs: Vec<Vec<u8>> = (0..16).map(|i| support::png16_black(6000, 6000, &format!("bomb {i}"))).collect();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let answers = rt.block_on(async {
        let http = reqwest::Client::new();
        let signup: serde_json::Value = http
            .post(format!("{base}/auth/signup"))
            .json(&serde_json::json!({"email": "burst@example.com", "password": "long-enough-1", "nickname": "burst"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = signup["access_token"].as_str().expect("signed up").to_owned();
        let before = status_mb(pid, "VmRSS:");
        let uploads = near.iter().chain(&bombs).map(|bytes| {
            let (http, url, token, bytes) = (http.clone(), format!("{base}/sync/photos"), token.clone(), bytes.clone());
            tokio::spawn(async move {
                let resp = http.post(url).bearer_auth(token).body(bytes).send().await.expect("answered");
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                (status, body)
            })
        });
        let answers: Vec<_> = futures::future::join_all(uploads).await.into_iter().map(Result::unwrap).collect();
        (before, answers)
    });
    let (before, answers) = answers;
    let peak = status_mb(pid, "VmHWM:");
    eprintln!("server memory: {before} MB before the burst, peak {peak} MB (bound {BOUND_MB} MB)");

    let (accepted, refused) = answers.split_at(16);
    assert!(accepted.iter().all(|(status, _)| *status == 200), "{accepted:?}");
    let mut hashes: Vec<_> = accepted.iter().map(|(_, b)| b["hash"].as_str().unwrap().to_owned()).collect();
    hashes.dedup();
    assert_eq!(hashes.len(), 16, "each photo stored under its own name");
    assert!(refused.iter().all(|(status, b)| *status == 422 && b["code"] == "INVALID_PHOTO"), "{refused:?}");
    assert!(peak < BOUND_MB, "the server's memory peaked at {peak} MB, past the bound of {BOUND_MB} MB");
}
