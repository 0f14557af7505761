//! The Tauri 2 shell (feature `shell`): one window showing the web UI, the commands it calls, a background sync
//! loop, and desktop notifications for new inbox items. Desktop and mobile share this entry point.

mod background;
mod commands;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::Manager;
use tokio::sync::Notify;

use crate::bridge::Bridge;
use crate::engine::{Engine, TokenPolicy};

/// What every command reaches through Tauri's state.
pub struct Shell {
    pub engine: Engine,
    pub bridge: Bridge,
    /// Wakes the background loop at once (an action was queued, the person asked to sync).
    pub wake: Notify,
}

impl Shell {
    fn new(engine: Engine) -> Shell {
        Shell { bridge: Bridge::new(engine.clone()), engine, wake: Notify::new() }
    }
}

/// Starts the app.
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let dir = data_dir(app.handle())?;
            tracing::info!(dir = %dir.display(), "app data");
            let engine = Engine::open(&dir, TokenPolicy::KeyringOrFile)?;
            let shell = Arc::new(Shell::new(engine));
            app.manage(Arc::clone(&shell));
            background::start(app.handle().clone(), shell);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::api_call,
            commands::session,
            commands::sign_in,
            commands::sign_up,
            commands::sign_out,
            commands::sync,
            commands::challenges,
            commands::challenge,
            commands::progress,
            commands::wallet,
            commands::wallet_entries,
            commands::notifications,
            commands::join,
            commands::leave,
            commands::proof,
            commands::pending_intents,
            commands::rejected_intents,
            commands::proofs_near_deadline,
            commands::dismiss_rejected,
            commands::settings,
            commands::set_server_url,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("nene-app: {e}");
        std::process::exit(1);
    }
}

/// The app's data folder: `NENE_APP_DATA_DIR` when set (tests, several profiles), else the platform's.
fn data_dir(app: &tauri::AppHandle) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(dir) = std::env::var_os("NENE_APP_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}
