//! The background loop: syncs at a steady pace while things work, backs off after failures, wakes at once when an
//! action is queued, tells the window what changed (`nene://synced`), shows new inbox items as desktop
//! notifications, and warns once when a queued proof may miss the end of its day.

use std::collections::HashSet;
use std::sync::Arc;

use tauri::{AppHandle, Emitter};
use tauri_plugin_notification::NotificationExt;

use super::Shell;

/// The event the window gets after a sync changed the cache (payload: the sync's summary, when there is one).
pub const SYNCED: &str = "nene://synced";
/// The event the window gets when a sync failed (payload: why).
pub const SYNC_FAILED: &str = "nene://sync-failed";

/// How close to midnight (in the challenge's time zone) a still-queued proof gets a warning.
const DEADLINE_WARNING_MINUTES: i64 = 60;

/// Above this many new items at once (the first sync on a new device, say), one summary instead of a flood.
const MAX_SINGLE_NOTIFICATIONS: usize = 3;

pub fn start(app: AppHandle, shell: Arc<Shell>) {
    tauri::async_runtime::spawn(async move {
        let mut warned = HashSet::new();
        loop {
            if matches!(shell.engine.signed_in().await, Ok(Some(_))) {
                match shell.engine.sync().await {
                    Ok(summary) => {
                        let _ = app.emit(SYNCED, &summary);
                    }
                    Err(e) => {
                        tracing::info!(error = %e, failures = shell.engine.consecutive_failures(), "sync failed");
                        let _ = app.emit(SYNC_FAILED, e.to_string());
                    }
                }
                announce(&app, &shell);
                warn_of_deadlines(&app, &shell, &mut warned);
            }
            tokio::select! {
                () = tokio::time::sleep(shell.engine.next_sync_delay()) => {}
                () = shell.wake.notified() => {}
            }
        }
    });
}

fn announce(app: &AppHandle, shell: &Shell) {
    let new = match shell.engine.take_new_notifications() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read new notifications");
            return;
        }
    };
    let shown = if new.len() > MAX_SINGLE_NOTIFICATIONS {
        app.notification().builder().title("NeNe Challenge").body(format!("{} new notifications", new.len())).show()
    } else {
        new.iter().try_for_each(|n| app.notification().builder().title(&n.title).body(&n.body).show())
    };
    if let Err(e) = shown {
        tracing::info!(error = %e, "desktop notification not shown");
    }
}

fn warn_of_deadlines(app: &AppHandle, shell: &Shell, warned: &mut HashSet<String>) {
    let Ok(at_risk) = shell.engine.proofs_near_deadline(chrono::Duration::minutes(DEADLINE_WARNING_MINUTES)) else {
        return;
    };
    for intent in at_risk {
        if warned.insert(intent.id) {
            let shown = app
                .notification()
                .builder()
                .title("NeNe Challenge")
                .body("Today's proof is still waiting to be sent. Connect before midnight so it counts for today.")
                .show();
            if let Err(e) = shown {
                tracing::info!(error = %e, "deadline warning not shown");
            }
        }
    }
}
