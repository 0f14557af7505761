//! A loopback TCP proxy between the app and the test server that can lose one answer on purpose: it forwards the
//! request, lets the server finish it, then closes the app's connection instead of passing the response on, exactly
//! what a network cut after the server committed looks like to the app. It can also cut every open connection at once,
//! both ways, while the server is still working on a request. It counts requests by their first line.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    upstream: Option<SocketAddr>,
    /// The response to the next request whose first line starts with this is lost.
    cut: Option<String>,
    cuts: usize,
    /// First lines of the requests seen, in order.
    requests: Vec<String>,
}

pub struct CutProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Bumped to cut every connection open at that moment.
    cut_all: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    pub async fn start(upstream: &str) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(Mutex::new(State { upstream: Some(addr_of(upstream)), ..State::default() }));
        let shared = Arc::clone(&state);
        let (cut_all, cuts) = tokio::sync::watch::channel(0);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, Arc::clone(&shared), cuts.clone()));
            }
        });
        CutProxy { addr, state, cut_all, task }
    }

    /// Cuts every open connection now, both ways: the app gets no answer, and the server sees its client go away
    /// in the middle of whatever it is doing.
    pub fn cut_open_connections(&self) {
        self.cut_all.send_modify(|n| *n += 1);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Loses the response to the next request whose first line starts with `prefix` (e.g. `POST /api/v1/sync/push`).
    pub fn cut_next_response_to(&self, prefix: &str) {
        self.state.lock().expect("proxy state").cut = Some(prefix.to_owned());
    }

    /// How many responses were lost on purpose.
    pub fn cuts(&self) -> usize {
        self.state.lock().expect("proxy state").cuts
    }

    /// How many requests started with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> usize {
        self.state.lock().expect("proxy state").requests.iter().filter(|r| r.starts_with(prefix)).count()
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().expect("test server address")
}

async fn relay(client: TcpStream, state: Arc<Mutex<State>>, mut cut_all: tokio::sync::watch::Receiver<u64>) {
    cut_all.mark_unchanged();
    let Some(upstream) = state.lock().expect("proxy state").upstream else { return };
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let lose_next = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let watch = Arc::clone(&lose_next);
    let requests = Arc::clone(&state);
    let upload = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if let Some(line) = request_line(chunk) {
                let mut s = requests.lock().expect("proxy state");
                if s.cut.as_deref().is_some_and(|p| line.starts_with(p)) {
                    s.cut = None;
                    watch.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                s.requests.push(line);
            }
            if to_server.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    });

    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from_server.read(&mut buf) => read,
            _ = cut_all.changed() => break,
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if lose_next.load(std::sync::atomic::Ordering::SeqCst) {
            // The server has answered, so it has done the work; the app never hears of it.
            state.lock().expect("proxy state").cuts += 1;
            break;
        }
        if to_client.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    upload.abort();
}

/// The first line of an HTTP request starting in this chunk, if one does.
fn request_line(chunk: &[u8]) -> Option<String> {
    const METHODS: [&[u8]; 5] = [b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE "];
    if !METHODS.iter().any(|m| chunk.starts_with(m)) {
        return None;
    }
    let end = chunk.iter().position(|b| *b == b'\r').unwrap_or(chunk.len());
    Some(String::from_utf8_lossy(&chunk[..end]).into_owned())
}
