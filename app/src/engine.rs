//! The sync engine: the only writer of the offline cache. It queues the person's actions as intents, pushes them
//! (photos first, by content hash), records the server's answer for each, and pulls what changed, page by page.
//!
//! Guarantees, with the server's help: an intent is saved before it is first sent and keeps its id and body, so
//! however often a push is cut off and repeated the server applies it exactly once and answers it from its record
//! (a proof counting for the day the server first received it); a rejected intent keeps its reason and is never
//! sent again; "no answer", 5xx and "retry" leave intents pending for the next sync, which the background loop spaces
//! out with [`Engine::next_sync_delay`]; a pull's rows and cursor are saved together, so a pull resumes where it
//! stopped without gaps or duplicates.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nene_shared::challenges::{ChallengeId, limits};
use nene_shared::notifications::Notification;
use nene_shared::sync::{ChallengeIntent, IntentKind, ProofIntent, PushRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::Api;
use crate::backoff;
use crate::cache::{Cache, NewIntent, OutboxIntent, PullApplied};
use crate::error::{AppError, AppResult};
use crate::tokens::TokenStore;

/// Where the server is when nothing else says.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";
/// The server takes at most this many intents per push.
const INTENTS_PER_PUSH: usize = 100;
/// A pull stops after this many pages even if the server says there is more (the next sync goes on).
const MAX_PAGES_PER_PULL: usize = 1_000;
/// The largest photo the server takes.
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;
/// The background loop's interval while everything works.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(30);

/// Where the refresh token may be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPolicy {
    /// The OS keyring when one answers, else the encrypted file.
    KeyringOrFile,
    /// Only the encrypted file in the data folder.
    FileOnly,
}

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSummary {
    pub photos_uploaded: usize,
    pub applied: usize,
    pub rejected: usize,
    /// Left pending because the server asked to try again later.
    pub retry: usize,
}

/// What a sync (push, then pull) did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    pub push: PushSummary,
    pub pull: PullApplied,
}

/// The app's engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cache: Cache,
    pub(crate) tokens: TokenStore,
    pub(crate) device_id: String,
    pub(crate) data_dir: PathBuf,
    /// The access token, only ever in memory.
    pub(crate) access: tokio::sync::Mutex<Option<String>>,
    /// One push or pull at a time: two at once would send the same intents twice for one answer.
    sync_lock: tokio::sync::Mutex<()>,
    /// Consecutive failed syncs, for the back-off.
    failures: AtomicU32,
    /// The HTTP client for the current server address.
    api: Mutex<Option<Api>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("data_dir", &self.inner.data_dir).finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the engine on the app's data folder: the cache file and the token store live there.
    pub fn open(data_dir: &Path, policy: TokenPolicy) -> AppResult<Engine> {
        let cache = Cache::open(data_dir)?;
        let device_id = cache.device_id()?;
        let tokens = match policy {
            TokenPolicy::KeyringOrFile => TokenStore::open(data_dir, &device_id)?,
            TokenPolicy::FileOnly => TokenStore::encrypted_file(data_dir, &device_id)?,
        };
        tracing::info!(store = tokens.kind(), "refresh token store");
        Ok(Engine {
            inner: Arc::new(Inner {
                cache,
                tokens,
                device_id,
                data_dir: data_dir.to_owned(),
                access: tokio::sync::Mutex::new(None),
                sync_lock: tokio::sync::Mutex::new(()),
                failures: AtomicU32::new(0),
                api: Mutex::new(None),
            }),
        })
    }

    /// The cache, for reading. Everything the screens show comes from here.
    pub fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    pub fn device_id(&self) -> &str {
        &self.inner.device_id
    }

    /// `keyring` or `encrypted-file`.
    pub fn token_store_kind(&self) -> &'static str {
        self.inner.tokens.kind()
    }

    /// The server address: the one chosen in settings, else `NENE_SERVER_URL`, else [`DEFAULT_SERVER_URL`].
    pub fn server_url(&self) -> AppResult<String> {
        if let Some(url) = self.inner.cache.server_url_setting()? {
            return Ok(url);
        }
        Ok(default_server_url())
    }

    /// Chooses the server address (settings screen); `None` goes back to the default. An address that is not
    /// https (or plain http to this computer) is refused and nothing changes.
    ///
    /// Moving to another server signs out first: the session is told to the server it belongs to and forgotten,
    /// and with it everything the cache holds of the person, unsent actions included. Another server's people,
    /// challenges and wallet are not this server's, so keeping them would show one server's data as another's (and
    /// the queued actions name challenges the new server does not have). No sync runs meanwhile, so none can write
    /// the old server's answers into the emptied cache.
    pub async fn set_server_url(&self, url: Option<&str>) -> AppResult<()> {
        let chosen = match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Some(crate::api::normalise_base(u)?),
            None => None,
        };
        let _no_sync = self.inner.sync_lock.lock().await;
        let before = self.server_url()?;
        let after = chosen.clone().unwrap_or_else(default_server_url);
        if same_server(&before, &after) {
            self.inner.cache.set_server_url_setting(chosen.as_deref())?;
            return Ok(());
        }
        self.sign_out().await?;
        self.inner.cache.set_server_url_setting(chosen.as_deref())?;
        tracing::info!(server = %after, "server address changed; signed out of the previous one");
        Ok(())
    }

    /// The client for the current address (rebuilt when the address changed).
    pub(crate) fn api(&self) -> AppResult<Api> {
        let url = crate::api::normalise_base(&self.server_url()?)?;
        let mut slot = self.inner.api.lock().map_err(|_| AppError::Invalid("the HTTP client is unusable".into()))?;
        if let Some(api) = slot.as_ref().filter(|a| a.base() == url) {
            return Ok(api.clone());
        }
        let api = Api::new(&url)?;
        *slot = Some(api.clone());
        Ok(api)
    }

    /// Queues joining a challenge (its stake moves when the server applies it).
    pub fn join(&self, challenge: ChallengeId) -> AppResult<OutboxIntent> {
        self.queue(IntentKind::Join, challenge, serde_json::to_value(ChallengeIntent { challenge_id: challenge }), None)
    }

    /// Queues leaving a challenge (its stake comes back when the server applies it).
    pub fn leave(&self, challenge: ChallengeId) -> AppResult<OutboxIntent> {
        self.queue(
            IntentKind::Leave,
            challenge,
            serde_json::to_value(ChallengeIntent { challenge_id: challenge }),
            None,
        )
    }

    /// Queues today's proof: a note, a photo (JPEG, PNG or WebP bytes), or both. The server judges the day by when
    /// the proof reaches it, so a proof queued before midnight but sent after counts for the next day.
    pub fn proof(
        &self,
        challenge: ChallengeId,
        text: Option<String>,
        photo: Option<Vec<u8>>,
    ) -> AppResult<OutboxIntent> {
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let photo = photo.filter(|p| !p.is_empty());
        if text.is_none() && photo.is_none() {
            return Err(AppError::Invalid("A proof needs a note or a photo.".into()));
        }
        if text.as_ref().is_some_and(|t| t.chars().count() > limits::PROOF_TEXT_MAX) {
            return Err(AppError::Invalid(format!("A note is at most {} characters.", limits::PROOF_TEXT_MAX)));
        }
        if photo.as_ref().is_some_and(|p| p.len() > MAX_PHOTO_BYTES) {
            return Err(AppError::Invalid(format!("A photo is at most {} MB.", MAX_PHOTO_BYTES / 1024 / 1024)));
        }
        let photo = photo.map(|bytes| (hex_sha256(&bytes), bytes));
        let body =
            ProofIntent { challenge_id: challenge, text, photo_hash: photo.as_ref().map(|(hash, _)| hash.clone()) };
        self.queue(IntentKind::Proof, challenge, serde_json::to_value(body), photo)
    }

    fn queue(
        &self,
        kind: IntentKind,
        challenge_id: ChallengeId,
        body: Result<serde_json::Value, serde_json::Error>,
        photo: Option<(String, Vec<u8>)>,
    ) -> AppResult<OutboxIntent> {
        let body = body.map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok(self.inner.cache.queue(NewIntent { kind, body, challenge_id, photo })?)
    }

    /// Actions waiting for the server, oldest first.
    pub fn pending_intents(&self) -> AppResult<Vec<OutboxIntent>> {
        Ok(self.inner.cache.pending_intents()?)
    }

    /// Actions the server refused, newest first, with its reasons.
    pub fn rejected_intents(&self) -> AppResult<Vec<OutboxIntent>> {
        Ok(self.inner.cache.rejected_intents()?)
    }

    /// Proofs still waiting to be sent while their challenge's day ends within `within` (by the challenge's time
    /// zone). The server judges the day by when a proof reaches it, so the UI warns about these: sent after
    /// midnight, a proof counts for the next day.
    pub fn proofs_near_deadline(&self, within: chrono::Duration) -> AppResult<Vec<OutboxIntent>> {
        let now = chrono::Utc::now();
        let mut out = Vec::new();
        for intent in self.inner.cache.pending_intents()? {
            let Some(challenge) = intent.challenge_id.filter(|_| intent.kind == IntentKind::Proof) else { continue };
            let Some(cached) = self.inner.cache.challenge(challenge)? else { continue };
            let Ok(tz) = cached.snapshot.challenge.timezone.parse::<chrono_tz::Tz>() else { continue };
            if time_left_today(now, tz).is_some_and(|left| left <= within) {
                out.push(intent);
            }
        }
        Ok(out)
    }

    /// Clears a rejected action from the list once the person has read why.
    pub fn dismiss_rejected(&self, id: &str) -> AppResult<bool> {
        Ok(self.inner.cache.dismiss_rejected(id)?)
    }

    /// Inbox items that arrived since the last call (each is answered once), for desktop notifications.
    pub fn take_new_notifications(&self) -> AppResult<Vec<Notification>> {
        Ok(self.inner.cache.take_unannounced()?)
    }

    /// Push, then pull.
    pub async fn sync(&self) -> AppResult<SyncSummary> {
        let _one_at_a_time = self.inner.sync_lock.lock().await;
        let push = self.counted(self.push_unlocked()).await?;
        let pull = self.counted(self.pull_unlocked()).await?;
        Ok(SyncSummary { push, pull })
    }

    /// Uploads waiting photos, sends pending intents and records the answers, then pulls.
    pub async fn push(&self) -> AppResult<SyncSummary> {
        self.sync().await
    }

    /// Fetches everything that changed since the saved cursor.
    pub async fn pull(&self) -> AppResult<PullApplied> {
        let _one_at_a_time = self.inner.sync_lock.lock().await;
        self.counted(self.pull_unlocked()).await
    }

    /// How long the background loop should wait before the next sync: the steady interval, or a growing wait
    /// after failures.
    pub fn next_sync_delay(&self) -> Duration {
        backoff::delay(self.inner.failures.load(Ordering::Relaxed), SYNC_INTERVAL)
    }

    /// Consecutive failed syncs so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// Keeps the failure count for the back-off: a retryable failure (or a "retry" answer) counts, success resets.
    async fn counted<T: HasRetries>(&self, work: impl Future<Output = AppResult<T>>) -> AppResult<T> {
        let result = work.await;
        let failed = match &result {
            Ok(v) => v.retries() > 0,
            Err(e) => e.is_retryable(),
        };
        if failed {
            self.inner.failures.fetch_add(1, Ordering::Relaxed);
        } else if result.is_ok() {
            self.inner.failures.store(0, Ordering::Relaxed);
        }
        result
    }

    async fn push_unlocked(&self) -> AppResult<PushSummary> {
        let cache = &self.inner.cache;
        let mut summary = PushSummary::default();

        // Photos first: an intent naming a photo the server does not have yet would be refused.
        for photo in cache.photos_to_upload()? {
            let hash = photo.hash.clone();
            let bytes = photo.bytes;
            let uploaded = self
                .authed(move |api, access| {
                    let bytes = bytes.clone();
                    async move { api.upload_photo(&access, bytes).await }
                })
                .await;
            match uploaded {
                Ok(answer) if answer.hash == hash => {
                    cache.mark_photo_uploaded(&hash)?;
                    summary.photos_uploaded += 1;
                }
                Ok(answer) => {
                    return Err(AppError::Protocol(format!(
                        "the server stored the photo {hash} under another hash ({})",
                        answer.hash
                    )));
                }
                // The server will never take this photo: the proofs that need it cannot be applied.
                Err(AppError::Server { code, message, .. }) => {
                    summary.rejected += cache.reject_with_photo(&hash, code, &message)?;
                }
                Err(e) => {
                    let waiting: Vec<String> = cache.pending_intents()?.into_iter().map(|i| i.id).collect();
                    cache.note_failure(&waiting, &e.to_string())?;
                    return Err(e);
                }
            }
        }

        loop {
            let batch = cache.pending_batch(INTENTS_PER_PUSH)?;
            if batch.is_empty() {
                break;
            }
            let ids: Vec<String> = batch.iter().map(|i| i.id.clone()).collect();
            cache.mark_sending(&ids)?;
            let request = PushRequest { device_id: self.inner.device_id.clone(), intents: batch };
            let answer = self
                .authed(move |api, access| {
                    let request = request.clone();
                    async move { api.push(&access, &request).await }
                })
                .await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => {
                    cache.note_failure(&ids, &e.to_string())?;
                    return Err(e);
                }
            };
            let (applied, rejected, retry) = cache.record_results(&answer.results)?;
            summary.applied += applied;
            summary.rejected += rejected;
            summary.retry += retry;
            // Whatever is still pending waits for the next sync instead of being sent again at once.
            if applied + rejected < ids.len() {
                break;
            }
        }
        Ok(summary)
    }

    async fn pull_unlocked(&self) -> AppResult<PullApplied> {
        let cache = &self.inner.cache;
        let mut total = PullApplied::default();
        loop {
            let cursor = cache.cursor()?;
            let asked = cursor.clone();
            let page = self
                .authed(move |api, access| {
                    let cursor = asked.clone();
                    async move { api.pull(&access, cursor.as_deref()).await }
                })
                .await?;
            total.add(&cache.apply_pull(&page)?);
            if !page.more || total.pages >= MAX_PAGES_PER_PULL {
                break;
            }
            if cursor.as_deref() == Some(page.cursor.as_str()) {
                return Err(AppError::Protocol("the server has more to send but its cursor did not move".into()));
            }
        }
        Ok(total)
    }
}

/// Results that may carry "try again later" answers.
trait HasRetries {
    fn retries(&self) -> usize;
}

impl HasRetries for PushSummary {
    fn retries(&self) -> usize {
        self.retry
    }
}

impl HasRetries for PullApplied {
    fn retries(&self) -> usize {
        0
    }
}

/// `NENE_SERVER_URL`, else [`DEFAULT_SERVER_URL`].
fn default_server_url() -> String {
    std::env::var("NENE_SERVER_URL").ok().filter(|u| !u.trim().is_empty()).unwrap_or(DEFAULT_SERVER_URL.to_owned())
}

/// Whether two addresses name the same server, however they were written.
fn same_server(a: &str, b: &str) -> bool {
    match (crate::api::normalise_base(a), crate::api::normalise_base(b)) {
        (Ok(a), Ok(b)) => a.eq_ignore_ascii_case(&b),
        _ => a == b,
    }
}

/// How long until midnight in `tz`.
fn time_left_today(now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> Option<chrono::Duration> {
    use chrono::TimeZone;
    let local = now.with_timezone(&tz);
    let midnight = local.date_naive().succ_opt()?.and_hms_opt(0, 0, 0)?;
    let end = tz.from_local_datetime(&midnight).earliest()?;
    Some(end.with_timezone(&chrono::Utc) - now)
}

/// Lowercase hex SHA-256, as the server names photos.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_is_counted_to_midnight_in_the_challenges_zone() {
        use chrono::TimeZone;
        // 23:30 in Seoul is 14:30 UTC.
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).single().expect("time");
        assert_eq!(time_left_today(now, chrono_tz::Asia::Seoul), Some(chrono::Duration::minutes(30)));
        assert_eq!(
            time_left_today(now, chrono_tz::UTC),
            Some(chrono::Duration::hours(9) + chrono::Duration::minutes(30))
        );
    }

    #[test]
    fn photo_hashes_are_lowercase_hex_sha256() {
        assert_eq!(hex_sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(dir.path(), TokenPolicy::FileOnly).expect("engine opens");
        (dir, engine)
    }

    #[test]
    fn intents_are_saved_in_order_before_any_send_and_survive_a_restart() {
        let (dir, engine) = engine();
        let a = ChallengeId::new();
        let join = engine.join(a).expect("join");
        let proof = engine.proof(a, Some(" ran 5 km ".into()), Some(vec![1, 2, 3])).expect("proof");
        assert!(join.seq < proof.seq);
        assert!(join.id < proof.id, "ids are time-ordered");
        assert_eq!(proof.body["text"], "ran 5 km");
        assert_eq!(proof.photo_hash.as_deref(), Some(hex_sha256(&[1, 2, 3]).as_str()));
        drop(engine);

        let again = Engine::open(dir.path(), TokenPolicy::FileOnly).expect("engine reopens");
        let pending = again.pending_intents().expect("pending");
        assert_eq!(pending.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![join.id, proof.id]);
        assert!(pending.iter().all(|i| i.attempts == 0));
        assert!(again.cache().photo_waiting(&hex_sha256(&[1, 2, 3])).expect("photo"));
        // Numbers keep growing after a restart.
        assert!(again.leave(a).expect("leave").seq > proof.seq);
    }

    #[test]
    fn empty_or_oversized_proofs_are_refused_before_queueing() {
        let (_dir, engine) = engine();
        let c = ChallengeId::new();
        assert!(matches!(engine.proof(c, Some("   ".into()), None), Err(AppError::Invalid(_))));
        assert!(matches!(engine.proof(c, None, Some(Vec::new())), Err(AppError::Invalid(_))));
        let long = "가".repeat(limits::PROOF_TEXT_MAX + 1);
        assert!(matches!(engine.proof(c, Some(long), None), Err(AppError::Invalid(_))));
        assert!(engine.pending_intents().expect("pending").is_empty());
    }

    #[tokio::test]
    async fn the_server_address_comes_from_settings_first() {
        let (_dir, engine) = engine();
        engine.set_server_url(Some("https://nene.example/api/v1/")).await.expect("set");
        assert_eq!(engine.server_url().expect("url"), "https://nene.example");
        assert!(engine.set_server_url(Some("nonsense")).await.is_err());
        assert!(engine.set_server_url(Some("http://nene.example")).await.is_err());
        assert_eq!(engine.server_url().expect("url"), "https://nene.example", "a refused address changes nothing");
        engine.set_server_url(None).await.expect("reset");
        assert_ne!(engine.server_url().expect("url"), "https://nene.example");
    }
}
