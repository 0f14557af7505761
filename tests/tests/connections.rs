//! The server's limits on connections: a burst larger than the cap is answered in full (the rest wait in the accept
//! queue); idle kept-alive connections cannot hold every slot (past half the cap a connection answers once and
//! closes, and an idle one is closed after the keep-alive timeout); a connection that sends nothing or dribbles its
//! headers is closed after the header-read timeout; one address cannot hold more than its share; and a graceful
//! shutdown ends within its grace whatever the clients do.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nene_tests::{Backend, TestServer};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Generous bound on a burst that is answered in milliseconds; only a connection stuck behind held slots hits it.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_cap_is_answered_and_idle_connections_cannot_hold_the_slots() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.max_connections = 4).await;

    // One client, 12 requests at once: 12 connections, 4 served at a time.
    let first = reqwest::Client::new();
    let burst = futures::future::join_all((0..12).map(|_| first.get(s.url("/health")).send()));
    let answers = tokio::time::timeout(BOUND, burst).await.expect("the burst is answered");
    let mut closed = 0;
    for answer in answers {
        let answer = answer.expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
        if answer.headers().get("connection").is_some_and(|v| v == "close") {
            closed += 1;
        }
    }
    assert!(closed >= 1, "past half the cap, connections are not kept alive");

    // The first client keeps what it may alive, idle. Another client is still served, again and again.
    let second = reqwest::Client::new();
    for _ in 0..6 {
        let answer = tokio::time::timeout(BOUND, second.get(s.url("/health")).send())
            .await
            .expect("a slot is free for another client")
            .expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
    }
    drop(first);
}

fn addr_of(s: &TestServer) -> SocketAddr {
    s.base.trim_start_matches("http://").parse().expect("server address")
}

/// A raw connection to the server from `from` (any 127.0.0.0/8 address reaches a loopback server on Linux).
async fn connect_from(s: &TestServer, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::from((from, 0))).expect("bind client address");
    socket.connect(addr_of(s)).await.expect("connect")
}

/// Reads until the server closes the connection; answers what it sent. Panics if it stays open past `bound`.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection is still open after {bound:?}; it sent {:?}", String::from_utf8_lossy(&got));
    got
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: nene\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_nothing_or_dribble_headers_are_closed_and_free_their_slots() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.max_connections = 2;
        c.header_read_timeout = Duration::from_millis(500);
        c.keep_alive_timeout = Duration::from_secs(60);
    })
    .await;
    // Both slots taken: one connection says nothing, the other starts a request and never finishes its headers.
    let mut silent = TcpStream::connect(addr_of(&s)).await.unwrap();
    let mut dribbling = TcpStream::connect(addr_of(&s)).await.unwrap();
    dribbling.write_all(b"GET /health HTTP/1.1\r\nHost: nene\r\n").await.unwrap();

    // A third client is served once the header-read timeout has freed a slot.
    let start = Instant::now();
    let answer = tokio::time::timeout(BOUND, reqwest::get(s.url("/health")))
        .await
        .expect("a slot frees for another client")
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(start.elapsed() >= Duration::from_millis(400), "served before any slot should have freed");

    assert!(closed_within(&mut silent, BOUND).await.is_empty());
    let said = closed_within(&mut dribbling, BOUND).await;
    assert!(!String::from_utf8_lossy(&said).contains("200 OK"), "an incomplete request was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(60);
        c.keep_alive_timeout = Duration::from_millis(500);
    })
    .await;
    let mut conn = TcpStream::connect(addr_of(&s)).await.unwrap();
    // Two requests on one connection: it is kept alive between them.
    for _ in 0..2 {
        conn.write_all(HEALTH).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(BOUND, conn.read(&mut buf)).await.expect("answered").unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    }
    // Then it sits idle, and is closed long before the header-read timeout would have closed it.
    let idle = Instant::now();
    assert!(closed_within(&mut conn, Duration::from_secs(20)).await.is_empty());
    assert!(idle.elapsed() >= Duration::from_millis(400), "closed after {:?}", idle.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_past_its_cap_is_refused_while_others_are_served() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.max_connections_per_ip = 3;
        c.header_read_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(&s, [127, 0, 0, 1]).await);
    }
    // The fourth from the same address is answered 429 and closed at once.
    let mut fourth = connect_from(&s, [127, 0, 0, 1]).await;
    let said = String::from_utf8_lossy(&closed_within(&mut fourth, BOUND).await).into_owned();
    assert!(said.starts_with("HTTP/1.1 429"), "{said}");
    assert!(said.contains(r#""code":"TOO_MANY_REQUESTS""#), "{said}");

    // Another address is served meanwhile.
    let other = reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let answer = tokio::time::timeout(BOUND, other.get(s.url("/health")).send()).await.expect("served").unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    // Once one of the three closes, the address is served again.
    drop(held.pop());
    let deadline = Instant::now() + BOUND;
    loop {
        let mut conn = connect_from(&s, [127, 0, 0, 1]).await;
        conn.write_all(HEALTH).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(BOUND, conn.read(&mut buf)).await.expect("answered").unwrap_or(0);
        if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the address stays refused after one of its connections closed");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_are_not_held_to_the_per_address_cap() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.max_connections_per_ip = 1;
        c.header_read_timeout = Duration::from_secs(60);
        c.trusted_proxies = nene_server::http::client_addr::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let _held: Vec<TcpStream> = futures::future::join_all((0..3).map(|_| connect_from(&s, [127, 0, 0, 1]))).await;
    let answer = tokio::time::timeout(BOUND, reqwest::get(s.url("/health"))).await.expect("served").unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_within_its_grace_while_clients_hang() {
    let grace = Duration::from_secs(1);
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.header_read_timeout = Duration::from_secs(60);
        c.keep_alive_timeout = Duration::from_secs(60);
        c.shutdown_grace = grace;
    })
    .await;
    // Idle: says nothing. Dribbling: half a request head. Stuck: a request whose body never comes, so its handler
    // waits until the grace runs out.
    let mut silent = TcpStream::connect(addr_of(&s)).await.unwrap();
    let mut dribbling = TcpStream::connect(addr_of(&s)).await.unwrap();
    dribbling.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut stuck = TcpStream::connect(addr_of(&s)).await.unwrap();
    let head =
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: nene\r\ncontent-type: application/json\r\ncontent-length: 1000";
    stuck.write_all(format!("{head}\r\n\r\n{{\"email\"").as_bytes()).await.unwrap();
    // Kept alive and idle after an answer.
    let mut kept = TcpStream::connect(addr_of(&s)).await.unwrap();
    kept.write_all(HEALTH).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, kept.read(&mut buf)).await.expect("answered").unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let start = Instant::now();
    tokio::time::timeout(grace + Duration::from_secs(10), s.stop()).await.expect("the server stops within its grace");
    let took = start.elapsed();
    assert!(took >= grace - Duration::from_millis(100), "stopped after {took:?}, before the stuck request's grace");
    for conn in [&mut silent, &mut dribbling, &mut stuck, &mut kept] {
        closed_within(conn, Duration::from_secs(5)).await;
    }
}
