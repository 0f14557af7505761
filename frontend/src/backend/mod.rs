//! The `Backend` boundary: every screen asks for data and actions through the typed calls here and never speaks
//! HTTP itself. Underneath, a [`Transport`] carries each [`Call`]:
//!
//! - [`HttpTransport`] in a browser: `fetch` against `/api/v1` on the page's own origin, the access token in memory,
//!   the refresh token in the server's HttpOnly cookie.
//! - [`TauriTransport`] inside the desktop/mobile app: the same calls handed to the app's Rust side through
//!   `window.__TAURI__.core.invoke`, which answers from its cache or the server (the app owns its tokens).
//!
//! The transport is chosen once at start-up ([`Backend::from_environment`]). Bodies and answers are the `nene_shared`
//! types, so the UI and the server cannot drift apart.

pub mod device;
mod http;
pub mod notifications;
pub mod query;
mod tauri;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use nene_shared::auth::{ClientKind, LoginRequest, RefreshRequest, SignupRequest, TokenPair};
use nene_shared::challenges::{
    Challenge, ChallengeId, ChallengeQuery, CreateChallengeRequest, Participant, Progress, Proof, ProofId, ProofQuery,
    ReasonRequest,
};
use nene_shared::ledger::{Wallet, WalletEntry};
use nene_shared::moderation::{DecisionQuery, ModerationCase, ModerationDecision};
use nene_shared::page::{Page, PageQuery};
use nene_shared::payments::{CancelOrderRequest, ConfirmRequest, CreateOrderRequest, OrderCreated, PaymentOrder};
use nene_shared::users::{Me, UpdateProfileRequest};
use nene_shared::{ErrorBody, ErrorCode, FieldCode, Points};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use http::HttpTransport;
use notifications::{Notification, NotificationId, NotificationQuery, UnreadCount};
pub use tauri::TauriTransport;

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// What a call carries.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    /// `multipart/form-data` with the parts `text` and `photo`: a day's proof.
    Proof {
        text: Option<String>,
        photo: Option<web_sys::File>,
    },
}

/// One API call, independent of how it travels. `path` is below `/api/v1` (e.g. `/wallet`).
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
    /// For money-moving calls: the same key makes a retry return the first answer instead of acting twice.
    pub idempotency_key: Option<String>,
}

/// `POST /auth/refresh` as a browser sends it: no token in the body (the HttpOnly cookie carries it), and `WEB`
/// so the new token comes back in the cookie only.
pub(crate) fn refresh_call() -> Call {
    Call::post("/auth/refresh").json(&RefreshRequest { refresh_token: None, client: Some(ClientKind::Web) })
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>) -> Call {
        Call { method, path: path.into(), query: Vec::new(), body: Body::Empty, idempotency_key: None }
    }

    pub fn get(path: impl Into<String>) -> Call {
        Call::new(Method::Get, path)
    }

    pub fn post(path: impl Into<String>) -> Call {
        Call::new(Method::Post, path)
    }

    pub fn json(mut self, body: &impl Serialize) -> Call {
        self.body = Body::Json(serde_json::to_value(body).unwrap_or(serde_json::Value::Null));
        self
    }

    pub fn query(mut self, query: &impl Serialize) -> Call {
        self.query = query::pairs(query);
        self
    }

    pub fn idempotency_key(mut self, key: String) -> Call {
        self.idempotency_key = Some(key);
        self
    }

    /// Calls that sign in or out: a 401 from them is an answer, not a lost session.
    fn is_auth(&self) -> bool {
        self.path.starts_with("/auth/")
    }
}

/// The answer to an action that the app may save on the device when the server cannot be reached.
#[derive(Clone, Debug, PartialEq)]
pub enum Sent<T> {
    /// The server applied it.
    Done(T),
    /// Saved on this device (the app, offline); it is sent when the server is back and shown as waiting until then.
    Queued,
}

/// What came back, before it is decoded.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Why a call did not give what was asked.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// The server refused, with its error body.
    Server { status: u16, body: ErrorBody },
    /// No answer at all (offline, server down).
    Network(String),
    /// An answer this version of the UI cannot read.
    Decode(String),
}

impl ApiError {
    /// The stable code the UI words its message by.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Server { body, .. } => body.code,
            ApiError::Network(_) => ErrorCode::Unavailable,
            ApiError::Decode(_) => ErrorCode::Unknown,
        }
    }

    /// Per-field reasons, when the server named the inputs it refused.
    pub fn fields(&self) -> BTreeMap<String, FieldCode> {
        match self {
            ApiError::Server { body, .. } => body.fields.clone().unwrap_or_default(),
            _ => BTreeMap::new(),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The session is gone (expired beyond refresh, revoked, or never there): the person must sign in again.
    pub fn is_signed_out(&self) -> bool {
        self.status() == Some(401)
            && matches!(
                self.code(),
                ErrorCode::Unauthenticated
                    | ErrorCode::TokenExpired
                    | ErrorCode::TokenInvalid
                    | ErrorCode::TokenRevoked
                    | ErrorCode::RefreshTokenInvalid
                    | ErrorCode::RefreshTokenReused
            )
    }
}

/// Reads an error answer; a body that is not the API's error shape still yields a code from its status.
pub fn error_from(answer: &Answer) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(&answer.bytes) {
        Ok(body) => ApiError::Server { status: answer.status, body },
        Err(_) => {
            let code = match answer.status {
                401 => ErrorCode::Unauthenticated,
                403 => ErrorCode::Forbidden,
                404 => ErrorCode::NotFound,
                413 => ErrorCode::PayloadTooLarge,
                429 => ErrorCode::TooManyRequests,
                502..=504 => ErrorCode::Unavailable,
                _ => ErrorCode::Internal,
            };
            ApiError::Server { status: answer.status, body: ErrorBody { code, message: String::new(), fields: None } }
        }
    }
}

/// How calls travel; chosen once at start-up.
#[derive(Clone)]
pub enum Transport {
    Http(HttpTransport),
    Tauri(TauriTransport),
}

impl Transport {
    async fn send(&self, call: &Call) -> Result<Answer, ApiError> {
        match self {
            Transport::Http(t) => t.send(call).await,
            Transport::Tauri(t) => t.send(call).await,
        }
    }

    fn set_access_token(&self, token: Option<String>) {
        match self {
            Transport::Http(t) => t.set_access_token(token),
            // The app keeps its tokens on its Rust side (OS keyring); the page never holds one.
            Transport::Tauri(_) => {}
        }
    }
}

type SessionListener = Arc<dyn Fn(Option<Me>) + Send + Sync>;

/// The typed API the screens use.
#[derive(Clone)]
pub struct Backend {
    transport: Transport,
    on_session: Arc<Mutex<Option<SessionListener>>>,
}

impl Backend {
    pub fn new(transport: Transport) -> Backend {
        Backend { transport, on_session: Arc::new(Mutex::new(None)) }
    }

    /// Inside the Tauri app when its bridge is present, else HTTP to the page's own server.
    pub fn from_environment() -> Backend {
        match TauriTransport::detect() {
            Some(tauri) => Backend::new(Transport::Tauri(tauri)),
            None => Backend::new(Transport::Http(HttpTransport::new("/api/v1"))),
        }
    }

    /// Told whenever the signed-in person changes: `Some` after signing in, `None` when the session is gone.
    pub fn on_session_change(&self, listener: impl Fn(Option<Me>) + Send + Sync + 'static) {
        if let Ok(mut slot) = self.on_session.lock() {
            *slot = Some(Arc::new(listener));
        }
    }

    fn session_changed(&self, me: Option<Me>) {
        let listener = self.on_session.lock().ok().and_then(|slot| slot.clone());
        if let Some(listener) = listener {
            listener(me);
        }
    }

    async fn answer(&self, call: Call) -> Result<Answer, ApiError> {
        let answer = self.transport.send(&call).await?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let error = error_from(&answer);
        if error.is_signed_out() && !call.is_auth() {
            self.transport.set_access_token(None);
            self.session_changed(None);
        }
        Err(error)
    }

    async fn request<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        let answer = self.answer(call).await?;
        serde_json::from_slice(&answer.bytes).map_err(|e| ApiError::Decode(e.to_string()))
    }

    /// Like [`Backend::request`], but a 202 means the app saved the action to send later.
    async fn request_or_queue<T: DeserializeOwned>(&self, call: Call) -> Result<Sent<T>, ApiError> {
        let answer = self.answer(call).await?;
        if answer.status == 202 {
            return Ok(Sent::Queued);
        }
        serde_json::from_slice(&answer.bytes).map(Sent::Done).map_err(|e| ApiError::Decode(e.to_string()))
    }

    async fn request_empty(&self, call: Call) -> Result<(), ApiError> {
        self.answer(call).await.map(|_| ())
    }

    fn signed_in(&self, pair: TokenPair) -> Me {
        self.transport.set_access_token(Some(pair.access_token));
        self.session_changed(Some(pair.user.clone()));
        pair.user
    }

    // Accounts

    /// Picks up a sign-in that survives a reload (the refresh cookie); `None` when there is none.
    pub async fn restore_session(&self) -> Result<Option<Me>, ApiError> {
        match self.request::<TokenPair>(refresh_call()).await {
            Ok(pair) => Ok(Some(self.signed_in(pair))),
            Err(e) if e.status() == Some(401) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn sign_up(&self, req: &SignupRequest) -> Result<Me, ApiError> {
        // A browser's refresh token stays in its HttpOnly cookie: the answer's body never carries it.
        let req = SignupRequest { client: Some(ClientKind::Web), ..req.clone() };
        let pair = self.request::<TokenPair>(Call::post("/auth/signup").json(&req)).await?;
        Ok(self.signed_in(pair))
    }

    pub async fn sign_in(&self, req: &LoginRequest) -> Result<Me, ApiError> {
        let req = LoginRequest { client: Some(ClientKind::Web), ..req.clone() };
        let pair = self.request::<TokenPair>(Call::post("/auth/login").json(&req)).await?;
        Ok(self.signed_in(pair))
    }

    /// Signs out here whatever the server says: a failed logout must not leave the person stuck signed in.
    pub async fn sign_out(&self) -> Result<(), ApiError> {
        let result = self.request_empty(Call::post("/auth/logout").json(&RefreshRequest::default())).await;
        self.transport.set_access_token(None);
        self.session_changed(None);
        result
    }

    pub async fn update_me(&self, req: &UpdateProfileRequest) -> Result<Me, ApiError> {
        let me: Me = self.request(Call::new(Method::Patch, "/me").json(req)).await?;
        self.session_changed(Some(me.clone()));
        Ok(me)
    }

    // Challenges

    pub async fn challenges(&self, query: &ChallengeQuery) -> Result<Page<Challenge>, ApiError> {
        self.request(Call::get("/challenges").query(query)).await
    }

    pub async fn challenge(&self, id: ChallengeId) -> Result<Challenge, ApiError> {
        self.request(Call::get(format!("/challenges/{id}"))).await
    }

    pub async fn create_challenge(&self, req: &CreateChallengeRequest) -> Result<Challenge, ApiError> {
        self.request(Call::post("/challenges").json(req)).await
    }

    pub async fn join(&self, id: ChallengeId) -> Result<Sent<Challenge>, ApiError> {
        self.request_or_queue(Call::post(format!("/challenges/{id}/join"))).await
    }

    pub async fn leave(&self, id: ChallengeId) -> Result<Sent<Challenge>, ApiError> {
        self.request_or_queue(Call::post(format!("/challenges/{id}/leave"))).await
    }

    pub async fn participants(&self, id: ChallengeId) -> Result<Vec<Participant>, ApiError> {
        self.request(Call::get(format!("/challenges/{id}/participants"))).await
    }

    pub async fn progress(&self, id: ChallengeId) -> Result<Progress, ApiError> {
        self.request(Call::get(format!("/challenges/{id}/progress"))).await
    }

    pub async fn proofs(&self, id: ChallengeId, query: &ProofQuery) -> Result<Page<Proof>, ApiError> {
        self.request(Call::get(format!("/challenges/{id}/proofs")).query(query)).await
    }

    pub async fn submit_proof(
        &self,
        id: ChallengeId,
        text: Option<String>,
        photo: Option<web_sys::File>,
    ) -> Result<Sent<Proof>, ApiError> {
        let mut call = Call::post(format!("/challenges/{id}/proofs"));
        call.body = Body::Proof { text, photo };
        self.request_or_queue(call).await
    }

    /// Reports another's proof with a reason; it keeps counting while an administrator reviews it.
    pub async fn report_proof(&self, id: ProofId, reason: String) -> Result<Proof, ApiError> {
        self.request(Call::post(format!("/proofs/{id}/report")).json(&ReasonRequest { reason })).await
    }

    /// The owner appeals a rejection (once).
    pub async fn appeal_proof(&self, id: ProofId, reason: String) -> Result<Proof, ApiError> {
        self.request(Call::post(format!("/proofs/{id}/appeal")).json(&ReasonRequest { reason })).await
    }

    // Moderation (administrators without a stake in the proof's challenge)

    pub async fn moderation_queue(&self, cursor: Option<String>) -> Result<Page<ModerationCase>, ApiError> {
        self.request(Call::get("/admin/moderation").query(&PageQuery { cursor, limit: Some(20) })).await
    }

    pub async fn moderation_decisions(&self, cursor: Option<String>) -> Result<Page<ModerationDecision>, ApiError> {
        let query = DecisionQuery { cursor, limit: Some(20), ..Default::default() };
        self.request(Call::get("/admin/moderation/decisions").query(&query)).await
    }

    pub async fn reject_proof(&self, id: ProofId, reason: String) -> Result<Proof, ApiError> {
        self.request(Call::post(format!("/proofs/{id}/reject")).json(&ReasonRequest { reason })).await
    }

    pub async fn dismiss_case(&self, id: ProofId, reason: String) -> Result<Proof, ApiError> {
        self.request(Call::post(format!("/admin/moderation/{id}/dismiss")).json(&ReasonRequest { reason })).await
    }

    /// A protected image (a proof's photo or thumbnail) by the URL the API gave: its bytes and type.
    pub async fn image(&self, url: &str) -> Result<(Vec<u8>, String), ApiError> {
        let path = url.strip_prefix("/api/v1").unwrap_or(url);
        let answer = self.answer(Call::get(path)).await?;
        let mime = answer.content_type.clone().unwrap_or_else(|| "image/jpeg".to_owned());
        Ok((answer.bytes, mime))
    }

    // Wallet and payments

    pub async fn wallet(&self) -> Result<Wallet, ApiError> {
        self.request(Call::get("/wallet")).await
    }

    pub async fn wallet_entries(&self, cursor: Option<String>) -> Result<Page<WalletEntry>, ApiError> {
        self.request(Call::get("/wallet/entries").query(&PageQuery { cursor, limit: Some(20) })).await
    }

    pub async fn create_order(&self, amount: Points, idempotency_key: String) -> Result<OrderCreated, ApiError> {
        self.request(
            Call::post("/payments/orders").json(&CreateOrderRequest { amount }).idempotency_key(idempotency_key),
        )
        .await
    }

    pub async fn confirm_payment(&self, req: &ConfirmRequest) -> Result<PaymentOrder, ApiError> {
        // Keyed by the order: reloading the success page confirms nothing twice.
        let key = format!("confirm-{}", req.order_id);
        self.request(Call::post("/payments/confirm").json(req).idempotency_key(key)).await
    }

    pub async fn order(&self, order_id: &str) -> Result<PaymentOrder, ApiError> {
        self.request(Call::get(format!("/payments/orders/{}", query::encode(order_id)))).await
    }

    pub async fn orders(&self, cursor: Option<String>) -> Result<Page<PaymentOrder>, ApiError> {
        self.request(Call::get("/payments/orders").query(&PageQuery { cursor, limit: Some(20) })).await
    }

    pub async fn refund_order(
        &self,
        order_id: &str,
        req: &CancelOrderRequest,
        idempotency_key: String,
    ) -> Result<PaymentOrder, ApiError> {
        let path = format!("/payments/orders/{}/cancel", query::encode(order_id));
        self.request(Call::post(path).json(req).idempotency_key(idempotency_key)).await
    }

    // Notifications

    pub async fn notifications(&self, query: &NotificationQuery) -> Result<Page<Notification>, ApiError> {
        self.request(Call::get("/notifications").query(query)).await
    }

    pub async fn unread_count(&self) -> Result<UnreadCount, ApiError> {
        self.request(Call::get("/notifications/unread-count")).await
    }

    pub async fn mark_read(&self, id: NotificationId) -> Result<(), ApiError> {
        self.request_empty(Call::post(format!("/notifications/{id}/read"))).await
    }
}

/// A fresh random key for one money-moving action (kept by the screen so a retry reuses it).
pub fn new_idempotency_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, content_type: Some("application/json".into()), bytes: body.as_bytes().to_vec() }
    }

    #[test]
    fn error_bodies_are_read_with_their_fields() {
        let e = error_from(&answer(
            400,
            r#"{"code":"VALIDATION_FAILED","message":"Please check: title","fields":{"title":"TOO_LONG"}}"#,
        ));
        assert_eq!(e.code(), ErrorCode::ValidationFailed);
        assert_eq!(e.fields().get("title"), Some(&FieldCode::TooLong));
    }

    #[test]
    fn answers_without_an_error_body_get_a_code_from_their_status() {
        assert_eq!(error_from(&answer(404, "Not found")).code(), ErrorCode::NotFound);
        assert_eq!(error_from(&answer(502, "")).code(), ErrorCode::Unavailable);
    }

    #[test]
    fn only_session_codes_mean_signed_out() {
        let expired = error_from(&answer(401, r#"{"code":"TOKEN_EXPIRED","message":""}"#));
        assert!(expired.is_signed_out());
        let wrong_password = error_from(&answer(401, r#"{"code":"INVALID_CREDENTIALS","message":""}"#));
        assert!(!wrong_password.is_signed_out());
        assert!(!ApiError::Network("offline".into()).is_signed_out());
    }
}
