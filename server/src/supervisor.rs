//! Keeps the background workers running: each runs as a task of its own, and one that panics is logged, counted
//! (`worker_restarts_total{worker}`) and started again after a backoff that grows while it keeps failing. A registry
//! of which workers are running now lets `/ready` name any that is down.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The first wait before a restart; it doubles with each panic in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait before a restart. A worker that ran this long before it panicked starts over from
/// [`FIRST_BACKOFF`]: it was healthy in between.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Which supervised workers are running. Clones share one registry.
#[derive(Clone, Default)]
pub struct Workers {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Each supervised worker and whether it is running now.
    running: Mutex<BTreeMap<&'static str, bool>>,
    /// Workers whose every step panics until cleared: the way tests make a worker fail. Nothing sets it otherwise.
    injected_panics: Mutex<BTreeSet<String>>,
}

impl Workers {
    fn set(&self, name: &'static str, running: bool) {
        self.inner.running.lock().unwrap_or_else(PoisonError::into_inner).insert(name, running);
    }

    /// The supervised workers that are not running now (waiting to be restarted), by name.
    pub fn down(&self) -> Vec<&'static str> {
        let running = self.inner.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.iter().filter(|(_, up)| !**up).map(|(name, _)| *name).collect()
    }

    /// Test hook: while on, every step of `worker` panics.
    #[doc(hidden)]
    pub fn inject_panic(&self, worker: &str, on: bool) {
        let mut names = self.inner.injected_panics.lock().unwrap_or_else(PoisonError::into_inner);
        if on {
            names.insert(worker.to_owned());
        } else {
            names.remove(worker);
        }
    }

    /// Called by a worker before each step; panics when a test asked for it.
    pub fn panic_if_injected(&self, worker: &str) {
        let injected = self.inner.injected_panics.lock().unwrap_or_else(PoisonError::into_inner).contains(worker);
        if injected {
            panic!("panic injected into worker {worker}");
        }
    }
}

/// Runs the future `start` makes as worker `name`, and starts a new one whenever it panics, until one ends by itself
/// or `stop` is cancelled.
pub fn supervise<F, Fut>(
    name: &'static str,
    workers: &Workers,
    stop: &CancellationToken,
    mut start: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let workers = workers.clone();
    let stop = stop.clone();
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            workers.set(name, true);
            let started = Instant::now();
            let mut run = tokio::spawn(start());
            let ended = tokio::select! {
                ended = &mut run => ended,
                () = stop.cancelled() => {
                    // Workers watch `stop` themselves and finish their step; wait for that.
                    let _ = run.await;
                    break;
                }
            };
            match ended {
                Ok(()) => break,
                Err(e) if e.is_panic() => {
                    workers.set(name, false);
                    metrics::counter!("worker_restarts_total", "worker" => name).increment(1);
                    if started.elapsed() >= MAX_BACKOFF {
                        backoff = FIRST_BACKOFF;
                    }
                    let payload = e.into_panic();
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(worker = name, panic = %message, restart_in_ms = backoff.as_millis() as u64, "worker panicked; restarting");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stop.cancelled() => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(_) => break,
            }
        }
        workers.set(name, true);
        tracing::debug!(worker = name, "supervision ended");
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_worker_is_down_then_restarted() {
        let workers = Workers::default();
        let stop = CancellationToken::new();
        let starts = Arc::new(AtomicUsize::new(0));
        let (finish, mut finished) = tokio::sync::mpsc::channel::<()>(1);
        let counted = starts.clone();
        let task = supervise("flaky", &workers, &stop, move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let finish = finish.clone();
            async move {
                if n == 0 {
                    panic!("first run fails");
                }
                let _ = finish.send(()).await;
            }
        });
        finished.recv().await.expect("the second run ran");
        task.await.expect("supervisor ends when the worker ends by itself");
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        assert!(workers.down().is_empty());
    }

    #[test]
    fn injected_panics_are_named_and_cleared() {
        let workers = Workers::default();
        workers.inject_panic("credit", true);
        assert!(std::panic::catch_unwind(|| workers.panic_if_injected("credit")).is_err());
        workers.panic_if_injected("push");
        workers.inject_panic("credit", false);
        workers.panic_if_injected("credit");
    }
}
