//! The commands the window calls (`window.__TAURI__.core.invoke(name, args)`; arguments in camelCase). Reads answer
//! from the offline cache; actions are queued in the outbox and the background loop is woken to send them. Errors
//! come back as `{code, message}` with the API's stable codes.

use std::sync::Arc;

use nene_shared::ErrorCode;
use nene_shared::challenges::{ChallengeId, Progress};
use nene_shared::ledger::WalletEntry;
use nene_shared::sync::SyncedNotification;
use nene_shared::users::Me;
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use super::Shell;
use crate::bridge::{WireAnswer, WireCall};
use crate::cache::{CachedChallenge, OutboxIntent, WalletView};
use crate::engine::SyncSummary;
use crate::error::AppError;

type Shared<'a> = State<'a, Arc<Shell>>;

/// What a failed command answers.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<AppError> for CommandError {
    fn from(e: AppError) -> CommandError {
        CommandError { code: e.code(), message: e.to_string() }
    }
}

impl From<crate::cache::CacheError> for CommandError {
    fn from(e: crate::cache::CacheError) -> CommandError {
        AppError::from(e).into()
    }
}

type Answer<T> = Result<T, CommandError>;

fn challenge_id(s: &str) -> Answer<ChallengeId> {
    s.parse().map_err(|_| CommandError { code: ErrorCode::NotFound, message: "There is no such challenge.".into() })
}

/// The web UI's bridge: one API call answered like the server would (see `bridge`).
#[tauri::command]
pub async fn api_call(shell: Shared<'_>, call: WireCall) -> Answer<WireAnswer> {
    let answer = shell.bridge.handle(call).await;
    shell.wake.notify_one();
    Ok(answer)
}

/// The signed-in person, or none.
#[tauri::command]
pub async fn session(shell: Shared<'_>) -> Answer<Option<Me>> {
    Ok(shell.engine.signed_in().await?)
}

#[tauri::command]
pub async fn sign_in(app: AppHandle, shell: Shared<'_>, email: String, password: String) -> Answer<Me> {
    let me = shell.engine.sign_in(&email, &password).await?;
    shell.bridge.settle_after_sign_in().await;
    let _ = app.emit(super::background::SYNCED, ());
    Ok(me)
}

#[tauri::command]
pub async fn sign_up(
    app: AppHandle,
    shell: Shared<'_>,
    email: String,
    password: String,
    nickname: String,
) -> Answer<Me> {
    let me = shell.engine.sign_up(&email, &password, &nickname).await?;
    shell.bridge.settle_after_sign_in().await;
    let _ = app.emit(super::background::SYNCED, ());
    Ok(me)
}

#[tauri::command]
pub async fn sign_out(shell: Shared<'_>) -> Answer<()> {
    Ok(shell.engine.sign_out().await?)
}

/// Push, then pull, now.
#[tauri::command]
pub async fn sync(app: AppHandle, shell: Shared<'_>) -> Answer<SyncSummary> {
    let summary = shell.engine.sync().await?;
    let _ = app.emit(super::background::SYNCED, &summary);
    Ok(summary)
}

/// The challenges the person takes part in, from the cache.
#[tauri::command]
pub fn challenges(shell: Shared<'_>) -> Answer<Vec<CachedChallenge>> {
    Ok(shell.engine.cache().challenges()?)
}

#[tauri::command]
pub fn challenge(shell: Shared<'_>, id: String) -> Answer<Option<CachedChallenge>> {
    Ok(shell.engine.cache().challenge(challenge_id(&id)?)?)
}

#[tauri::command]
pub fn progress(shell: Shared<'_>, id: String) -> Answer<Option<Progress>> {
    Ok(shell.engine.cache().challenge(challenge_id(&id)?)?.map(|c| c.snapshot.progress))
}

#[tauri::command]
pub fn wallet(shell: Shared<'_>) -> Answer<Option<WalletView>> {
    Ok(shell.engine.cache().wallet()?)
}

/// History, newest first; `before` is the last `seq` of the previous page.
#[tauri::command]
pub fn wallet_entries(shell: Shared<'_>, before: Option<i64>, limit: Option<u32>) -> Answer<Vec<WalletEntry>> {
    Ok(shell.engine.cache().wallet_entries(before, limit.unwrap_or(20).clamp(1, 100))?)
}

#[tauri::command]
pub fn notifications(shell: Shared<'_>, before: Option<i64>, limit: Option<u32>) -> Answer<Vec<SyncedNotification>> {
    Ok(shell.engine.cache().notifications(before, limit.unwrap_or(20).clamp(1, 100))?)
}

#[tauri::command]
pub fn join(shell: Shared<'_>, challenge_id: String) -> Answer<OutboxIntent> {
    let intent = shell.engine.join(self::challenge_id(&challenge_id)?)?;
    shell.wake.notify_one();
    Ok(intent)
}

#[tauri::command]
pub fn leave(shell: Shared<'_>, challenge_id: String) -> Answer<OutboxIntent> {
    let intent = shell.engine.leave(self::challenge_id(&challenge_id)?)?;
    shell.wake.notify_one();
    Ok(intent)
}

/// Today's proof: a note, a photo's bytes, or both.
#[tauri::command]
pub fn proof(
    shell: Shared<'_>,
    challenge_id: String,
    text: Option<String>,
    photo: Option<Vec<u8>>,
) -> Answer<OutboxIntent> {
    let intent = shell.engine.proof(self::challenge_id(&challenge_id)?, text, photo)?;
    shell.wake.notify_one();
    Ok(intent)
}

#[tauri::command]
pub fn pending_intents(shell: Shared<'_>) -> Answer<Vec<OutboxIntent>> {
    Ok(shell.engine.pending_intents()?)
}

#[tauri::command]
pub fn rejected_intents(shell: Shared<'_>) -> Answer<Vec<OutboxIntent>> {
    Ok(shell.engine.rejected_intents()?)
}

/// Proofs still queued while their challenge's day ends within `minutes` (default 60): worth a warning.
#[tauri::command]
pub fn proofs_near_deadline(shell: Shared<'_>, minutes: Option<i64>) -> Answer<Vec<OutboxIntent>> {
    Ok(shell.engine.proofs_near_deadline(chrono::Duration::minutes(minutes.unwrap_or(60)))?)
}

#[tauri::command]
pub fn dismiss_rejected(shell: Shared<'_>, id: String) -> Answer<bool> {
    Ok(shell.engine.dismiss_rejected(&id)?)
}

/// What the settings screen shows.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub server_url: String,
    /// Whether the address was chosen here (else it comes from `NENE_SERVER_URL` or the default).
    pub server_url_chosen: bool,
    /// `keyring` or `encrypted-file`.
    pub token_store: &'static str,
    pub device_id: String,
}

#[tauri::command]
pub fn settings(shell: Shared<'_>) -> Answer<Settings> {
    Ok(Settings {
        server_url: shell.engine.server_url()?,
        server_url_chosen: shell.engine.cache().server_url_setting()?.is_some(),
        token_store: shell.engine.token_store_kind(),
        device_id: shell.engine.device_id().to_owned(),
    })
}

/// Chooses the server address; none goes back to the default. Another server than before signs the person out
/// first (see `Engine::set_server_url`).
#[tauri::command]
pub async fn set_server_url(shell: Shared<'_>, url: Option<String>) -> Answer<Settings> {
    shell.engine.set_server_url(url.as_deref()).await?;
    shell.wake.notify_one();
    settings(shell)
}
