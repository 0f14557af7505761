//! The background workers: each repeats a step function until it finds nothing to do, then waits for a nudge
//! (a commit that queued work) or the poll interval, and stops when the server stops. Correctness does not depend
//! on them running in only one process: every step claims its work in the database. Each runs under the
//! [`supervisor`](crate::supervisor): a worker that panics is started again, and `/ready` says so while it is down.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::payments::worker;
use crate::store::StoreResult;

const POLL: Duration = Duration::from_secs(1);

/// Starts every worker; they stop when `stop` is cancelled.
pub fn spawn_all(state: &AppState, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
    vec![
        spawn("credit", state, stop, |s| async move { worker::credit_step(&s).await }),
        spawn("reconcile", state, stop, |s| async move { worker::reconcile_step(&s).await }),
        spawn("refund-cancel", state, stop, |s| async move { worker::cancel_step(&s).await }),
        spawn("compensate", state, stop, |s| async move { worker::compensate_step(&s).await }),
        spawn("challenges", state, stop, |s| async move { crate::challenges::scheduler::step(&s).await }),
        spawn("reminders", state, stop, |s| async move { crate::challenges::scheduler::reminder_step(&s).await }),
        spawn("push", state, stop, |s| async move { crate::push::deliver_step(&s).await }),
        spawn("push-metrics", state, stop, |s| async move { crate::push::record_queue_metrics(&s).await }),
        spawn("outbox-metrics", state, stop, |s| async move { record_depth(&s).await }),
        spawn_collector(state, stop),
    ]
}

/// The collector of photos nothing refers to; its sweep's place is kept from one pass to the next.
fn spawn_collector(state: &AppState, stop: &CancellationToken) -> JoinHandle<()> {
    let collector = Arc::new(crate::uploads::Collector::default());
    spawn("files", state, stop, move |s| {
        let collector = Arc::clone(&collector);
        async move { crate::uploads::collect_step(&s, &collector).await }
    })
}

fn spawn<F, Fut>(name: &'static str, state: &AppState, stop: &CancellationToken, step: F) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StoreResult<usize>> + Send + 'static,
{
    let step = Arc::new(step);
    let (state, stop_all) = (state.clone(), stop.clone());
    crate::supervisor::supervise(name, &state.workers.clone(), stop, move || {
        run(name, state.clone(), stop_all.clone(), step.clone())
    })
}

/// One worker's loop: steps while there is work, then waits for a nudge, the poll interval or the stop.
async fn run<F, Fut>(name: &'static str, state: AppState, stop: CancellationToken, step: Arc<F>)
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StoreResult<usize>> + Send + 'static,
{
    loop {
        if stop.is_cancelled() {
            break;
        }
        let wake = state.wake.notified();
        state.workers.panic_if_injected(name);
        let worked = match step(state.clone()).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(worker = name, error = %e, "worker step failed");
                0
            }
        };
        if worked == 0 {
            tokio::select! {
                () = wake => {}
                () = tokio::time::sleep(POLL) => {}
                () = stop.cancelled() => break,
            }
        }
    }
    tracing::debug!(worker = name, "stopped");
}

/// Publishes the outbox depth per kind (a gauge for alerting on work piling up).
async fn record_depth(state: &AppState) -> StoreResult<usize> {
    let mut tx = state.db.begin_read().await?;
    for (kind, n) in crate::store::outbox::depth(&mut tx).await? {
        metrics::gauge!("outbox_pending", "kind" => kind).set(n as f64);
    }
    Ok(0)
}
