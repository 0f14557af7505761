//! One connection's life after it is accepted: how long it may take to send its headers, how long it may sit idle
//! between requests, and how it ends at shutdown.
//!
//! hyper alone would keep a connection that sends nothing open forever (its header-read timer runs only with a
//! timer installed, and then also cuts idle kept-alive connections at the same moment), so the connection's
//! activity is watched here instead:
//! - a new connection must deliver a complete request head within the header-read timeout;
//! - between requests it may stay idle for the keep-alive timeout, and once the next request's first byte arrives
//!   its head must be complete within the header-read timeout;
//! - while a request is being handled or its answer written, neither applies.
//!
//! A connection that runs out of time is dropped (its socket closed). That is safe: the watcher polls the
//! connection first, so when a deadline is looked at, hyper has parsed every byte that arrived, and no request is
//! in flight.

use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use hyper::body::{Bytes, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a connection may wait for its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From the opening of a connection, or the first byte of a later request, to its complete head.
    pub header_read: Duration,
    /// Idle between the end of one answer and the first byte of the next request.
    pub keep_alive: Duration,
}

/// What a connection is doing, shared by its socket, its requests and its watcher.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests whose handler runs or whose answer is still being written.
    in_flight: usize,
    /// Requests answered so far.
    answered: u64,
    /// When the connection opened or its last answer was written.
    idle_since: Instant,
    /// When the first byte of the next request arrived, while no request was in flight.
    head_started: Option<Instant>,
}

/// Why a connection was closed by its watcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The client finished, or the connection failed.
    Ended,
    /// No complete request head in time.
    HeaderTimeout,
    /// Idle between requests for too long.
    KeepAliveTimeout,
    /// Shutdown came while it was idle.
    Shutdown,
    /// Shutdown's grace ran out with a request still open.
    Cut,
}

impl Closed {
    pub fn as_str(self) -> &'static str {
        match self {
            Closed::Ended => "ended",
            Closed::HeaderTimeout => "header_timeout",
            Closed::KeepAliveTimeout => "keep_alive_timeout",
            Closed::Shutdown => "shutdown",
            Closed::Cut => "cut_at_shutdown",
        }
    }
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            state: Mutex::new(State { in_flight: 0, answered: 0, idle_since: Instant::now(), head_started: None }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is a few counters, consistent after any panic; a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request's head was parsed and its handler is about to run. The guard ends it when dropped.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        InFlight(Arc::clone(self))
    }

    fn end_request(&self) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.answered += 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            state.head_started = None;
        }
        drop(state);
        self.changed.notify_one();
    }

    fn bytes_arrived(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// When the connection runs out of time if nothing changes, and as what; `None` while a request is in flight.
    fn deadline(&self, timeouts: Timeouts) -> Option<(Instant, Closed)> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.head_started {
            Some(started) => (started + timeouts.header_read, Closed::HeaderTimeout),
            None if state.answered == 0 => (state.idle_since + timeouts.header_read, Closed::HeaderTimeout),
            None => (state.idle_since + timeouts.keep_alive, Closed::KeepAliveTimeout),
        })
    }

    fn is_idle(&self) -> bool {
        self.state().in_flight == 0
    }
}

/// Holds a request open on its connection: from its parsed head until its answer's body is written or dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// An answer's body that keeps its request in flight until hyper has taken all of it (or given up on it).
pub struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub fn new(body: Body, in_flight: InFlight) -> Self {
        TrackedBody { body, _in_flight: in_flight }
    }
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting when a request's first byte arrives.
pub struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// A hyper connection that can be asked to finish gracefully.
pub trait Graceful: Future {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S> Graceful for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self)
    }
}

/// Serves `connection` until it ends or runs out of time. On `stop`, an idle connection closes at once and a busy
/// one finishes its request; on `cut`, whatever is left is dropped.
pub async fn drive<C, E>(
    connection: C,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    stop: CancellationToken,
    cut: CancellationToken,
) -> Closed
where
    C: Graceful<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut connection = pin!(connection);
    let mut stopping = false;
    loop {
        // Asked for before the state is read, so a change in between still wakes the loop.
        let changed = activity.changed.notified();
        let deadline = activity.deadline(timeouts);
        tokio::select! {
            biased;
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return Closed::Ended;
            }
            () = cut.cancelled() => return Closed::Cut,
            () = stop.cancelled(), if !stopping => {
                if activity.is_idle() {
                    return Closed::Shutdown;
                }
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = sleep_until(deadline.map(|(at, _)| at)), if deadline.is_some() => {
                // Still the same deadline? (A request may have begun since it was read.)
                if let Some((at, why)) = activity.deadline(timeouts)
                    && at <= Instant::now()
                {
                    return why;
                }
            }
            () = changed => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts { header_read: Duration::from_secs(10), keep_alive: Duration::from_secs(75) };

    /// The deadline's kind, and that it lies `after` past a moment between `before` and now.
    fn assert_deadline(a: &Activity, before: Instant, after: Duration, kind: Closed) {
        let (at, why) = a.deadline(T).expect("a deadline");
        assert_eq!(why, kind);
        assert!(at >= before + after && at <= Instant::now() + after, "{at:?}");
    }

    #[test]
    fn deadlines_follow_what_the_connection_is_doing() {
        let before = Instant::now();
        let a = Activity::new();
        // Opened, nothing sent yet: the header-read timeout.
        assert_deadline(&a, before, T.header_read, Closed::HeaderTimeout);
        // A request in flight (its body arriving meanwhile): no deadline.
        let request = a.begin_request();
        a.bytes_arrived();
        assert_eq!(a.deadline(T), None);
        // Answered: idle, the keep-alive timeout.
        let before = Instant::now();
        drop(request);
        assert_deadline(&a, before, T.keep_alive, Closed::KeepAliveTimeout);
        // The next request's first byte: its head is due within the header-read timeout.
        let before = Instant::now();
        a.bytes_arrived();
        assert_deadline(&a, before, T.header_read, Closed::HeaderTimeout);
        // Later bytes of the same head do not move that deadline.
        let (first, _) = a.deadline(T).unwrap();
        a.bytes_arrived();
        assert_eq!(a.deadline(T).unwrap().0, first);
        assert!(a.is_idle());
    }
}
