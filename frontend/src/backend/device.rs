//! What only the desktop/mobile app has: its outbox of actions saved on the device (waiting to be sent, or refused
//! by the server with a reason the person should see) and its settings (the server's address). In a browser there
//! is no outbox: every action goes straight to the server.

use nene_shared::challenges::ChallengeId;
use nene_shared::sync::IntentKind;
use nene_shared::users::Me;
use nene_shared::{ErrorCode, Points};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{ApiError, Backend, Transport};

/// One action in the app's outbox, as the app reports it (`OutboxIntent` in `app/src/cache/outbox.rs`; the fields
/// the screens need).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct QueuedAction {
    pub id: String,
    pub kind: IntentKind,
    pub challenge_id: Option<ChallengeId>,
    /// Points it moves once applied (a join's stake is negative).
    pub amount: Option<Points>,
    /// Why the server refused it (refused ones).
    pub code: Option<ErrorCode>,
    pub message: Option<String>,
    /// How many times sending it was tried.
    pub attempts: i64,
    pub created_at: i64,
}

/// The app's settings screen.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AppSettings {
    pub server_url: String,
    /// Chosen on this device (else from `NENE_SERVER_URL` or the default).
    pub server_url_chosen: bool,
    /// `keyring` or `encrypted-file`: where the sign-in is kept.
    pub token_store: String,
}

impl Backend {
    /// Inside the desktop/mobile app (which has an outbox and settings of its own).
    pub fn in_app(&self) -> bool {
        matches!(self.transport, Transport::Tauri(_))
    }

    async fn command<T: DeserializeOwned>(&self, name: &str, args: serde_json::Value) -> Result<T, ApiError> {
        let Transport::Tauri(app) = &self.transport else {
            return Err(ApiError::Network("only the app has this".into()));
        };
        let value = app.invoke(name, args).await?;
        serde_json::from_value(value).map_err(|e| ApiError::Decode(e.to_string()))
    }

    /// Actions saved on this device and not yet applied by the server; none in a browser.
    pub async fn waiting_actions(&self) -> Result<Vec<QueuedAction>, ApiError> {
        if !self.in_app() {
            return Ok(Vec::new());
        }
        self.command("pending_intents", serde_json::json!({})).await
    }

    /// Actions the server refused after they were saved offline, with its reason; none in a browser.
    pub async fn refused_actions(&self) -> Result<Vec<QueuedAction>, ApiError> {
        if !self.in_app() {
            return Ok(Vec::new());
        }
        self.command("rejected_intents", serde_json::json!({})).await
    }

    /// The person has read why an action was refused: stop showing it.
    pub async fn dismiss_refused(&self, id: &str) -> Result<bool, ApiError> {
        self.command("dismiss_rejected", serde_json::json!({ "id": id })).await
    }

    /// Sends what is waiting and fetches what changed, now.
    pub async fn sync_now(&self) -> Result<(), ApiError> {
        self.command::<serde_json::Value>("sync", serde_json::json!({})).await.map(|_| ())
    }

    pub async fn app_settings(&self) -> Result<AppSettings, ApiError> {
        self.command("settings", serde_json::json!({})).await
    }

    /// Chooses the server's address; `None` goes back to the default. Moving to another server signs the person
    /// out in the app, so the session is asked for again and the screens follow (back to signing in).
    pub async fn set_server_url(&self, url: Option<String>) -> Result<AppSettings, ApiError> {
        let settings = self.command("set_server_url", serde_json::json!({ "url": url })).await?;
        let me: Option<Me> = self.command("session", serde_json::json!({})).await?;
        if me.is_none() {
            self.session_changed(None);
        }
        Ok(settings)
    }
}
