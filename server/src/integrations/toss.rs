//! The TossPayments client (core API v1): confirm, look up and cancel payments.
//!
//! Money depends on telling apart "Toss said no", "Toss may have done it" and "Toss surely never saw it", so every
//! call ends in a [`TossPayment`] or one of the [`TossError`] classes, and nothing is retried here: the caller owns
//! the idempotency keys and decides whether to retry with the same key, a new key, or look the payment up first.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Deserializer, Serialize};

/// Toss accepts idempotency keys up to this length.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 300;

/// A connection that cannot be opened in this time is not going to be; waiting longer only delays the fallback.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Error codes Toss documents as temporary: the payment was not made, and trying again (with a new idempotency key,
/// since the old one replays this answer) may succeed.
const TEMPORARY_CODES: &[&str] = &[
    "PROVIDER_ERROR",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "UNKNOWN_PAYMENT_ERROR",
];

#[derive(Debug, thiserror::Error)]
pub enum TossError {
    /// Toss answered with its `{code, message}` error body: a definite answer, nothing was done.
    #[error("TossPayments refused the request ({status} {code}): {message}")]
    Rejected { status: u16, code: String, message: String },
    /// The request may have reached Toss but we do not know what it did. Retry with the same idempotency key, or
    /// look the payment up by orderId, before deciding anything.
    #[error("the outcome of the TossPayments request is unknown: {0}")]
    Unknown(String),
    /// The request never reached Toss (refused connection, DNS, connect timeout); it was surely not processed.
    #[error("TossPayments could not be reached: {0}")]
    Unreachable(String),
    /// The client or the request could not be built, so nothing was sent.
    #[error("the TossPayments client is misconfigured: {0}")]
    Config(String),
}

impl TossError {
    /// Whether a [`TossError::Rejected`] is one Toss calls temporary. A retry of it needs a NEW idempotency key,
    /// because the old key would only replay this answer. Other classes are never "temporary" in this sense.
    pub fn is_temporary(&self) -> bool {
        match self {
            TossError::Rejected { status, code, .. } => *status >= 500 || TEMPORARY_CODES.contains(&code.as_str()),
            _ => false,
        }
    }

    /// The Toss error code of a [`TossError::Rejected`].
    pub fn code(&self) -> Option<&str> {
        match self {
            TossError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A payment as Toss describes it. Only the fields the server reads; the rest of Toss's object is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPayment {
    pub payment_key: String,
    pub order_id: String,
    #[serde(default)]
    pub order_name: Option<String>,
    pub status: TossStatus,
    #[serde(default)]
    pub method: Option<String>,
    pub total_amount: i64,
    pub balance_amount: i64,
    #[serde(default)]
    pub requested_at: Option<String>,
    #[serde(default)]
    pub approved_at: Option<String>,
    /// Toss sends `null` rather than `[]` for a payment that was never cancelled.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub cancels: Vec<TossCancel>,
    #[serde(default)]
    pub failure: Option<TossFailure>,
    #[serde(default)]
    pub receipt: Option<TossReceipt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TossStatus {
    Ready,
    InProgress,
    WaitingForDeposit,
    Done,
    Canceled,
    PartialCanceled,
    Aborted,
    Expired,
    /// A status added by Toss after this was written; treat it as "not settled", never as success.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossCancel {
    pub cancel_amount: i64,
    #[serde(default)]
    pub canceled_at: Option<String>,
    #[serde(default)]
    pub transaction_key: Option<String>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TossFailure {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TossReceipt {
    #[serde(default)]
    pub url: String,
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TossCancel>, D::Error> {
    Ok(Option::<Vec<TossCancel>>::deserialize(d)?.unwrap_or_default())
}

/// Toss's error body.
#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody<'a> {
    payment_key: &'a str,
    order_id: &'a str,
    amount: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody<'a> {
    cancel_reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_amount: Option<i64>,
}

pub struct TossClient {
    http: reqwest::Client,
    /// Parsed once so each call only appends path segments (percent-encoded) to it.
    base: Url,
    /// `Basic base64("<secret key>:")`, marked sensitive so it never shows in debug output.
    auth: HeaderValue,
}

impl fmt::Debug for TossClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossClient").field("base_url", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl TossClient {
    /// `base_url` is Toss's API root (`https://api.tosspayments.com`) or the sandbox's, possibly with a path prefix.
    /// `timeout` bounds each whole request (`NENE_TOSS_TIMEOUT_SECS`, 30 s by default); tests shorten it.
    pub fn new(base_url: &str, secret_key: &str, timeout: Duration) -> Result<Self, TossError> {
        let mut base = Url::parse(base_url).map_err(|e| TossError::Config(format!("base URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(TossError::Config(format!("base URL {base_url:?} is not an http(s) URL")));
        }
        base.set_query(None);
        base.set_fragment(None);
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }
        if secret_key.is_empty() {
            return Err(TossError::Config("the secret key is empty".into()));
        }
        if timeout.is_zero() {
            return Err(TossError::Config("the timeout is zero".into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Basic {}", BASE64.encode(format!("{secret_key}:"))))
            .map_err(|_| TossError::Config("the secret key cannot be sent in a header".into()))?;
        auth.set_sensitive(true);

        // reqwest is built without a default crypto provider so that the whole process shares aws-lc-rs; an error
        // here only means another part of the process installed it first.
        super::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // Toss never redirects; following one would turn a POST into a GET somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TossError::Config(format!("building the HTTP client: {}", error_chain(&e))))?;
        Ok(TossClient { http, base, auth })
    }

    /// Confirms (approves) the payment the person authorised in the payment widget. `amount` must be the amount the
    /// order was created with; Toss refuses a mismatch.
    pub async fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> Result<TossPayment, TossError> {
        let url = self.url(&["v1", "payments", "confirm"])?;
        let body = ConfirmBody { payment_key, order_id, amount };
        self.call(Method::POST, url, Some(&body), Some(idempotency_key)).await
    }

    /// `GET /v1/payments/{paymentKey}`.
    pub async fn payment(&self, payment_key: &str) -> Result<TossPayment, TossError> {
        let url = self.url(&["v1", "payments", payment_key])?;
        self.call::<()>(Method::GET, url, None, None).await
    }

    /// `GET /v1/payments/orders/{orderId}`: what to ask after an unknown outcome, since the caller always knows the
    /// orderId even when it never learned the paymentKey's fate.
    pub async fn payment_by_order(&self, order_id: &str) -> Result<TossPayment, TossError> {
        let url = self.url(&["v1", "payments", "orders", order_id])?;
        self.call::<()>(Method::GET, url, None, None).await
    }

    /// Cancels `amount` of the payment, or all that is left of it when `amount` is `None`.
    pub async fn cancel(
        &self,
        payment_key: &str,
        reason: &str,
        amount: Option<i64>,
        idempotency_key: &str,
    ) -> Result<TossPayment, TossError> {
        let url = self.url(&["v1", "payments", payment_key, "cancel"])?;
        let body = CancelBody { cancel_reason: reason, cancel_amount: amount };
        self.call(Method::POST, url, Some(&body), Some(idempotency_key)).await
    }

    fn url(&self, segments: &[&str]) -> Result<Url, TossError> {
        // The URL parser drops "." and ".." segments, which would silently address another resource.
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(TossError::Config(format!("{bad:?} cannot be a paymentKey or orderId")));
        }
        let mut url = self.base.clone();
        // `new` refused URLs that cannot be a base, so this always succeeds; segments are percent-encoded, so a
        // key containing '/' or '?' cannot change which resource is addressed.
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        Ok(url)
    }

    async fn call<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<TossPayment, TossError> {
        if let Some(key) = idempotency_key
            && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(TossError::Config(format!(
                "idempotency key {key:?} must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            )));
        }
        let mut request = self.http.request(method.clone(), url.clone()).header(AUTHORIZATION, self.auth.clone());
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }

        let started = Instant::now();
        let (status, result) = exchange(request).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let path = url.path();
        let key = idempotency_key.unwrap_or_default();
        match (&result, status) {
            (Ok(payment), Some(status)) => tracing::info!(
                %method, path, status = status.as_u16(), elapsed_ms, idempotency_key = key,
                payment_status = ?payment.status, "TossPayments call"
            ),
            // A refusal with a 4xx is business as usual (a declined card); anything else deserves attention.
            (Err(e @ TossError::Rejected { .. }), Some(status)) if !e.is_temporary() => tracing::info!(
                %method, path, status = status.as_u16(), elapsed_ms, idempotency_key = key, error = %e,
                "TossPayments call refused"
            ),
            (Err(e), Some(status)) => tracing::warn!(
                %method, path, status = status.as_u16(), elapsed_ms, idempotency_key = key, error = %e,
                "TossPayments call failed"
            ),
            (Err(e), None) => tracing::warn!(
                %method, path, elapsed_ms, idempotency_key = key, error = %e, "TossPayments call failed"
            ),
            (Ok(_), None) => {}
        }
        result
    }
}

/// Sends the request and sorts the result into the outcome classes. Returns the HTTP status when one arrived.
async fn exchange(request: reqwest::RequestBuilder) -> (Option<StatusCode>, Result<TossPayment, TossError>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (None, Err(classify_send_error(&e))),
    };
    let status = response.status();
    let body = match response.bytes().await {
        Ok(body) => body,
        // Toss has answered (so it saw the request) but we lost the answer.
        Err(e) => {
            return (
                Some(status),
                Err(TossError::Unknown(format!("HTTP {status}, reading the body: {}", error_chain(&e)))),
            );
        }
    };
    let result = if status.is_success() {
        serde_json::from_slice::<TossPayment>(&body).map_err(|e| {
            TossError::Unknown(format!(
                "HTTP {status} with a payment that cannot be read: {e}; body: {}",
                excerpt(&body)
            ))
        })
    } else {
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { code, message }) => Err(TossError::Rejected { status: status.as_u16(), code, message }),
            // Without Toss's own error body this came from something in between (a proxy, a gateway) or from a
            // Toss that failed midway; either way nobody can say whether the payment was touched.
            Err(_) => Err(TossError::Unknown(format!("HTTP {status} without a Toss error body: {}", excerpt(&body)))),
        }
    };
    (Some(status), result)
}

fn classify_send_error(e: &reqwest::Error) -> TossError {
    let detail = error_chain(e);
    if e.is_connect() {
        // Connecting (DNS, TCP, TLS) happens before a single byte of the request is sent.
        TossError::Unreachable(detail)
    } else if e.is_builder() {
        TossError::Config(detail)
    } else {
        // Timeouts and broken connections after connecting: the request may have been received and acted on.
        TossError::Unknown(detail)
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
    use std::time::Duration;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    use super::*;
    use crate::sandbox::toss::{Fault, Op, TossSandbox};

    const SECRET: &str = "test_sk_sandbox_secret";

    async fn start() -> (TossSandbox, TossClient) {
        let (sandbox, base_url) = start_sandbox().await;
        let client = TossClient::new(&base_url, SECRET, Duration::from_secs(5)).expect("client builds");
        (sandbox, client)
    }

    async fn start_sandbox() -> (TossSandbox, String) {
        let sandbox = TossSandbox::new(SECRET);
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        (sandbox, format!("http://{addr}"))
    }

    fn rejected_code(result: Result<TossPayment, TossError>) -> (u16, String) {
        match result {
            Err(TossError::Rejected { status, code, .. }) => (status, code),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn confirm_approves_the_payment() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-happy-1", 15_000, "30일 챌린지 참가");

        let payment =
            client.confirm(&key, "order-happy-1", 15_000, "confirm-order-happy-1-1").await.expect("confirmed");

        assert_eq!(payment.payment_key, key);
        assert_eq!(payment.order_id, "order-happy-1");
        assert_eq!(payment.order_name.as_deref(), Some("30일 챌린지 참가"));
        assert_eq!(payment.status, TossStatus::Done);
        assert_eq!(payment.method.as_deref(), Some("카드"));
        assert_eq!((payment.total_amount, payment.balance_amount), (15_000, 15_000));
        assert!(payment.approved_at.is_some() && payment.requested_at.is_some());
        assert!(payment.cancels.is_empty());
        assert!(payment.receipt.is_some_and(|r| !r.url.is_empty()));
        assert_eq!(sandbox.calls(Op::Confirm), 1);
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "DONE");
    }

    #[tokio::test]
    async fn a_replayed_confirm_returns_the_first_answer_without_processing_again() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-replay-1", 5_000, "replay");

        let first = client.confirm(&key, "order-replay-1", 5_000, "confirm-replay-1").await.expect("confirmed");
        let again = client.confirm(&key, "order-replay-1", 5_000, "confirm-replay-1").await.expect("replayed");

        assert_eq!(first, again);
        assert_eq!(sandbox.calls(Op::Confirm), 2);
        // Processing it again would have been refused: only the replay can have produced the success above.
        let fresh = client.confirm(&key, "order-replay-1", 5_000, "confirm-replay-2").await;
        assert_eq!(rejected_code(fresh), (400, "ALREADY_PROCESSED_PAYMENT".into()));
    }

    #[tokio::test]
    async fn a_wrong_amount_is_refused() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-amount-1", 10_000, "amount");

        let result = client.confirm(&key, "order-amount-1", 9_000, "confirm-amount-1").await;

        let err = result.expect_err("refused");
        assert!(!err.is_temporary());
        assert_eq!(rejected_code(Err(err)), (400, "INVALID_REQUEST".into()));
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
    }

    #[tokio::test]
    async fn a_declined_card_is_a_definite_refusal() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-reject-1", 10_000, "reject");
        sandbox.push_fault(
            Op::Confirm,
            Fault::Reject {
                status: 403,
                code: "REJECT_CARD_PAYMENT".into(),
                message: "한도초과 혹은 잔액부족으로 결제에 실패했습니다.".into(),
            },
        );

        let err = client.confirm(&key, "order-reject-1", 10_000, "confirm-reject-1").await.expect_err("declined");

        assert!(!err.is_temporary());
        assert_eq!(err.code(), Some("REJECT_CARD_PAYMENT"));
        assert_eq!(rejected_code(Err(err)), (403, "REJECT_CARD_PAYMENT".into()));
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
    }

    #[tokio::test]
    async fn a_timeout_is_unknown_and_the_payment_can_be_found_afterwards() {
        let (sandbox, base_url) = start_sandbox().await;
        let client = TossClient::new(&base_url, SECRET, Duration::from_millis(300)).expect("client");
        let key = sandbox.create_session("order-timeout-1", 20_000, "timeout");
        sandbox.push_fault(Op::Confirm, Fault::DelayThenApply(Duration::from_secs(5)));

        let err = client.confirm(&key, "order-timeout-1", 20_000, "confirm-timeout-1").await.expect_err("timed out");
        assert!(matches!(err, TossError::Unknown(_)), "{err:?}");
        assert!(!err.is_temporary());

        let found = client.payment_by_order("order-timeout-1").await.expect("found");
        assert_eq!(found.status, TossStatus::Done);
        assert_eq!(found.payment_key, key);

        let retried = client.confirm(&key, "order-timeout-1", 20_000, "confirm-timeout-1").await.expect("replayed");
        assert_eq!(retried.status, TossStatus::Done);
        assert_eq!(retried.approved_at, found.approved_at);
    }

    #[tokio::test]
    async fn an_internal_error_is_temporary_and_changes_nothing() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-fail-1", 7_000, "fail");
        sandbox.push_fault(Op::Confirm, Fault::DelayThenFail(Duration::from_millis(20)));

        let err = client.confirm(&key, "order-fail-1", 7_000, "confirm-fail-1").await.expect_err("failed");

        assert!(err.is_temporary());
        assert_eq!(err.code(), Some("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"));
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
        let done = client.confirm(&key, "order-fail-1", 7_000, "confirm-fail-2").await.expect("second attempt");
        assert_eq!(done.status, TossStatus::Done);
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = TossClient::new(&format!("http://{addr}"), SECRET, Duration::from_secs(2)).expect("client");

        let err = client.confirm("tsb_x", "order-closed-1", 1_000, "confirm-closed-1").await.expect_err("no server");

        assert!(matches!(err, TossError::Unreachable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn lookups_find_payments_and_refuse_unknown_ones() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-lookup-1", 3_000, "lookup");

        let by_key = client.payment(&key).await.expect("by key");
        let by_order = client.payment_by_order("order-lookup-1").await.expect("by order");

        assert_eq!(by_key, by_order);
        assert_eq!(by_key.status, TossStatus::InProgress);
        assert_eq!(sandbox.calls(Op::Get), 2);
        assert_eq!(rejected_code(client.payment("tsb_missing").await), (404, "NOT_FOUND_PAYMENT".into()));
        assert_eq!(rejected_code(client.payment_by_order("order-none").await), (404, "NOT_FOUND_PAYMENT".into()));
        // A key that looks like a path must stay one segment, not reach another route.
        let odd = client.payment("../orders/order-lookup-1").await;
        assert_eq!(rejected_code(odd), (404, "NOT_FOUND_PAYMENT".into()));
        assert!(matches!(client.cancel("..", "x", None, "cancel-dots").await, Err(TossError::Config(_))));
        assert_eq!(sandbox.calls(Op::Cancel), 0);
    }

    #[tokio::test]
    async fn partial_then_full_cancel() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-cancel-1", 10_000, "cancel");
        client.confirm(&key, "order-cancel-1", 10_000, "confirm-cancel-1").await.expect("confirmed");

        let partial = client.cancel(&key, "참가 취소", Some(3_000), "cancel-1-1").await.expect("partial");
        assert_eq!(partial.status, TossStatus::PartialCanceled);
        assert_eq!(partial.balance_amount, 7_000);
        assert_eq!(partial.cancels.len(), 1);

        let full = client.cancel(&key, "남은 금액 환불", None, "cancel-1-2").await.expect("rest");
        assert_eq!(full.status, TossStatus::Canceled);
        assert_eq!(full.balance_amount, 0);
        let amounts: Vec<i64> = full.cancels.iter().map(|c| c.cancel_amount).collect();
        assert_eq!(amounts, vec![3_000, 7_000]);
        assert_eq!(full.cancels[1].cancel_reason.as_deref(), Some("남은 금액 환불"));
        assert!(full.cancels.iter().all(|c| c.transaction_key.is_some() && c.canceled_at.is_some()));
        assert_eq!(sandbox.cancel_amounts(&key), vec![3_000, 7_000]);

        let again = client.cancel(&key, "again", None, "cancel-1-3").await;
        assert_eq!(rejected_code(again), (400, "ALREADY_CANCELED_PAYMENT".into()));
    }

    #[tokio::test]
    async fn cancelling_more_than_is_left_is_refused() {
        let (sandbox, client) = start().await;
        let key = sandbox.create_session("order-over-1", 10_000, "over");
        client.confirm(&key, "order-over-1", 10_000, "confirm-over-1").await.expect("confirmed");

        let result = client.cancel(&key, "too much", Some(10_001), "cancel-over-1").await;

        assert_eq!(rejected_code(result), (400, "NOT_CANCELABLE_AMOUNT".into()));
        assert!(sandbox.cancel_amounts(&key).is_empty());
        assert_eq!(sandbox.payment(&key).expect("stored")["balanceAmount"], 10_000);
    }

    #[tokio::test]
    async fn a_wrong_secret_key_is_unauthorized() {
        let (sandbox, base_url) = start_sandbox().await;
        let key = sandbox.create_session("order-auth-1", 1_000, "auth");
        let client = TossClient::new(&base_url, "test_sk_someone_else", Duration::from_secs(5)).expect("client");

        let result = client.confirm(&key, "order-auth-1", 1_000, "confirm-auth-1").await;

        assert_eq!(rejected_code(result), (401, "UNAUTHORIZED_KEY".into()));
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
    }

    #[tokio::test]
    async fn works_under_a_path_prefix() {
        let sandbox = TossSandbox::new(SECRET);
        let app = Router::new().nest("/dev/toss", sandbox.router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let client = TossClient::new(&format!("http://{addr}/dev/toss/"), SECRET, Duration::from_secs(5)).expect("c");
        let key = sandbox.create_session("order-prefix-1", 2_000, "prefix");

        let payment = client.confirm(&key, "order-prefix-1", 2_000, "confirm-prefix-1").await.expect("confirmed");

        assert_eq!(payment.status, TossStatus::Done);
    }

    /// Answers that are not Toss's: the outcome cannot be known from them.
    #[tokio::test]
    async fn answers_without_a_toss_body_are_unknown() {
        let app = Router::new()
            .route("/v1/payments/confirm", post(|| async { (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>") }))
            .route("/v1/payments/{key}", get(|| async { (StatusCode::OK, "{\"paymentKey\": 1}") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let client = TossClient::new(&format!("http://{addr}"), SECRET, Duration::from_secs(5)).expect("client");

        let gateway = client.confirm("tsb_x", "order-gw-1", 1_000, "confirm-gw-1").await.expect_err("502");
        let garbled = client.payment("tsb_x").await.expect_err("unreadable");

        assert!(matches!(gateway, TossError::Unknown(_)), "{gateway:?}");
        assert!(matches!(garbled, TossError::Unknown(_)), "{garbled:?}");
    }

    #[test]
    fn reads_tosss_payment_object() {
        let body = r#"{
            "mId": "tvivarepublica", "version": "2022-11-16", "paymentKey": "pk", "orderId": "order-1",
            "orderName": null, "status": "SOMETHING_NEW", "method": null, "totalAmount": 1000,
            "balanceAmount": 1000, "requestedAt": "2024-01-01T00:00:00+09:00", "approvedAt": null,
            "cancels": null, "failure": {"code": "X", "message": "y"}, "receipt": null, "easyPay": {"provider": "토스페이"}
        }"#;

        let payment: TossPayment = serde_json::from_str(body).expect("parses");

        assert_eq!(payment.status, TossStatus::Unknown);
        assert!(payment.cancels.is_empty());
        assert_eq!(payment.failure, Some(TossFailure { code: "X".into(), message: "y".into() }));
        assert_eq!(payment.receipt, None);
    }

    #[test]
    fn temporary_refusals() {
        let rejected = |status, code: &str| TossError::Rejected { status, code: code.into(), message: String::new() };
        assert!(rejected(400, "PROVIDER_ERROR").is_temporary());
        assert!(rejected(500, "FAILED_INTERNAL_SYSTEM_PROCESSING").is_temporary());
        assert!(rejected(503, "ANYTHING").is_temporary());
        assert!(!rejected(403, "REJECT_CARD_PAYMENT").is_temporary());
        assert!(!TossError::Unknown("timeout".into()).is_temporary());
    }

    #[test]
    fn refuses_bad_configuration() {
        assert!(matches!(TossClient::new("not a url", SECRET, Duration::from_secs(1)), Err(TossError::Config(_))));
        assert!(matches!(TossClient::new("ftp://x", SECRET, Duration::from_secs(1)), Err(TossError::Config(_))));
        assert!(matches!(TossClient::new("http://x", "", Duration::from_secs(1)), Err(TossError::Config(_))));
        assert!(matches!(TossClient::new("http://x", SECRET, Duration::ZERO), Err(TossError::Config(_))));
        let debug = format!("{:?}", TossClient::new("http://x", SECRET, Duration::from_secs(1)).expect("client"));
        assert!(!debug.contains(SECRET) && !debug.contains(&BASE64.encode(format!("{SECRET}:"))));
    }
}
