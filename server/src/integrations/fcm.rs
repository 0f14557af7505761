//! The Firebase Cloud Messaging client (HTTP v1): push notifications to the app on Android, iOS and the web.
//!
//! Push is best effort but tokens are not: a token FCM calls dead must be deleted, and one that only met a bad
//! moment must be kept and retried. So every send ends in one [`SendOutcome`] telling the caller exactly that, and
//! nothing is retried here except the one case only this client can fix (an access token FCM no longer accepts).
//! The client signs its own OAuth assertions with the service account's key and caches the access token.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

/// Where `messages:send` lives in production.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";

/// Google's OAuth token endpoint, for service accounts whose file names none.
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// The one scope sending needs; asking for no more keeps a leaked access token from doing anything else.
const MESSAGING_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Google refuses assertions that live longer than an hour.
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// Access tokens are replaced this long before they expire, so none expires between being read and reaching FCM.
const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// What Google documents when a token answer leaves `expires_in` out.
const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3600;

/// The longest an access token is kept, whatever the token endpoint says.
const MAX_TOKEN_LIFETIME_SECS: u64 = 12 * 3600;

/// FCM refuses messages whose payload is larger than this.
const MAX_PAYLOAD_BYTES: usize = 4096;

/// Appended to a body cut to fit, so the reader sees there was more.
const TRUNCATION_MARK: &str = "…";

/// A connection that cannot be opened in this time is not going to be; waiting longer only delays the retry.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `@type` of the detail that carries FCM's own error code.
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// Android shows notifications through a channel the app creates at start-up; this is its id.
const ANDROID_CHANNEL_ID: &str = "nene";

#[derive(Debug, thiserror::Error)]
pub enum FcmError {
    #[error("reading the service account file {path}: {source}")]
    ReadAccount { path: PathBuf, source: std::io::Error },
    /// The text is not a service account: the message says which field, never the key.
    #[error("the service account JSON cannot be used: {0}")]
    Account(String),
    /// The client could not be built, so nothing can be sent.
    #[error("the FCM client is misconfigured: {0}")]
    Config(String),
}

/// The parts of a Google service-account JSON file the client needs; the rest of the file is ignored.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    /// PEM (PKCS#8, as Google issues it, or PKCS#1).
    pub private_key: String,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key", &"<redacted>")
            .field("token_uri", &self.token_uri)
            .finish()
    }
}

impl ServiceAccount {
    /// Reads the JSON file downloaded from the Firebase console (Project settings → Service accounts).
    pub fn from_file(path: &Path) -> Result<Self, FcmError> {
        let json =
            std::fs::read_to_string(path).map_err(|source| FcmError::ReadAccount { path: path.to_owned(), source })?;
        Self::from_json(&json)
    }

    pub fn from_json(json: &str) -> Result<Self, FcmError> {
        // serde_json's messages name the field and position but never echo a string value, so the key stays out
        // of the error.
        let account: ServiceAccount = serde_json::from_str(json).map_err(|e| FcmError::Account(e.to_string()))?;
        for (field, value) in [
            ("project_id", &account.project_id),
            ("client_email", &account.client_email),
            ("private_key", &account.private_key),
        ] {
            if value.trim().is_empty() {
                return Err(FcmError::Account(format!("{field} is empty")));
            }
        }
        Ok(account)
    }

    /// The token endpoint to sign assertions for: the file's own, or Google's.
    pub fn token_url(&self) -> &str {
        self.token_uri.as_deref().filter(|uri| !uri.is_empty()).unwrap_or(DEFAULT_TOKEN_URL)
    }
}

/// One notification to one device.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The device's registration token.
    pub token: String,
    pub title: String,
    /// Cut to fit (with a trailing "…") when the whole message would exceed FCM's 4096-byte limit.
    pub body: String,
    /// Read by the app when the notification is opened; keys and values are strings on the wire.
    pub data: BTreeMap<String, String>,
    /// Messages with the same key replace each other on a device that was offline, instead of piling up.
    pub collapse_key: Option<String>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("token", &token_prefix(&self.token))
            .field("title", &self.title)
            .field("body", &self.body)
            .field("data", &self.data)
            .field("collapse_key", &self.collapse_key)
            .finish()
    }
}

/// What became of a send, sorted by what the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// FCM accepted the message; `name` is its id (`projects/…/messages/…`).
    Delivered { name: String },
    /// The device token will never work again (app uninstalled, token from another project, malformed token):
    /// delete it, do not retry.
    DeadToken { reason: String },
    /// FCM or the way to it failed for now (overload, outage, timeout, lost connection, no access token). Retry
    /// with backoff, not before `retry_after` when FCM gave one.
    RetryLater { retry_after: Option<Duration>, reason: String },
    /// FCM refused this message for a reason that will not change: a bug or misconfiguration on our side. Do not
    /// retry.
    Rejected { reason: String },
}

impl SendOutcome {
    fn label(&self) -> &'static str {
        match self {
            SendOutcome::Delivered { .. } => "delivered",
            SendOutcome::DeadToken { .. } => "dead_token",
            SendOutcome::RetryLater { .. } => "retry_later",
            SendOutcome::Rejected { .. } => "rejected",
        }
    }

    fn retry(reason: impl Into<String>) -> Self {
        SendOutcome::RetryLater { retry_after: None, reason: reason.into() }
    }
}

/// The message as `messages:send` takes it. Android, APNs and web push each need their own "show this now" hints.
#[derive(Serialize)]
struct SendRequest<'a> {
    message: WireMessage<'a>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    token: &'a str,
    notification: WireNotification<'a>,
    #[serde(skip_serializing_if = "no_data")]
    data: &'a BTreeMap<String, String>,
    android: AndroidConfig<'a>,
    apns: ApnsConfig<'a>,
    webpush: WebpushConfig<'a>,
}

fn no_data(data: &&BTreeMap<String, String>) -> bool {
    data.is_empty()
}

#[derive(Serialize)]
struct WireNotification<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Serialize)]
struct AndroidConfig<'a> {
    priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    collapse_key: Option<&'a str>,
    notification: AndroidNotification,
}

#[derive(Serialize)]
struct AndroidNotification {
    channel_id: &'static str,
}

#[derive(Serialize)]
struct ApnsConfig<'a> {
    headers: ApnsHeaders<'a>,
    payload: ApnsPayload,
}

#[derive(Serialize)]
struct ApnsHeaders<'a> {
    #[serde(rename = "apns-priority")]
    priority: &'static str,
    #[serde(rename = "apns-collapse-id", skip_serializing_if = "Option::is_none")]
    collapse_id: Option<&'a str>,
}

#[derive(Serialize)]
struct ApnsPayload {
    aps: Aps,
}

#[derive(Serialize)]
struct Aps {
    sound: &'static str,
}

#[derive(Serialize)]
struct WebpushConfig<'a> {
    headers: WebpushHeaders<'a>,
}

#[derive(Serialize)]
struct WebpushHeaders<'a> {
    #[serde(rename = "Urgency")]
    urgency: &'static str,
    #[serde(rename = "Topic", skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
}

/// FCM's answer to a send.
#[derive(Deserialize)]
struct SendAnswer {
    name: String,
}

/// Google's error body, shared by all its APIs; FCM adds its own code in `details`.
#[derive(Deserialize)]
struct ErrorBody {
    error: GoogleError,
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "@type", default)]
    kind: String,
    #[serde(rename = "errorCode", default)]
    error_code: Option<String>,
}

/// The claims of the assertion exchanged for an access token.
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

/// The OAuth error body (RFC 6749 §5.2).
#[derive(Deserialize)]
struct TokenErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// An access token ready to send, with the number of the fetch that produced it so that a 401 drops only that one.
#[derive(Clone)]
struct AccessToken {
    /// `Bearer …`, marked sensitive so it never shows in debug output.
    header: HeaderValue,
    refresh_at: Instant,
    fetch: u64,
}

#[derive(Default)]
struct TokenCache {
    current: Option<AccessToken>,
    /// Fetches finished so far, successful or not.
    fetches: u64,
    /// Why the last fetch failed, handed to the senders that waited for it instead of each trying again.
    last_error: Option<String>,
}

pub struct FcmClient {
    http: reqwest::Client,
    send_url: Url,
    token_url: Url,
    /// The assertion's `aud`: the token URL exactly as configured, since Google compares the strings.
    audience: String,
    client_email: String,
    project_id: String,
    key: EncodingKey,
    /// Only read and written briefly, never across an await.
    cache: Mutex<TokenCache>,
    /// Held for the whole of a token fetch, so concurrent senders wait for one fetch instead of each starting one.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for FcmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmClient")
            .field("send_url", &self.send_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl FcmClient {
    /// `base_url` is where `messages:send` lives ([`DEFAULT_BASE_URL`] in production, possibly with a path prefix
    /// for the sandbox); `token_url` is the OAuth token endpoint ([`ServiceAccount::token_url`] in production).
    /// `timeout` bounds each whole request, token fetches included.
    pub fn new(account: ServiceAccount, base_url: &str, token_url: &str, timeout: Duration) -> Result<Self, FcmError> {
        if account.project_id.trim().is_empty() || account.client_email.trim().is_empty() {
            return Err(FcmError::Config("the service account has no project_id or client_email".into()));
        }
        let mut send_url = http_url("base URL", base_url)?;
        if let Ok(mut segments) = send_url.path_segments_mut() {
            // `path_segments_mut` percent-encodes each segment, so an odd project id cannot address another path.
            segments.pop_if_empty().extend(["v1", "projects", &account.project_id, "messages:send"]);
        }
        let token_url_parsed = http_url("token URL", token_url)?;
        if timeout.is_zero() {
            return Err(FcmError::Config("the timeout is zero".into()));
        }
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| FcmError::Config(format!("the private key is not an RSA key in PEM: {e}")))?;
        // Reading the PEM does not check the key itself; signing does. Better to learn it at start-up than at the
        // first notification.
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &serde_json::json!({}), &key)
            .map_err(|e| FcmError::Config(format!("the private key cannot sign: {e}")))?;

        // reqwest is built without a default crypto provider so that the whole process shares aws-lc-rs.
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // Google never redirects these; following one would turn a POST into a GET somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FcmError::Config(format!("building the HTTP client: {}", error_chain(&e))))?;
        Ok(FcmClient {
            http,
            send_url,
            token_url: token_url_parsed,
            audience: token_url.to_owned(),
            client_email: account.client_email,
            project_id: account.project_id,
            key,
            cache: Mutex::new(TokenCache::default()),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// Sends one notification. Never panics and never fails as such: every way it can go is a [`SendOutcome`].
    pub async fn send(&self, message: &Message) -> SendOutcome {
        let started = Instant::now();
        let (outcome, status) = self.deliver(message).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let device = token_prefix(&message.token);
        let status = status.map(|s| s.as_u16());
        let outcome_label = outcome.label();
        match &outcome {
            // Delivery is the common case by far; at info it would drown everything else when a batch goes out.
            SendOutcome::Delivered { name } => {
                tracing::debug!(outcome = outcome_label, ?status, elapsed_ms, device, name, "FCM send")
            }
            SendOutcome::DeadToken { reason } => {
                tracing::info!(outcome = outcome_label, ?status, elapsed_ms, device, reason, "FCM send")
            }
            SendOutcome::RetryLater { retry_after, reason } => tracing::warn!(
                outcome = outcome_label,
                ?status,
                elapsed_ms,
                device,
                reason,
                retry_after_secs = retry_after.map(|d| d.as_secs()),
                "FCM send"
            ),
            SendOutcome::Rejected { reason } => {
                tracing::error!(outcome = outcome_label, ?status, elapsed_ms, device, reason, "FCM send")
            }
        }
        outcome
    }

    async fn deliver(&self, message: &Message) -> (SendOutcome, Option<StatusCode>) {
        let payload = match encode(message) {
            Ok(Encoded { bytes, truncated }) => {
                if truncated {
                    tracing::debug!(device = token_prefix(&message.token), "FCM message body cut to fit 4096 bytes");
                }
                bytes
            }
            Err(reason) => return (SendOutcome::Rejected { reason }, None),
        };
        let token = match self.access_token().await {
            Ok(token) => token,
            Err(reason) => return (SendOutcome::retry(format!("no access token: {reason}")), None),
        };
        let answer = self.post(payload.clone(), &token).await;
        if !answer.token_refused {
            return (answer.outcome, answer.status);
        }
        // The access token was revoked or expired early. Only this client can fix that, and once is enough: a
        // fresh token refused again is a configuration problem, classified like any other refusal.
        self.forget(&token);
        let token = match self.access_token().await {
            Ok(token) => token,
            Err(reason) => return (SendOutcome::retry(format!("no access token after a 401: {reason}")), None),
        };
        let answer = self.post(payload, &token).await;
        (answer.outcome, answer.status)
    }

    async fn post(&self, payload: Vec<u8>, token: &AccessToken) -> Answer {
        let request = self
            .http
            .post(self.send_url.clone())
            .header(AUTHORIZATION, token.header.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(payload);
        let response = match request.send().await {
            Ok(response) => response,
            // Timeouts, refused or broken connections: FCM may or may not have it, and a duplicate notification is
            // a smaller harm than a lost one.
            Err(e) => return Answer::unanswered(SendOutcome::retry(format!("sending: {}", error_chain(&e)))),
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                let outcome = SendOutcome::retry(format!("HTTP {status}, reading the body: {}", error_chain(&e)));
                return Answer { outcome, status: Some(status), token_refused: false };
            }
        };
        classify(status, retry_after, &body)
    }

    /// A valid access token: the cached one, or one fetched now by this caller or by whoever was already fetching.
    async fn access_token(&self) -> Result<AccessToken, String> {
        let seen = {
            let cache = self.lock_cache();
            if let Some(token) = cache.current.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                return Ok(token.clone());
            }
            cache.fetches
        };
        let _refreshing = self.refresh.lock().await;
        {
            let cache = self.lock_cache();
            if let Some(token) = cache.current.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                return Ok(token.clone());
            }
            // A fetch finished while this caller waited and it failed: trying again at once would only repeat it
            // (and make every queued sender wait one more timeout).
            if cache.fetches != seen
                && let Some(error) = &cache.last_error
            {
                return Err(error.clone());
            }
        }
        let result = self.fetch_token().await;
        let mut cache = self.lock_cache();
        cache.fetches += 1;
        let fetch = cache.fetches;
        match result {
            Ok((header, lifetime)) => {
                let refresh_at = Instant::now() + lifetime.saturating_sub(TOKEN_REFRESH_MARGIN);
                let token = AccessToken { header, refresh_at, fetch };
                cache.current = Some(token.clone());
                cache.last_error = None;
                Ok(token)
            }
            Err(error) => {
                cache.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Drops `token` from the cache, unless another sender already replaced it.
    fn forget(&self, token: &AccessToken) {
        let mut cache = self.lock_cache();
        if cache.current.as_ref().is_some_and(|current| current.fetch == token.fetch) {
            cache.current = None;
        }
    }

    /// Exchanges a freshly signed assertion for an access token; returns the `Authorization` value and its lifetime.
    async fn fetch_token(&self) -> Result<(HeaderValue, Duration), String> {
        let started = Instant::now();
        let result = self.exchange_assertion().await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok((_, lifetime)) => {
                tracing::info!(elapsed_ms, expires_in_secs = lifetime.as_secs(), "FCM access token fetched")
            }
            Err(error) => tracing::error!(elapsed_ms, error, "FCM access token fetch failed"),
        }
        result
    }

    async fn exchange_assertion(&self) -> Result<(HeaderValue, Duration), String> {
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the system clock is before 1970".to_owned())?
            .as_secs();
        let claims = AssertionClaims {
            iss: &self.client_email,
            scope: MESSAGING_SCOPE,
            aud: &self.audience,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        let assertion = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| format!("signing the assertion: {e}"))?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER_GRANT)
            .append_pair("assertion", &assertion)
            .finish();
        let response = self
            .http
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"))
            .body(form)
            .send()
            .await
            .map_err(|e| format!("token endpoint: {}", error_chain(&e)))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| format!("token endpoint, HTTP {status}: {}", error_chain(&e)))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<TokenErrorBody>(&body) {
                Ok(TokenErrorBody { error, error_description }) => {
                    format!("token endpoint refused (HTTP {status} {error}): {error_description}")
                }
                Err(_) => format!("token endpoint answered HTTP {status}: {}", excerpt(&body)),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| format!("token endpoint answered HTTP {status} with an unreadable token: {e}"))?;
        if let Some(kind) = answer.token_type.as_deref().filter(|kind| !kind.eq_ignore_ascii_case("bearer")) {
            return Err(format!("token endpoint issued a {kind:?} token, not a Bearer one"));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
            .ok()
            .filter(|_| !answer.access_token.is_empty())
            .ok_or_else(|| "token endpoint issued an empty or unprintable access token".to_owned())?;
        header.set_sensitive(true);
        // Clamped so that an absurd `expires_in` can neither overflow the refresh time nor pin a token for days.
        let lifetime = answer.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS).min(MAX_TOKEN_LIFETIME_SECS);
        Ok((header, Duration::from_secs(lifetime)))
    }

    /// A panicking sender must not stop every other one, so a poisoned lock is used as is; each change to the
    /// cache is made whole before anything can panic.
    fn lock_cache(&self) -> MutexGuard<'_, TokenCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn http_url(what: &str, text: &str) -> Result<Url, FcmError> {
    let mut url = Url::parse(text).map_err(|e| FcmError::Config(format!("{what} {text:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(FcmError::Config(format!("{what} {text:?} is not an http(s) URL")));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// One send's answer, sorted.
struct Answer {
    outcome: SendOutcome,
    /// None when no answer arrived.
    status: Option<StatusCode>,
    /// FCM refused the access token itself (a 401 that is not about APNs or web push credentials).
    token_refused: bool,
}

impl Answer {
    fn unanswered(outcome: SendOutcome) -> Self {
        Answer { outcome, status: None, token_refused: false }
    }
}

struct Encoded {
    bytes: Vec<u8>,
    truncated: bool,
}

/// The request body for `message`, cut to fit FCM's limit.
///
/// FCM counts only part of the message against its 4096 bytes, but which part differs between platforms; keeping
/// the whole request body within the limit is stricter than any of them and simple to check. Only the body text is
/// cut: the title is short, and the data is small in our use and must reach the app whole, so a message still too
/// big without its body is refused rather than sent broken.
fn encode(message: &Message) -> Result<Encoded, String> {
    let whole = encode_with_body(message, &message.body)?;
    if whole.len() <= MAX_PAYLOAD_BYTES {
        return Ok(Encoded { bytes: whole, truncated: false });
    }
    // JSON escaping makes the encoded size of a cut hard to predict, so search for the longest prefix (cut on a char
    // boundary) that fits. Only oversized messages pay for the dozen or so encodings this takes.
    let cuts: Vec<usize> = message.body.char_indices().map(|(i, _)| i).collect();
    let (mut fits, mut too_big) = (0, cuts.len());
    let mut best = None;
    while fits < too_big {
        let middle = fits + (too_big - fits) / 2;
        let body = format!("{}{TRUNCATION_MARK}", &message.body[..cuts[middle]]);
        let encoded = encode_with_body(message, &body)?;
        if encoded.len() <= MAX_PAYLOAD_BYTES {
            best = Some(encoded);
            fits = middle + 1;
        } else {
            too_big = middle;
        }
    }
    match best {
        Some(bytes) => Ok(Encoded { bytes, truncated: true }),
        None => Err(format!(
            "the message is over FCM's {MAX_PAYLOAD_BYTES}-byte limit even without its body ({} bytes with it)",
            whole.len()
        )),
    }
}

fn encode_with_body(message: &Message, body: &str) -> Result<Vec<u8>, String> {
    let collapse_key = message.collapse_key.as_deref().filter(|key| !key.is_empty());
    let request = SendRequest {
        message: WireMessage {
            token: &message.token,
            notification: WireNotification { title: &message.title, body },
            data: &message.data,
            android: AndroidConfig {
                priority: "high",
                collapse_key,
                notification: AndroidNotification { channel_id: ANDROID_CHANNEL_ID },
            },
            apns: ApnsConfig {
                // APNs refuses a collapse id over 64 bytes, and would refuse the whole notification with it.
                headers: ApnsHeaders { priority: "10", collapse_id: collapse_key.filter(|key| key.len() <= 64) },
                payload: ApnsPayload { aps: Aps { sound: "default" } },
            },
            webpush: WebpushConfig {
                // Web push topics are at most 32 characters of the URL-safe base64 alphabet; a key that is not
                // one simply does not collapse on the web.
                headers: WebpushHeaders { urgency: "high", topic: collapse_key.filter(|key| is_webpush_topic(key)) },
            },
        },
    };
    serde_json::to_vec(&request).map_err(|e| format!("encoding the message: {e}"))
}

fn is_webpush_topic(key: &str) -> bool {
    key.len() <= 32 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Sorts FCM's answer into an outcome: by FCM's own error code first, then by the general status, then by the HTTP
/// status alone.
fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let (outcome, code) = classify_body(status, retry_after, body);
    // FCM's THIRD_PARTY_AUTH_ERROR is a 401 about our APNs or web push credentials; a new access token would
    // change nothing.
    let token_refused = status == StatusCode::UNAUTHORIZED && code.as_deref() != Some("THIRD_PARTY_AUTH_ERROR");
    Answer { outcome, status: Some(status), token_refused }
}

/// The outcome, and FCM's error code when the answer had one.
fn classify_body(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> (SendOutcome, Option<String>) {
    if status.is_success() {
        let outcome = match serde_json::from_slice::<SendAnswer>(body) {
            Ok(SendAnswer { name }) => SendOutcome::Delivered { name },
            Err(_) => SendOutcome::retry(format!("HTTP {status} without a message name: {}", excerpt(body))),
        };
        return (outcome, None);
    }
    let retry = |reason: String| SendOutcome::RetryLater { retry_after, reason };
    let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) else {
        // Not Google's error body: a proxy or load balancer in between answered, and it may well answer
        // differently next time.
        return (retry(format!("HTTP {status} without an FCM error body: {}", excerpt(body))), None);
    };
    let code = error
        .details
        .iter()
        .filter(|detail| detail.kind == FCM_ERROR_TYPE)
        .find_map(|detail| detail.error_code.clone())
        .filter(|code| code != "UNSPECIFIED_ERROR");
    let reason =
        format!("{} (HTTP {} {}): {}", code.as_deref().unwrap_or("-"), status.as_u16(), error.status, error.message);
    let outcome = match code.as_deref() {
        Some("UNREGISTERED" | "SENDER_ID_MISMATCH") => SendOutcome::DeadToken { reason },
        Some("INVALID_ARGUMENT") if names_a_bad_token(&error.message) => SendOutcome::DeadToken { reason },
        Some("INVALID_ARGUMENT" | "THIRD_PARTY_AUTH_ERROR") => SendOutcome::Rejected { reason },
        Some("UNAVAILABLE" | "INTERNAL" | "QUOTA_EXCEEDED") => retry(reason),
        _ => match error.status.as_str() {
            "INVALID_ARGUMENT" if names_a_bad_token(&error.message) => SendOutcome::DeadToken { reason },
            "UNAVAILABLE" | "INTERNAL" | "RESOURCE_EXHAUSTED" | "DEADLINE_EXCEEDED" => retry(reason),
            // Without FCM's code a 404 may as well be a wrong project or URL; deleting a token cannot be undone,
            // so only an explicit UNREGISTERED does that.
            _ if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => retry(reason),
            _ => SendOutcome::Rejected { reason },
        },
    };
    (outcome, code)
}

/// FCM answers a malformed or foreign registration token with a plain INVALID_ARGUMENT whose message says so
/// ("The registration token is not a valid FCM registration token").
fn names_a_bad_token(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("registration token") && (message.contains("not a valid") || message.contains("invalid"))
}

/// `Retry-After` in seconds. Google sends seconds; an HTTP date or anything else is ignored rather than guessed at.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Enough of a device token to tell devices apart in the logs without making the log a list of live tokens.
fn token_prefix(token: &str) -> &str {
    match token.char_indices().nth(8) {
        Some((cut, _)) => &token[..cut],
        None => token,
    }
}

/// reqwest's own message hides the cause ("error sending request"); the chain says what actually happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of an unexpected body, for the log, without flooding it with a whole HTML error page.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use futures::future::join_all;

    use super::*;
    use crate::sandbox::fcm::{FOREIGN_PRIVATE_KEY_PEM, FcmSandbox};

    async fn start() -> (FcmSandbox, FcmClient) {
        let sandbox = FcmSandbox::new();
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        let client = client_for(&format!("http://{addr}"), FcmSandbox::test_account());
        (sandbox, client)
    }

    fn client_for(base: &str, account: ServiceAccount) -> FcmClient {
        FcmClient::new(account, base, &format!("{base}/token"), Duration::from_secs(5)).expect("client builds")
    }

    fn message(token: &str) -> Message {
        Message {
            token: token.to_owned(),
            title: "인증 시간이에요".to_owned(),
            body: "오늘의 독서 인증을 올려 주세요.".to_owned(),
            data: BTreeMap::from([("kind".to_owned(), "PROOF_REMINDER".to_owned())]),
            collapse_key: None,
        }
    }

    fn assert_delivered(outcome: &SendOutcome) {
        assert!(
            matches!(outcome, SendOutcome::Delivered { name } if name.starts_with("projects/nene-sandbox/messages/")),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn delivers_and_reuses_the_access_token() {
        let (sandbox, client) = start().await;
        let mut first = message("device-aaaa-1111");
        first.data.insert("challengeId".to_owned(), "01J0000000000000000000000".to_owned());

        let outcomes = [
            client.send(&first).await,
            client.send(&message("device-bbbb-2222")).await,
            client.send(&message("device-aaaa-1111")).await,
        ];

        outcomes.iter().for_each(assert_delivered);
        let delivered = sandbox.delivered();
        assert_eq!(delivered.len(), 3);
        assert_eq!(delivered[0].token, "device-aaaa-1111");
        assert_eq!(delivered[0].title, first.title);
        assert_eq!(delivered[0].body, first.body);
        assert_eq!(delivered[0].data, first.data);
        assert_eq!(delivered[1].token, "device-bbbb-2222");
        assert_eq!((sandbox.delivered_to("device-aaaa-1111"), sandbox.delivered_to("device-bbbb-2222")), (2, 1));
        assert_eq!(sandbox.token_requests(), 1);
        assert_eq!(sandbox.send_attempts(), 3);
        let names: HashSet<String> = outcomes
            .into_iter()
            .filter_map(|o| match o {
                SendOutcome::Delivered { name } => Some(name),
                _ => None,
            })
            .collect();
        assert_eq!(names.len(), 3);
    }

    #[tokio::test]
    async fn concurrent_sends_fetch_one_token() {
        let (sandbox, client) = start().await;
        let messages: Vec<Message> = (0..50).map(|i| message(&format!("device-{i:04}"))).collect();

        let outcomes = join_all(messages.iter().map(|m| client.send(m))).await;

        outcomes.iter().for_each(assert_delivered);
        assert_eq!(sandbox.token_requests(), 1);
        assert_eq!(sandbox.send_attempts(), 50);
        assert_eq!(sandbox.delivered().len(), 50);
    }

    #[tokio::test]
    async fn unavailable_is_retried_later_after_retry_after() {
        let (sandbox, client) = start().await;
        sandbox.fail_next(2, 503, "UNAVAILABLE", Some(7));
        let m = message("device-retry-1");

        let first = client.send(&m).await;
        let second = client.send(&m).await;
        let third = client.send(&m).await;

        for outcome in [first, second] {
            match outcome {
                SendOutcome::RetryLater { retry_after, reason } => {
                    assert_eq!(retry_after, Some(Duration::from_secs(7)));
                    assert!(reason.contains("UNAVAILABLE"), "{reason}");
                }
                other => panic!("expected RetryLater, got {other:?}"),
            }
        }
        assert_delivered(&third);
        assert_eq!(sandbox.delivered_to("device-retry-1"), 1);
        assert_eq!(sandbox.send_attempts(), 3);
    }

    #[tokio::test]
    async fn quota_and_internal_errors_are_retried_later() {
        let (sandbox, client) = start().await;
        sandbox.fail_next(1, 429, "QUOTA_EXCEEDED", Some(60));
        sandbox.fail_next(1, 500, "INTERNAL", None);

        let quota = client.send(&message("device-quota-1")).await;
        let internal = client.send(&message("device-quota-1")).await;

        assert!(matches!(quota, SendOutcome::RetryLater { retry_after: Some(d), .. } if d == Duration::from_secs(60)));
        assert!(matches!(internal, SendOutcome::RetryLater { retry_after: None, .. }), "{internal:?}");
    }

    #[tokio::test]
    async fn an_unregistered_token_is_dead() {
        let (sandbox, client) = start().await;
        sandbox.unregister("device-gone-1");

        let gone = client.send(&message("device-gone-1")).await;
        let other = client.send(&message("device-here-1")).await;

        assert!(matches!(&gone, SendOutcome::DeadToken { reason } if reason.contains("UNREGISTERED")), "{gone:?}");
        assert_delivered(&other);
        assert_eq!(sandbox.delivered_to("device-gone-1"), 0);
    }

    #[tokio::test]
    async fn a_sender_id_mismatch_is_a_dead_token() {
        let (sandbox, client) = start().await;
        sandbox.fail_next(1, 403, "SENDER_ID_MISMATCH", None);

        let outcome = client.send(&message("device-foreign-1")).await;

        assert!(matches!(outcome, SendOutcome::DeadToken { .. }), "{outcome:?}");
    }

    #[tokio::test]
    async fn invalid_arguments_are_dead_tokens_only_when_about_the_token() {
        let (sandbox, client) = start().await;
        let mut reserved = message("device-valid-1");
        reserved.data.insert("from".to_owned(), "nene".to_owned());

        let bad_token = client.send(&message("not a token!")).await;
        let bad_data = client.send(&reserved).await;
        sandbox.fail_next(1, 400, "INVALID_ARGUMENT", None);
        let bad_other = client.send(&message("device-valid-1")).await;

        assert!(
            matches!(&bad_token, SendOutcome::DeadToken { reason } if reason.contains("registration token")),
            "{bad_token:?}"
        );
        assert!(
            matches!(&bad_data, SendOutcome::Rejected { reason } if reason.contains("Invalid data payload key")),
            "{bad_data:?}"
        );
        assert!(matches!(bad_other, SendOutcome::Rejected { .. }), "{bad_other:?}");
        assert!(sandbox.delivered().is_empty());
    }

    #[tokio::test]
    async fn a_refused_access_token_is_replaced_once() {
        let (sandbox, client) = start().await;
        assert_delivered(&client.send(&message("device-auth-1")).await);
        assert_eq!(sandbox.token_requests(), 1);

        sandbox.expire_access_tokens();
        let outcome = client.send(&message("device-auth-1")).await;

        assert_delivered(&outcome);
        assert_eq!(sandbox.token_requests(), 2);
        assert_eq!(sandbox.send_attempts(), 3);
        assert_eq!(sandbox.delivered_to("device-auth-1"), 2);
        // The new token is cached in turn.
        assert_delivered(&client.send(&message("device-auth-1")).await);
        assert_eq!(sandbox.token_requests(), 2);
    }

    #[tokio::test]
    async fn a_second_refusal_of_a_fresh_token_is_not_retried_again() {
        let (sandbox, client) = start().await;
        sandbox.fail_next(2, 401, "UNAUTHENTICATED", None);

        let outcome = client.send(&message("device-auth-2")).await;

        assert!(matches!(&outcome, SendOutcome::Rejected { reason } if reason.contains("UNAUTHENTICATED")));
        assert_eq!(sandbox.token_requests(), 2);
        assert_eq!(sandbox.send_attempts(), 2);
    }

    #[tokio::test]
    async fn apns_credential_errors_do_not_refresh_the_token() {
        let (sandbox, client) = start().await;
        sandbox.fail_next(1, 401, "THIRD_PARTY_AUTH_ERROR", None);

        let outcome = client.send(&message("device-ios-1")).await;

        assert!(matches!(outcome, SendOutcome::Rejected { .. }), "{outcome:?}");
        assert_eq!((sandbox.token_requests(), sandbox.send_attempts()), (1, 1));
    }

    #[tokio::test]
    async fn an_outage_is_retried_later() {
        let (sandbox, client) = start().await;
        sandbox.set_down(true);

        let during = client.send(&message("device-down-1")).await;
        sandbox.set_down(false);
        let after = client.send(&message("device-down-1")).await;

        assert!(matches!(during, SendOutcome::RetryLater { retry_after: None, .. }), "{during:?}");
        assert_delivered(&after);
    }

    #[tokio::test]
    async fn an_unreachable_fcm_is_retried_later() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = client_for(&format!("http://{addr}"), FcmSandbox::test_account());

        let outcome = client.send(&message("device-closed-1")).await;

        assert!(matches!(&outcome, SendOutcome::RetryLater { reason, .. } if reason.contains("no access token")));
    }

    #[tokio::test]
    async fn an_unreachable_send_endpoint_is_retried_later() {
        let sandbox = FcmSandbox::new();
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let closed = listener.local_addr().expect("addr");
        drop(listener);
        let client = FcmClient::new(
            FcmSandbox::test_account(),
            &format!("http://{closed}"),
            &format!("http://{addr}/token"),
            Duration::from_secs(2),
        )
        .expect("client");

        let outcome = client.send(&message("device-closed-2")).await;

        assert!(matches!(&outcome, SendOutcome::RetryLater { reason, .. } if reason.contains("sending")));
        assert_eq!(sandbox.token_requests(), 1);
    }

    #[tokio::test]
    async fn a_timeout_is_retried_later() {
        // A server that accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let client = FcmClient::new(
            FcmSandbox::test_account(),
            &format!("http://{addr}"),
            &format!("http://{addr}/token"),
            Duration::from_millis(200),
        )
        .expect("client");

        let outcome = client.send(&message("device-slow-1")).await;

        assert!(matches!(outcome, SendOutcome::RetryLater { .. }), "{outcome:?}");
    }

    #[tokio::test]
    async fn an_assertion_signed_with_another_key_gets_no_token() {
        let sandbox = FcmSandbox::new();
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        let account = ServiceAccount { private_key: FOREIGN_PRIVATE_KEY_PEM.to_owned(), ..FcmSandbox::test_account() };
        let client = client_for(&format!("http://{addr}"), account);
        let messages: Vec<Message> = (0..20).map(|i| message(&format!("device-forged-{i}"))).collect();

        let outcomes = join_all(messages.iter().map(|m| client.send(m))).await;

        for outcome in &outcomes {
            assert!(
                matches!(outcome, SendOutcome::RetryLater { reason, .. } if reason.contains("invalid_grant")),
                "{outcome:?}"
            );
        }
        // The senders that queued behind the failed fetch shared its answer instead of each asking again.
        assert_eq!(sandbox.token_requests(), 1);
        assert_eq!(sandbox.send_attempts(), 0);
    }

    #[tokio::test]
    async fn works_under_a_path_prefix() {
        let sandbox = FcmSandbox::new();
        let app = axum::Router::new().nest("/dev/fcm", sandbox.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = format!("http://{addr}/dev/fcm");
        let token_url = format!("{base}/token");
        let client =
            FcmClient::new(FcmSandbox::test_account(), &format!("{base}/"), &token_url, Duration::from_secs(5))
                .expect("client");

        assert_delivered(&client.send(&message("device-prefix-1")).await);
        assert_eq!(sandbox.delivered_to("device-prefix-1"), 1);
    }

    #[tokio::test]
    async fn an_oversized_body_is_cut_to_fit() {
        let (sandbox, client) = start().await;
        let mut long = message("device-long-1");
        long.body = "가\"나 ".repeat(2_000);

        let outcome = client.send(&long).await;

        assert_delivered(&outcome);
        let delivered = sandbox.delivered();
        let body = &delivered[0].body;
        let kept = body.strip_suffix(TRUNCATION_MARK).expect("marked as cut");
        assert!(long.body.starts_with(kept) && kept.len() > 3_000, "{} bytes kept", kept.len());
        let encoded = encode(&long).expect("encodes");
        assert!(encoded.truncated);
        assert!(encoded.bytes.len() <= MAX_PAYLOAD_BYTES);
        // Only just: one more character would not have fitted.
        assert!(encoded.bytes.len() > MAX_PAYLOAD_BYTES - 16, "{}", encoded.bytes.len());
        assert_eq!(delivered[0].data, long.data);
    }

    #[test]
    fn encodes_the_documented_message() {
        let mut m = message("device-wire-1");
        m.collapse_key = Some("proof-reminder".to_owned());

        let encoded = encode(&m).expect("encodes");
        let wire: serde_json::Value = serde_json::from_slice(&encoded.bytes).expect("JSON");

        assert!(!encoded.truncated);
        assert_eq!(
            wire,
            serde_json::json!({"message": {
                "token": "device-wire-1",
                "notification": {"title": m.title, "body": m.body},
                "data": {"kind": "PROOF_REMINDER"},
                "android": {"priority": "high", "collapse_key": "proof-reminder", "notification": {"channel_id": "nene"}},
                "apns": {"headers": {"apns-priority": "10", "apns-collapse-id": "proof-reminder"},
                         "payload": {"aps": {"sound": "default"}}},
                "webpush": {"headers": {"Urgency": "high", "Topic": "proof-reminder"}},
            }})
        );
    }

    #[test]
    fn refuses_a_message_too_big_without_its_body() {
        let mut m = message("device-huge-1");
        m.data.insert("blob".to_owned(), "x".repeat(MAX_PAYLOAD_BYTES));

        assert!(encode(&m).is_err());
    }

    #[test]
    fn classifies_fcm_answers() {
        let fcm = |status: u16, general: &str, message: &str, code: Option<&str>| {
            let mut error = serde_json::json!({"code": status, "message": message, "status": general});
            if let Some(code) = code {
                error["details"] = serde_json::json!([
                    {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": []},
                    {"@type": FCM_ERROR_TYPE, "errorCode": code},
                ]);
            }
            let status = StatusCode::from_u16(status).expect("status");
            let body = serde_json::to_vec(&serde_json::json!({"error": error})).expect("JSON");
            classify(status, Some(Duration::from_secs(3)), &body).outcome
        };
        let kind = |outcome: SendOutcome| outcome.label();

        assert_eq!(kind(fcm(404, "NOT_FOUND", "Requested entity was not found.", Some("UNREGISTERED"))), "dead_token");
        // The same answer without FCM's code may be a wrong project: never delete a token on a guess.
        assert_eq!(kind(fcm(404, "NOT_FOUND", "Requested entity was not found.", None)), "rejected");
        assert_eq!(kind(fcm(403, "PERMISSION_DENIED", "SenderId mismatch", Some("SENDER_ID_MISMATCH"))), "dead_token");
        assert_eq!(kind(fcm(403, "PERMISSION_DENIED", "Permission denied", None)), "rejected");
        let bad_token = "The registration token is not a valid FCM registration token";
        assert_eq!(kind(fcm(400, "INVALID_ARGUMENT", bad_token, Some("INVALID_ARGUMENT"))), "dead_token");
        assert_eq!(kind(fcm(400, "INVALID_ARGUMENT", bad_token, None)), "dead_token");
        assert_eq!(kind(fcm(400, "INVALID_ARGUMENT", "Message is too big", Some("INVALID_ARGUMENT"))), "rejected");
        assert_eq!(kind(fcm(400, "INVALID_ARGUMENT", "x", Some("UNSPECIFIED_ERROR"))), "rejected");
        assert_eq!(
            fcm(429, "RESOURCE_EXHAUSTED", "Quota exceeded", Some("QUOTA_EXCEEDED")),
            SendOutcome::RetryLater {
                retry_after: Some(Duration::from_secs(3)),
                reason: "QUOTA_EXCEEDED (HTTP 429 RESOURCE_EXHAUSTED): Quota exceeded".into(),
            }
        );
        assert_eq!(kind(fcm(503, "UNAVAILABLE", "x", None)), "retry_later");
        assert_eq!(kind(fcm(500, "INTERNAL", "x", Some("INTERNAL"))), "retry_later");
        assert_eq!(kind(fcm(502, "UNKNOWN", "x", None)), "retry_later");
        assert_eq!(kind(fcm(401, "UNAUTHENTICATED", "x", Some("THIRD_PARTY_AUTH_ERROR"))), "rejected");

        let raw = |status: u16, body: &str| {
            classify(StatusCode::from_u16(status).expect("status"), None, body.as_bytes()).outcome
        };
        assert_eq!(
            raw(200, r#"{"name": "projects/p/messages/1"}"#),
            SendOutcome::Delivered { name: "projects/p/messages/1".into() }
        );
        assert_eq!(kind(raw(200, "<html>ok</html>")), "retry_later");
        assert_eq!(kind(raw(502, "<html>bad gateway</html>")), "retry_later");
        assert_eq!(kind(raw(400, "")), "retry_later");

        let unauthorized = |code: Option<&str>| {
            let mut error = serde_json::json!({"code": 401, "message": "x", "status": "UNAUTHENTICATED"});
            if let Some(code) = code {
                error["details"] = serde_json::json!([{"@type": FCM_ERROR_TYPE, "errorCode": code}]);
            }
            let body = serde_json::to_vec(&serde_json::json!({"error": error})).expect("JSON");
            classify(StatusCode::UNAUTHORIZED, None, &body).token_refused
        };
        assert!(unauthorized(None));
        assert!(!unauthorized(Some("THIRD_PARTY_AUTH_ERROR")));
    }

    #[test]
    fn reads_retry_after_in_seconds_only() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("header"));
            headers
        };
        assert_eq!(retry_after(&headers("120")), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&headers(" 5 ")), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(&headers("-1")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn reads_a_service_account_file_and_hides_its_key() {
        let account = FcmSandbox::test_account();
        let json = serde_json::json!({
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": "0123456789abcdef",
            "private_key": account.private_key,
            "client_email": account.client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "universe_domain": "googleapis.com",
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("service-account.json");
        std::fs::write(&path, json.to_string()).expect("write");

        let read = ServiceAccount::from_file(&path).expect("reads");

        assert_eq!(read.project_id, "nene-sandbox");
        assert_eq!(read.private_key, account.private_key);
        assert_eq!(read.token_url(), "https://oauth2.googleapis.com/token");
        assert_eq!(account.token_url(), DEFAULT_TOKEN_URL);
        let debug = format!("{read:?}");
        assert!(debug.contains("nene-sandbox") && debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY") && !debug.contains(&account.private_key[40..80]), "{debug}");
        let client = client_for("http://127.0.0.1:9", read);
        assert!(!format!("{client:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn refuses_bad_service_accounts_and_configuration() {
        assert!(matches!(ServiceAccount::from_json("{}"), Err(FcmError::Account(_))));
        assert!(matches!(
            ServiceAccount::from_json(r#"{"project_id": "p", "client_email": "", "private_key": "k"}"#),
            Err(FcmError::Account(e)) if e.contains("client_email")
        ));
        let missing = ServiceAccount::from_file(Path::new("/nonexistent/service-account.json"));
        assert!(matches!(missing, Err(FcmError::ReadAccount { .. })));

        let new = |account: ServiceAccount, base: &str, timeout: Duration| {
            FcmClient::new(account, base, "http://127.0.0.1:9/token", timeout)
        };
        let good = FcmSandbox::test_account;
        let second = Duration::from_secs(1);
        assert!(matches!(new(good(), "not a url", second), Err(FcmError::Config(_))));
        assert!(matches!(new(good(), "ftp://x", second), Err(FcmError::Config(_))));
        assert!(matches!(new(good(), "http://x", Duration::ZERO), Err(FcmError::Config(_))));
        let not_pem = ServiceAccount { private_key: "not a key".into(), ..good() };
        assert!(matches!(new(not_pem, "http://x", second), Err(FcmError::Config(_))));
        let no_project = ServiceAccount { project_id: String::new(), ..good() };
        assert!(matches!(new(no_project, "http://x", second), Err(FcmError::Config(_))));
        let client = new(good(), "http://x/prefix/", second).expect("client");
        assert_eq!(client.send_url.as_str(), "http://x/prefix/v1/projects/nene-sandbox/messages:send");
    }

    #[test]
    fn logs_only_the_start_of_a_device_token() {
        assert_eq!(token_prefix("dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"), "dQw4w9Wg");
        assert_eq!(token_prefix("short"), "short");
        assert_eq!(token_prefix("가나다라마바사아자차"), "가나다라마바사아");
        let debug = format!("{:?}", message("dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH"));
        assert!(!debug.contains("APA91b"), "{debug}");
    }
}
