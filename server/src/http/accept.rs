//! The accept loop, with a cap on connections served at once and on connections per client address.
//!
//! Each connection costs memory of its own once it sends a request: hyper's read and write buffers (8 KB each) and
//! the request's state while it waits, about 20 KB in all. Without a cap, a burst of thousands of simultaneous
//! connections grows the server by that much per connection. With one, connections past the cap wait in the
//! kernel's accept queue (a listen backlog of [`BACKLOG`]) until a slot frees, and the server's memory stays
//! bounded whatever the burst.
//!
//! A cap alone would let one host hold every slot. So:
//! - a connection that sends nothing, or sits idle between requests, is closed after a timeout and frees its slot
//!   (see [`connection`]);
//! - keep-alive is only offered while fewer than [`Limits::keep_alive_below`] connections are open: past that, a
//!   connection answers one request and closes (nginx drops idle keep-alive connections under the same pressure);
//! - one address may hold at most [`Limits::per_address`] connections; more are answered 429 and closed at once.
//!   Trusted proxies are exempt, since everyone behind one shares its address.
//!
//! Graceful shutdown stops accepting, closes idle connections, lets requests in flight finish, and after
//! [`Limits::shutdown_grace`] cuts whatever is left, so a stuck client cannot hold the server up.
//!
//! Otherwise it is what `axum::serve` (with axum's default HTTP/1) does: the peer address available to handlers as
//! `ConnectInfo<SocketAddr>`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::Config;
use crate::http::client_addr::{self, TrustedProxies};
use crate::http::connection::{self, Activity, Closed, Timeouts, TrackedBody, Watched};

/// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`): room for a burst to wait for a slot.
pub const BACKLOG: u32 = 4096;

/// How many connections are served at once, and for how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Keep-alive is offered only while fewer connections than this are open.
    pub keep_alive_below: usize,
    /// Connections one client address may hold at once.
    pub per_address: usize,
    /// Addresses exempt from [`Limits::per_address`].
    pub trusted_proxies: TrustedProxies,
    pub timeouts: Timeouts,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Limits {
    /// The limits `config` asks for; keep-alive offered while fewer than half of the connections are open.
    pub fn from_config(config: &Config) -> Self {
        let max = usize::try_from(config.max_connections).unwrap_or(usize::MAX);
        Limits {
            max_connections: max,
            keep_alive_below: 0,
            per_address: usize::try_from(config.max_connections_per_ip).unwrap_or(usize::MAX),
            trusted_proxies: config.trusted_proxies.clone(),
            timeouts: Timeouts { header_read: config.header_read_timeout, keep_alive: config.keep_alive_timeout },
            shutdown_grace: config.shutdown_grace,
        }
        .normalised()
    }

    fn normalised(mut self) -> Self {
        // The semaphore counts in u32 (for the shutdown's wait on every slot).
        self.max_connections = self.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        self.keep_alive_below = (self.max_connections / 2).max(1);
        self.per_address = self.per_address.max(1);
        self
    }
}

/// Binds `addr` with the larger backlog.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    // As the standard library's bind does on Unix: a restarted server can bind while old connections linger.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight finish for at most the
/// shutdown grace.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let addresses = Arc::new(PerAddress::new(limits.per_address, limits.trusted_proxies.clone()));
    let stop = CancellationToken::new();
    let cut = CancellationToken::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // `biased`, shutdown first: the shutdown future is polled before anything is accepted, so the signal
        // handler it installs on its first poll is in place before the first answer goes out (unbiased, a ready
        // branch polled first could serve requests while a SIGTERM still had its default, fatal effect).
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors and the like: give the process a moment rather than spin.
                        tracing::error!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
        };
        let Some(address_slot) = addresses.admit(peer.ip()) else {
            refuse(&stream);
            metrics::counter!("http_connections_closed_total", "reason" => "per_address_cap").increment(1);
            continue;
        };
        let open = limits.max_connections - slots.available_permits();
        let keep_alive = open < limits.keep_alive_below;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let activity = Activity::new();
        let router = router.clone();
        let in_requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let in_flight = in_requests.begin_request();
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(Body::new)).await.map_err(|e: Infallible| match e {})?;
                Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, in_flight)))
            }
        });
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let connection = http1::Builder::new().keep_alive(keep_alive).serve_connection(io, service);
        let (timeouts, stop, cut) = (limits.timeouts, stop.clone(), cut.clone());
        tokio::spawn(async move {
            let closed = connection::drive(connection, activity, timeouts, stop, cut).await;
            if closed != Closed::Ended {
                metrics::counter!("http_connections_closed_total", "reason" => closed.as_str()).increment(1);
            }
            drop(address_slot);
            drop(slot);
        });
    }
    drop(listener);
    stop.cancel();
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all)).await.is_err() {
        let left = limits.max_connections - slots.available_permits();
        tracing::warn!(
            connections = left,
            grace_secs = limits.shutdown_grace.as_secs_f64(),
            "shutdown grace ran out; cutting the connections left"
        );
        cut.cancel();
        // Cut connections end at their next poll; this wait is for the tasks to notice, not for any client.
        let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
    }
    Ok(())
}

/// Counts open connections per client address (an IPv6 client's /64, see [`client_addr::limit_key`]).
struct PerAddress {
    cap: usize,
    exempt: TrustedProxies,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; uncounted when dropped.
struct AddressSlot {
    addresses: Arc<PerAddress>,
    ip: Option<IpAddr>,
}

impl PerAddress {
    fn new(cap: usize, exempt: TrustedProxies) -> Self {
        PerAddress { cap, exempt, open: Mutex::new(HashMap::new()) }
    }

    /// Counts a new connection from `ip`, or `None` when that address already holds its share.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        if self.exempt.contains(ip) {
            return Some(AddressSlot { addresses: Arc::clone(self), ip: None });
        }
        let ip = client_addr::limit_key(ip);
        // A map of counters, consistent after any panic; a poisoned lock is still usable.
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot { addresses: Arc::clone(self), ip: Some(ip) })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut open = self.addresses.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// Answers 429 on a connection over its address's share, without waiting for the client: the answer fits in the
/// socket's send buffer, and a client that does not read it only loses the answer.
fn refuse(stream: &TcpStream) {
    let body = r#"{"code":"TOO_MANY_REQUESTS","message":"Too many connections from your address."}"#;
    let head =
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close";
    let answer = format!("{head}\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    let _ = stream.try_write(answer.as_bytes());
}

/// Errors that concern one connection only (the peer gave up before it was accepted).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
