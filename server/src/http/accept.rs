//! The accept loop, with a cap on connections served at once.
//!
//! Each connection costs memory of its own once it sends a request: hyper's read and write buffers (8 KB each) and
//! the request's state while it waits, about 20 KB in all. Without a cap, a burst of thousands of simultaneous
//! connections grows the server by that much per connection. With one, connections past the cap wait in the
//! kernel's accept queue (a listen backlog of [`BACKLOG`]) until a slot frees, and the server's memory stays
//! bounded whatever the burst.
//!
//! A cap alone would let idle kept-alive connections hold every slot while new ones wait forever. So keep-alive is
//! only offered while fewer than [`Limits::keep_alive_below`] connections are open: past that, a connection answers
//! one request and closes, which frees its slot (nginx drops idle keep-alive connections under the same pressure).
//!
//! Otherwise it is what `axum::serve` (with axum's default HTTP/1) does: the peer address available to handlers as
//! `ConnectInfo<SocketAddr>` and a graceful shutdown that stops accepting and lets requests in flight
//! finish.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The listen backlog asked for (the kernel caps it at `net.core.somaxconn`): room for a burst to wait for a slot.
pub const BACKLOG: u32 = 4096;

/// How many connections are served at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Keep-alive is offered only while fewer connections than this are open.
    pub keep_alive_below: usize,
}

impl Limits {
    /// `max` connections at once, keep-alive offered while fewer than half of them are open.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Limits { max_connections: max, keep_alive_below: (max / 2).max(1) }
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

/// Serves `router` on `listener` until `shutdown` completes, then waits for the connections to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
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
        let open = limits.max_connections - slots.available_permits();
        let keep_alive = open < limits.keep_alive_below;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move { router.oneshot(request.map(Body::new)).await.map_err(|e: Infallible| match e {}) }
        });
        let connection = http1::Builder::new().keep_alive(keep_alive).serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
