//! A sandbox of Firebase Cloud Messaging (HTTP v1) and of Google's OAuth token endpoint, for dev mode and tests.
//!
//! Like the TossPayments sandbox it speaks the documented wire protocol rather than offering a fake client, so the
//! production [`FcmClient`](crate::integrations::fcm::FcmClient) is what the tests exercise: it signs real RS256
//! assertions, caches the access tokens it gets here, and meets FCM's error bodies, down to the `FcmError` detail
//! its classification reads first. Tests and dev mode steer it (failures, dead tokens, outages, revoked access
//! tokens) and read back what was delivered. Everything lives in memory behind one short lock, so it keeps up with
//! a benchmark sending thousands of messages a second.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::integrations::fcm::ServiceAccount;

/// The project of [`FcmSandbox::test_account`]; sends to any other project are refused as Google would.
pub const SANDBOX_PROJECT_ID: &str = "nene-sandbox";

/// The service account the sandbox's token endpoint issues access tokens to.
pub const SANDBOX_CLIENT_EMAIL: &str = "firebase-adminsdk@nene-sandbox.iam.gserviceaccount.com";

/// A throwaway key generated once with `openssl genrsa 2048` for this sandbox. It guards nothing: it only lets the
/// production client sign real assertions in dev mode and tests. Never give it to a real Google project.
const SANDBOX_PRIVATE_KEY_PEM: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDJda4iTwYTZvzV
5iXqog2wmM6VrO4dIV+9lCuAgJgtkGYO/mcxRBd+qWV+8AvRMapgrD2rOhAIn+Z+
1FvRygjW3FwQsn2kso4ISgxcONsq4j8elcuOR65dLwc+YPJy6Ssh7AGx4UU8GUDQ
fuBN4FVBdYu9fHMZM9AWUV1/xij+4366QOj/vEc8sHVDLcZb0BEP++mUdWcVAR5a
YoVbmu7dTjrO0TJG/HNzVjsSqIjolf1Lxstz/TUAHjNWI4kC+VR1xcoZoov8zjLs
zFYdEUFBMqi5DWdInS6rTZqHiN8g7/ErVtoYdEODqiexkgTjiqJu94eKxiU5WZGF
T52GNGuLAgMBAAECggEAGPvaog+ZycsyXNaDakM5nmZ87Cv7hapPZMPc1z1bYf8v
4Pkk1APFRCR+3UyosoNNxVpm9XaoaWFnJOByGKTNDtRaKInyMfwgyB9ixAcbCwju
2fyqt1TlZ1H/PHmqZ5zKCBVsKmKtAuSA2Lp7V70T5Z/NuiyWW5BE5JenmEJ7cAyP
Dzy0mQUIsr1q0JoMTXiFaTfkWl2fAsOWvMyOFpEsOOjS9c7YTliOqn7gn2M0OPCW
1zrRMxZylk/i36DI7+vzuxYgBPWd3uqDdtbekob8CJ37DhgaAY979dgGiTxY3Rp6
4xYgGzZp6dQlYyZY0U/bTCrSBpDEFOlud59BHkbSDQKBgQDwDZdgw6I+Z5nWJhCM
0DjRBVoC09IGt/FKF6L3nc7z8EujLCKyaABiQ8WHcQWxjToE0opCXMydYw7/hJ6h
+11buz5bz4v6LIf65gHNYHpSewFhV3Wy+KTMq20PTiNNRDkXdF62Uy6l8rAS/Woo
mjWDnrle4J7PwZjjRj6YMaIWPQKBgQDW18JHb7D3T5SYl9Gl+f8ygW7vdB1XL3so
lZw7cvMHUVRtoPSUNnV5zgO6iW9y47RMQ5McKGIR8Y25Wo/cmO3EYLOGUdkfUTsS
hFz4muaS0AT4smVR9GvuvO22uv+7zaW7SRqXrC7ivnlPbCTWdE5YR+JeGsgEKnTG
NvLiqnPtZwKBgFqX9oIpMqi0doUwFlzeFCMmDuM0R3YLoz8gDnu+jaTYEeOBu5Jy
13o+M2S7DbgFIVlCj7Udyoa3JKjfxvJAp+n/jzgc6qm+do8EkLeOanuIOmwfEqc5
WRB4vY7iIUZ+scEdRMUwPVGZdkOkaZTrJbkHhNO+l5C2clmLYAIV8SLNAoGAQt8v
kqq6S5BSsVh4IhB5lY/iJthelZeq3wwKcBqseLeg7uqtlkCJOlucn4BN11X29dIG
xTnwpKMqOOpuYvya7Ygn+QQa7/uJxo66nYshf8sN8RceIG9S9SGLYFg+Z4dwMaZk
h5dJlLwy6DzCDppvFF1zoVT2sw1AAb5yxYjGwrsCgYEAo+MAh1hcmnJBpQYFn7Wb
ONXcu28fwLf9fPbUcOl44lhIqOp30BJ7VSv767i+PAYnqESi1XKL/hyIxgxWaiO2
gqkGXMNo67mKOwnT2CCYcDm8Xk+vVj+3ntiFPIOmxwQQSE9/Gr5xtgtIzcGZSEBn
Dn3iX35mg7HEzpHXQxQaFoU=
-----END PRIVATE KEY-----
";

/// The public half of [`SANDBOX_PRIVATE_KEY_PEM`] (`openssl rsa -pubout`), which the token endpoint verifies
/// assertions with. Embedded rather than derived so no RSA crate is needed beyond what jsonwebtoken brings.
const SANDBOX_PUBLIC_KEY_PEM: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyXWuIk8GE2b81eYl6qIN
sJjOlazuHSFfvZQrgICYLZBmDv5nMUQXfqllfvAL0TGqYKw9qzoQCJ/mftRb0coI
1txcELJ9pLKOCEoMXDjbKuI/HpXLjkeuXS8HPmDycukrIewBseFFPBlA0H7gTeBV
QXWLvXxzGTPQFlFdf8Yo/uN+ukDo/7xHPLB1Qy3GW9ARD/vplHVnFQEeWmKFW5ru
3U46ztEyRvxzc1Y7EqiI6JX9S8bLc/01AB4zViOJAvlUdcXKGaKL/M4y7MxWHRFB
QTKouQ1nSJ0uq02ah4jfIO/xK1baGHRDg6onsZIE44qibveHisYlOVmRhU+dhjRr
iwIDAQAB
-----END PUBLIC KEY-----
";

/// A second throwaway key (also `openssl genrsa 2048`) for tests that sign with the wrong key.
#[cfg(test)]
pub(crate) const FOREIGN_PRIVATE_KEY_PEM: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC3edoEi9OuhkB+
Yfxn3oaohhI959UiNYdWt48gqAUyMKX6eOzdKOA3nEj/wT0almWMLTgI61G25BfI
XxUaCcD72FnnEJiBvyu2ztb7+MDQ48IxF1v04A2J7b/2qx9BJOACGCgd3spzdP3M
7H+gcoTzktFAgoeb8SxgpXoMGZvdyP6JX5M41zPfZgSOTE9t6m1qp5GKDPZo4eZ/
stXE3lruCqUwYNLxncutt4JiWNI8CKOR/DazEs/4q314mlp+4nskk9/0gp6+JoLD
HyuUkvupGjoAxyAVAEuZbnc41H6WU3tS80iEyU0isdO+zWhseHdiWK841PWsiznD
Mp2ILoxlAgMBAAECggEAFWpWHbi6bQEDjxzdyrvpCMuZXntsX7FSyjbjsGKcNKcE
AI/Tyd6nCSanSJ7kBHHwiWOPyk65O3k1I3ChtGfWDC9NExDXVDGdpxlOc5ut2dPz
yyoYVCVAv0wuX1rK654jvWrXZ+EkzUQnCZ/DJ9WmGg4VeYuiy3tjfCZkb/wfOswz
Ywgnu2SxMxB6KGV6n7Ml8DIn89s5jKdWIeQadetIBIJM611ARCk4kfbaG+Q3Agvl
QRQWpeUEcE8aFMCxSB3tCeu8UxKOX7+9SQf+mF2lWeT2+ZUSBzX/RNjjpBd64Eky
BUMvkWr6DyqHilgJxnCgwVp7+O+nXANotQhSW6WyMwKBgQD85/WwAvmxGZpN6OGW
TtuthCC6YLlJBgaCg50GKhcsvj/Npui7sNSMxwvbKOyeZkBtl636diATJ8DVzAzi
EZ2WtjGZH4TKHbx8oKu2/q0nBgafuT6mJTc2aywOWWnmqKHqxSa91nACjA7wLmnr
VyYfgs6cz26dPTBFCsupZF1C2wKBgQC5uHQnIOa2ADjOU+fAmFSFqGBzIWOxrIUf
K6ZKKD+cXVRKSYaxyU/jrsBEFtMQeCFJtPxNaCXHdtL7Newg5vqXkHoQHwGQWGQZ
azbG4jnoQ3yGEHI3spMrVy7uxZOOpkHtgf7HvJqZ+3eTolcz19jwHJtyXLHz2LtD
r5U1KnVxvwKBgQCFCNeacNY7rMYYeYpA8NZp3fkBUWPl37+I5AazeWybYrBZU5VV
Nd14+DNqY4qkgBEgFQu1lnGk4eJ0FFQqjy2gW9KXQ5csYpwFytbI+grHXkoZtu4X
o7f5bkLMgYhNhyM1RePtNGHTVS1+dkvNOhiZtstMfWkoWUmM5/Ld9ieAxQKBgCmx
sFnsd/8aE6a2jYveZvNOtsCCGXiU65nw2bdCS+2VwkufMB8Pu+C4pa9jlGTZI1gB
yrayD/E0yu7czzMfx9ho9g5Sd65pOae/Ox/xP+DV7cnHPW0lqQaM3xt5vcPDrX9d
tM4wmGDDZLf/NSaNacWWFovZJZZB7OCoNY4nBxDPAoGBAODYNu+aVNIrviIrQxAY
1o6GtOAHg6dpuPy6Dqr8nRbYbp6IXEksYfPw7j/jOFskgZ6Q9tzOqkr825YY5IMA
qHbyEhmBclQHlvZncb9XSAu2ml5y2LSX4vbgP1xpjbzKObUYVD1hiMuOayvYIvSj
lHOLnAOfxZ+p0MXKA7cv9/Fl
-----END PRIVATE KEY-----
";

/// The only scopes that allow sending; Google refuses an assertion asking for neither.
const MESSAGING_SCOPES: &[&str] =
    &["https://www.googleapis.com/auth/firebase.messaging", "https://www.googleapis.com/auth/cloud-platform"];

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long issued access tokens live, as Google's do.
const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Google refuses assertions meant to live longer than this.
const MAX_ASSERTION_LIFETIME_SECS: u64 = 3600;

/// FCM's limit on what a message carries (notification and data).
const MAX_PAYLOAD_BYTES: usize = 4096;

const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// The codes FCM puts in its `FcmError` detail (its `ErrorCode` enum).
const FCM_ERROR_CODES: &[&str] = &[
    "UNSPECIFIED_ERROR",
    "INVALID_ARGUMENT",
    "UNREGISTERED",
    "SENDER_ID_MISMATCH",
    "QUOTA_EXCEEDED",
    "UNAVAILABLE",
    "INTERNAL",
    "THIRD_PARTY_AUTH_ERROR",
];

/// A message the sandbox accepted. Title and body are empty for a data-only message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub token: String,
    pub title: String,
    pub body: String,
    pub data: BTreeMap<String, String>,
}

/// The sandbox; clones share one state.
#[derive(Clone)]
pub struct FcmSandbox {
    inner: Arc<Mutex<Ledger>>,
}

impl Default for FcmSandbox {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Ledger {
    /// Access token → when it stops being accepted.
    access_tokens: HashMap<String, Instant>,
    faults: VecDeque<Failure>,
    unregistered: HashSet<String>,
    down: bool,
    delivered: Vec<Delivered>,
    delivered_per_token: HashMap<String, usize>,
    send_attempts: usize,
    token_requests: usize,
    messages_sent: u64,
}

/// An error answer in FCM's documented shape, before it becomes a response; also what
/// [`FcmSandbox::fail_next`] queues.
#[derive(Clone)]
struct Failure {
    status: StatusCode,
    /// One of FCM's error codes, carried in the `FcmError` detail beside the general status that goes with the
    /// HTTP status; or a general status that is not FCM's (UNAUTHENTICATED, PERMISSION_DENIED), sent alone.
    code: String,
    message: String,
    retry_after_secs: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: &str) -> Self {
        Failure::with_message(status, code, default_message(code))
    }

    fn with_message(status: StatusCode, code: &str, message: &str) -> Self {
        Failure { status, code: code.to_owned(), message: message.to_owned(), retry_after_secs: None }
    }

    fn invalid(message: &str) -> Self {
        Failure::with_message(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut answer = if FCM_ERROR_CODES.contains(&self.code.as_str()) {
            google_error(self.status, general_status(self.status), &self.message, Some(&self.code))
        } else {
            google_error(self.status, &self.code, &self.message, None)
        };
        if let Some(secs) = self.retry_after_secs {
            answer.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        answer
    }
}

/// A refusal from the token endpoint, in the OAuth error shape (RFC 6749 §5.2) Google uses.
struct OauthRefusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OauthRefusal {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OauthRefusal { status: StatusCode::BAD_REQUEST, error, description: description.into() }
    }
}

impl IntoResponse for OauthRefusal {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "error_description": self.description }))).into_response()
    }
}

/// The assertion's claims as Google reads them; a missing or mistyped one makes the assertion invalid.
#[derive(Deserialize)]
struct Assertion {
    scope: String,
    aud: String,
    iat: u64,
    exp: u64,
}

/// `messages:send`'s body, only as far as the sandbox checks it.
#[derive(Deserialize)]
struct SendBody {
    message: Option<MessageBody>,
}

#[derive(Deserialize)]
struct MessageBody {
    token: Option<String>,
    notification: Option<NotificationBody>,
    data: Option<BTreeMap<String, Value>>,
}

#[derive(Deserialize, serde::Serialize)]
struct NotificationBody {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

impl FcmSandbox {
    pub fn new() -> Self {
        FcmSandbox { inner: Arc::new(Mutex::new(Ledger::default())) }
    }

    /// The token endpoint (`POST /token`) and the send endpoint (`POST /v1/projects/{project}/messages:send`),
    /// ready to serve alone or to nest under a prefix (`/dev/fcm`, with `base_url=…/dev/fcm` and
    /// `token_url=…/dev/fcm/token`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/v1/projects/{project}/messages:send", post(send))
            .fallback(|| async {
                google_error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "The requested URL was not found on this server.",
                    None,
                )
            })
            .method_not_allowed_fallback(|| async {
                google_error(StatusCode::METHOD_NOT_ALLOWED, "UNIMPLEMENTED", "Method not allowed.", None)
            })
            .with_state(self.clone())
    }

    /// Serves [`router`](Self::router) on a free port of 127.0.0.1, for tests.
    pub async fn serve(&self) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the FCM sandbox stopped serving");
            }
        });
        Ok((addr, task))
    }

    /// The service account this sandbox issues access tokens to, with a real (throwaway) RSA key. Its `token_uri`
    /// is unset: where the sandbox's token endpoint lives depends on where it is served.
    pub fn test_account() -> ServiceAccount {
        ServiceAccount {
            project_id: SANDBOX_PROJECT_ID.to_owned(),
            client_email: SANDBOX_CLIENT_EMAIL.to_owned(),
            private_key: SANDBOX_PRIVATE_KEY_PEM.to_owned(),
            token_uri: None,
        }
    }

    /// The next `n` sends (after authentication, whatever their content) answer HTTP `status` with `fcm_status`.
    /// `fcm_status` is FCM's error code (`UNAVAILABLE`, `UNREGISTERED`, `QUOTA_EXCEEDED`, …), sent in the
    /// `FcmError` detail with the general status that goes with `status`; anything else (`PERMISSION_DENIED`, …)
    /// is sent as the general status alone, as Google does for errors that are not FCM's.
    pub fn fail_next(&self, n: usize, status: u16, fcm_status: &str, retry_after_secs: Option<u64>) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let fault = Failure { retry_after_secs, ..Failure::new(status, fcm_status) };
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Sends to `device_token` answer 404 UNREGISTERED from now on, as after the app was uninstalled.
    pub fn unregister(&self, device_token: &str) {
        self.lock().unregistered.insert(device_token.to_owned());
    }

    /// While down, every send answers 503 UNAVAILABLE. The token endpoint stays up.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Access tokens issued so far are refused from now on (401 UNAUTHENTICATED), as when Google revokes them.
    pub fn expire_access_tokens(&self) {
        self.lock().access_tokens.clear();
    }

    /// Every accepted message, in the order they arrived.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.lock().delivered.clone()
    }

    /// How many messages were accepted for `device_token`.
    pub fn delivered_to(&self, device_token: &str) -> usize {
        self.lock().delivered_per_token.get(device_token).copied().unwrap_or(0)
    }

    /// Every send request that arrived, whatever became of it.
    pub fn send_attempts(&self) -> usize {
        self.lock().send_attempts
    }

    /// Every token request that arrived, whatever became of it.
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// A panicking test must not take every later call down with it, so a poisoned lock is used as is; each
    /// change to the ledger is made whole before anything can panic.
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues an access token for a valid assertion. Verifying the signature (the slow part) happens outside the
    /// lock.
    fn grant(&self, form: &[u8]) -> Result<Value, OauthRefusal> {
        self.lock().token_requests += 1;
        let mut grant_type = None;
        let mut assertion = None;
        for (name, value) in form_urlencoded::parse(form) {
            match &*name {
                "grant_type" => grant_type = Some(value.into_owned()),
                "assertion" => assertion = Some(value.into_owned()),
                _ => {}
            }
        }
        match grant_type.as_deref() {
            Some(JWT_BEARER_GRANT) => {}
            Some(other) => {
                return Err(OauthRefusal::new("unsupported_grant_type", format!("Invalid grant_type: {other}")));
            }
            None => return Err(OauthRefusal::new("invalid_request", "Missing required parameter: grant_type")),
        }
        let Some(assertion) = assertion else {
            return Err(OauthRefusal::new("invalid_request", "Missing required parameter: assertion"));
        };
        check_assertion(&assertion)?;
        let access_token = format!("sbx-{}", random_alphanumeric(40));
        self.lock().access_tokens.insert(access_token.clone(), Instant::now() + ACCESS_TOKEN_LIFETIME);
        Ok(json!({
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_LIFETIME.as_secs(),
            "token_type": "Bearer",
        }))
    }

    /// Answers one send with the accepted message's name. `message` was parsed before taking the lock;
    /// everything else is decided under it, in the order Google checks (availability, credentials, the project,
    /// the message, the device token), with queued failures taking the place of everything after credentials.
    fn accept(
        &self,
        project: &str,
        bearer: Option<&str>,
        message: Result<Delivered, Failure>,
    ) -> Result<String, Failure> {
        let mut ledger = self.lock();
        ledger.send_attempts += 1;
        if ledger.down {
            return Err(Failure::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"));
        }
        let now = Instant::now();
        let authenticated =
            bearer.and_then(|token| ledger.access_tokens.get(token)).is_some_and(|expires| now < *expires);
        if !authenticated {
            return Err(Failure::with_message(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or \
                 other valid authentication credential. See \
                 https://developers.google.com/identity/sign-in/web/devconsole-project.",
            ));
        }
        if let Some(fault) = ledger.faults.pop_front() {
            return Err(fault);
        }
        if project != SANDBOX_PROJECT_ID {
            return Err(Failure::with_message(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!(
                    "Permission 'cloudmessaging.messages.create' denied on resource \
                     '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
                ),
            ));
        }
        let message = message?;
        if ledger.unregistered.contains(&message.token) {
            return Err(Failure::new(StatusCode::NOT_FOUND, "UNREGISTERED"));
        }
        ledger.messages_sent += 1;
        let name = format!("projects/{project}/messages/0:{:016}", ledger.messages_sent);
        *ledger.delivered_per_token.entry(message.token.clone()).or_default() += 1;
        ledger.delivered.push(message);
        Ok(name)
    }
}

async fn token(State(sandbox): State<FcmSandbox>, form: Bytes) -> Response {
    match sandbox.grant(&form) {
        Ok(token) => Json(token).into_response(),
        Err(refusal) => {
            tracing::debug!(error = refusal.error, description = refusal.description, "FCM sandbox refused a token");
            refusal.into_response()
        }
    }
}

async fn send(
    State(sandbox): State<FcmSandbox>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match sandbox.accept(&project, bearer, parse_message(&body)) {
        Ok(name) => Json(json!({ "name": name })).into_response(),
        Err(failure) => {
            tracing::debug!(status = failure.status.as_u16(), code = failure.code, "FCM sandbox refused a send");
            failure.into_response()
        }
    }
}

/// Checks an assertion as Google does: signed by the service account's key, issued by it, for the messaging
/// scope, short-lived. The audience must be there; which URL it names is not checked, since the sandbox cannot
/// know the address it is reached at.
fn check_assertion(assertion: &str) -> Result<(), OauthRefusal> {
    // Parsed per request rather than kept: token requests come once an hour per client, and this way a broken
    // embedded key is an answer, not a panic at start-up.
    let key = DecodingKey::from_rsa_pem(SANDBOX_PUBLIC_KEY_PEM.as_bytes()).map_err(|e| OauthRefusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "internal_failure",
        description: format!("the sandbox's public key cannot be read: {e}"),
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[SANDBOX_CLIENT_EMAIL]);
    let claims = jsonwebtoken::decode::<Assertion>(assertion, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let description = match e.kind() {
                ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_owned(),
                ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                                                reasonable timeframe. Check your iat and exp values in the JWT claim."
                    .to_owned(),
                ErrorKind::InvalidIssuer => "Invalid JWT: the issuer is not a known service account.".to_owned(),
                other => format!("Invalid JWT: {other:?}"),
            };
            OauthRefusal::new("invalid_grant", description)
        })?
        .claims;
    if claims.aud.is_empty() {
        return Err(OauthRefusal::new("invalid_grant", "Invalid JWT: the audience is missing."));
    }
    if claims.exp <= claims.iat || claims.exp - claims.iat > MAX_ASSERTION_LIFETIME_SECS {
        return Err(OauthRefusal::new(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your \
             iat and exp values in the JWT claim.",
        ));
    }
    if !claims.scope.split_whitespace().any(|scope| MESSAGING_SCOPES.contains(&scope)) {
        return Err(OauthRefusal::new("invalid_scope", "Invalid OAuth scope or ID token audience provided."));
    }
    Ok(())
}

/// Reads a send's body into what would be delivered, or the 400 FCM would answer.
fn parse_message(body: &[u8]) -> Result<Delivered, Failure> {
    let invalid = Failure::invalid;
    let Ok(SendBody { message: Some(message) }) = serde_json::from_slice::<SendBody>(body) else {
        return Err(invalid("Request contains an invalid argument."));
    };
    let Some(token) = message.token else {
        return Err(invalid("Request contains an invalid argument."));
    };
    if message.notification.is_none() && message.data.is_none() {
        return Err(invalid("Request contains an invalid argument."));
    }
    // Real tokens are long strings of base64url characters and colons; anything else cannot be one.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':')) {
        return Err(invalid("The registration token is not a valid FCM registration token"));
    }
    let mut data = BTreeMap::new();
    for (index, (key, value)) in message.data.unwrap_or_default().into_iter().enumerate() {
        let Value::String(value) = value else {
            return Err(invalid(&format!("Invalid value at 'message.data[{index}].value' (TYPE_STRING), {value}")));
        };
        if is_reserved_data_key(&key) {
            return Err(invalid(&format!("Invalid data payload key: {key}")));
        }
        data.insert(key, value);
    }
    let payload_bytes = serde_json::to_vec(&(&message.notification, &data)).map(|bytes| bytes.len()).unwrap_or(0);
    if payload_bytes > MAX_PAYLOAD_BYTES {
        return Err(invalid("Message is too big"));
    }
    let (title, body) = match message.notification {
        Some(NotificationBody { title, body }) => (title.unwrap_or_default(), body.unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    Ok(Delivered { token, title, body, data })
}

/// Keys FCM keeps for itself and refuses in `data`: a few words and anything starting with "google" or "gcm".
fn is_reserved_data_key(key: &str) -> bool {
    matches!(key, "from" | "notification" | "message_type") || key.starts_with("google") || key.starts_with("gcm")
}

/// Google's error body: `{"error": {"code", "message", "status", "details"}}`.
fn google_error(status: StatusCode, general: &str, message: &str, fcm_code: Option<&str>) -> Response {
    let mut error = json!({ "code": status.as_u16(), "message": message, "status": general });
    if let Some(code) = fcm_code {
        error["details"] = json!([{ "@type": FCM_ERROR_TYPE, "errorCode": code }]);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

/// The google.rpc status Google pairs with an HTTP status.
fn general_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn default_message(code: &str) -> &'static str {
    match code {
        "UNREGISTERED" => "Requested entity was not found.",
        "INVALID_ARGUMENT" => "Request contains an invalid argument.",
        "SENDER_ID_MISMATCH" => "SenderId mismatch",
        "QUOTA_EXCEEDED" => "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.",
        "UNAVAILABLE" => "The service is currently unavailable.",
        "INTERNAL" => "Internal error encountered.",
        "THIRD_PARTY_AUTH_ERROR" => "Auth error from APNS or Web Push Service",
        "UNAUTHENTICATED" => "Request had invalid authentication credentials.",
        "PERMISSION_DENIED" => "The caller does not have permission",
        _ => "Unknown error.",
    }
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::integrations::fcm::{FcmClient, Message, SendOutcome};

    const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

    async fn start() -> (FcmSandbox, String) {
        let sandbox = FcmSandbox::new();
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        (sandbox, format!("http://{addr}"))
    }

    /// A plain HTTP client, for requests the production client would never make.
    fn http() -> reqwest::Client {
        crate::integrations::install_crypto_provider();
        reqwest::Client::new()
    }

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
    }

    fn sign(key_pem: &str, claims: &Value) -> String {
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("key");
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("signed")
    }

    fn claims() -> Value {
        let iat = now();
        json!({ "iss": SANDBOX_CLIENT_EMAIL, "scope": SCOPE, "aud": "http://sandbox/token", "iat": iat, "exp": iat + 3600 })
    }

    async fn ask_token(base: &str, grant_type: &str, assertion: &str) -> (StatusCode, Value) {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", grant_type)
            .append_pair("assertion", assertion)
            .finish();
        let response = http()
            .post(format!("{base}/token"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("answer");
        let status = response.status();
        (status, response.json().await.expect("JSON"))
    }

    async fn access_token(base: &str) -> String {
        let (status, body) = ask_token(base, JWT_BEARER_GRANT, &sign(SANDBOX_PRIVATE_KEY_PEM, &claims())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    async fn send_raw(base: &str, project: &str, bearer: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = http().post(format!("{base}/v1/projects/{project}/messages:send")).json(body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("answer")
    }

    fn notification(token: &str) -> Value {
        json!({ "message": { "token": token, "notification": { "title": "t", "body": "b" } } })
    }

    /// The error's general status and FCM error code, after checking the body has Google's shape.
    async fn error_of(response: reqwest::Response) -> (u16, String, Option<String>) {
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        let error = &body["error"];
        assert_eq!(error["code"], status, "{body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        let code = error["details"].as_array().map(|details| {
            assert_eq!(details.len(), 1, "{body}");
            assert_eq!(details[0]["@type"], FCM_ERROR_TYPE, "{body}");
            details[0]["errorCode"].as_str().expect("errorCode").to_owned()
        });
        (status, error["status"].as_str().expect("status").to_owned(), code)
    }

    #[test]
    fn the_embedded_keys_are_a_pair() {
        let assertion = sign(SANDBOX_PRIVATE_KEY_PEM, &claims());
        assert!(check_assertion(&assertion).is_ok());
        let foreign = sign(FOREIGN_PRIVATE_KEY_PEM, &claims());
        assert!(check_assertion(&foreign).is_err());
    }

    #[tokio::test]
    async fn issues_access_tokens_for_valid_assertions() {
        let (sandbox, base) = start().await;

        let (status, body) = ask_token(&base, JWT_BEARER_GRANT, &sign(SANDBOX_PRIVATE_KEY_PEM, &claims())).await;

        assert_eq!(status, StatusCode::OK);
        assert!(body["access_token"].as_str().is_some_and(|t| t.starts_with("sbx-") && t.len() > 20), "{body}");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(sandbox.token_requests(), 1);
    }

    #[tokio::test]
    async fn refuses_bad_assertions() {
        let (sandbox, base) = start().await;
        let with = |change: &dyn Fn(&mut Value)| {
            let mut claims = claims();
            change(&mut claims);
            sign(SANDBOX_PRIVATE_KEY_PEM, &claims)
        };
        let cases = [
            (JWT_BEARER_GRANT.to_owned(), sign(FOREIGN_PRIVATE_KEY_PEM, &claims()), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), "not.a.jwt".to_owned(), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), with(&|c| c["iss"] = json!("someone@else.iam")), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), with(&|c| c["aud"] = json!("")), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), with(&|c| drop(c.as_object_mut().map(|c| c.remove("aud")))), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), with(&|c| c["exp"] = json!(now() + 7200)), "invalid_grant"),
            (JWT_BEARER_GRANT.to_owned(), with(&|c| c["exp"] = json!(now() - 3600)), "invalid_grant"),
            (
                JWT_BEARER_GRANT.to_owned(),
                with(&|c| drop(c.as_object_mut().map(|c| c.remove("scope")))),
                "invalid_grant",
            ),
            (
                JWT_BEARER_GRANT.to_owned(),
                with(&|c| c["scope"] = json!("https://www.googleapis.com/auth/drive")),
                "invalid_scope",
            ),
            ("client_credentials".to_owned(), sign(SANDBOX_PRIVATE_KEY_PEM, &claims()), "unsupported_grant_type"),
        ];
        let total = cases.len();

        for (grant_type, assertion, expected) in cases {
            let (status, body) = ask_token(&base, &grant_type, &assertion).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], expected, "{body}");
            assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
        }
        assert_eq!(sandbox.token_requests(), total);
        assert_eq!(sandbox.lock().access_tokens.len(), 0);
    }

    #[tokio::test]
    async fn sends_need_an_access_token_it_issued() {
        let (sandbox, base) = start().await;
        let token = access_token(&base).await;

        let none = send_raw(&base, SANDBOX_PROJECT_ID, None, &notification("device-1")).await;
        let made_up = send_raw(&base, SANDBOX_PROJECT_ID, Some("sbx-made-up"), &notification("device-1")).await;
        let good = send_raw(&base, SANDBOX_PROJECT_ID, Some(&token), &notification("device-1")).await;
        sandbox.expire_access_tokens();
        let expired = send_raw(&base, SANDBOX_PROJECT_ID, Some(&token), &notification("device-1")).await;

        for response in [none, made_up, expired] {
            assert_eq!(error_of(response).await, (401, "UNAUTHENTICATED".to_owned(), None));
        }
        assert_eq!(good.status(), StatusCode::OK);
        let name: Value = good.json().await.expect("JSON");
        assert!(name["name"].as_str().is_some_and(|n| n.starts_with("projects/nene-sandbox/messages/")));
        assert_eq!(sandbox.send_attempts(), 4);
        assert_eq!(sandbox.delivered_to("device-1"), 1);
    }

    #[tokio::test]
    async fn errors_have_fcms_shape() {
        let (sandbox, base) = start().await;
        let token = access_token(&base).await;
        let send = |project: &'static str, body: Value| {
            let (base, token) = (base.clone(), token.clone());
            async move { send_raw(&base, project, Some(&token), &body).await }
        };

        sandbox.fail_next(1, 503, "UNAVAILABLE", Some(7));
        let unavailable = send(SANDBOX_PROJECT_ID, notification("device-2")).await;
        assert_eq!(unavailable.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("7"));
        assert_eq!(error_of(unavailable).await, (503, "UNAVAILABLE".into(), Some("UNAVAILABLE".into())));

        sandbox.fail_next(1, 429, "QUOTA_EXCEEDED", None);
        let quota = send(SANDBOX_PROJECT_ID, notification("device-2")).await;
        assert!(quota.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(error_of(quota).await, (429, "RESOURCE_EXHAUSTED".into(), Some("QUOTA_EXCEEDED".into())));

        sandbox.fail_next(1, 403, "PERMISSION_DENIED", None);
        let denied = send(SANDBOX_PROJECT_ID, notification("device-2")).await;
        assert_eq!(error_of(denied).await, (403, "PERMISSION_DENIED".into(), None));

        sandbox.unregister("device-2");
        let gone = send(SANDBOX_PROJECT_ID, notification("device-2")).await;
        assert_eq!(error_of(gone).await, (404, "NOT_FOUND".into(), Some("UNREGISTERED".into())));

        let invalid = Some("INVALID_ARGUMENT".to_owned());
        for body in [
            json!({}),
            json!({ "message": { "notification": { "title": "no token" } } }),
            json!({ "message": { "token": "device-3" } }),
            json!({ "message": { "token": "device-3", "data": { "n": 1 } } }),
            json!({ "message": { "token": "device 3", "data": { "n": "1" } } }),
            json!({ "message": { "token": "device-3", "data": { "google.x": "1" } } }),
            json!({ "message": { "token": "device-3", "data": { "big": "x".repeat(MAX_PAYLOAD_BYTES) } } }),
        ] {
            let answer = send(SANDBOX_PROJECT_ID, body.clone()).await;
            assert_eq!(error_of(answer).await, (400, "INVALID_ARGUMENT".into(), invalid.clone()), "{body}");
        }

        let other_project = send("someone-else", notification("device-3")).await;
        assert_eq!(error_of(other_project).await, (403, "PERMISSION_DENIED".into(), None));

        sandbox.set_down(true);
        let down = send(SANDBOX_PROJECT_ID, notification("device-3")).await;
        assert_eq!(error_of(down).await, (503, "UNAVAILABLE".into(), Some("UNAVAILABLE".into())));
        sandbox.set_down(false);

        let data_only = send(SANDBOX_PROJECT_ID, json!({ "message": { "token": "device-3", "data": { "a": "b" } } }));
        assert_eq!(data_only.await.status(), StatusCode::OK);
        let delivered = sandbox.delivered();
        assert_eq!(
            delivered,
            vec![Delivered {
                token: "device-3".into(),
                title: String::new(),
                body: String::new(),
                data: BTreeMap::from([("a".into(), "b".into())]),
            }]
        );
        assert_eq!(sandbox.send_attempts(), 14);
    }

    #[tokio::test]
    async fn unknown_routes_answer_googles_not_found() {
        let (_, base) = start().await;

        let response = http().get(format!("{base}/v1/elsewhere")).send().await.expect("answer");

        assert_eq!(error_of(response).await, (404, "NOT_FOUND".into(), None));
    }

    /// Sends through the production client at a rate well beyond what push needs, so a benchmark draining a queue
    /// measures the server, not the sandbox.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_up_with_many_concurrent_sends() {
        let (sandbox, base) = start().await;
        let client = Arc::new(
            FcmClient::new(FcmSandbox::test_account(), &base, &format!("{base}/token"), Duration::from_secs(10))
                .expect("client"),
        );
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let client = Arc::clone(&client);
            tasks.push(tokio::spawn(async move {
                let mut delivered = 0;
                for i in 0..250 {
                    let message = Message {
                        token: format!("device-{worker}-{i}"),
                        title: "t".into(),
                        body: "b".into(),
                        ..Message::default()
                    };
                    if matches!(client.send(&message).await, SendOutcome::Delivered { .. }) {
                        delivered += 1;
                    }
                }
                delivered
            }));
        }

        let mut delivered = 0;
        for task in tasks {
            delivered += task.await.expect("task");
        }

        assert_eq!(delivered, 2_000);
        assert_eq!(sandbox.delivered().len(), 2_000);
        assert_eq!(sandbox.token_requests(), 1);
    }
}
