//! A sandbox of TossPayments' core API v1 (confirm, look up, cancel, idempotency keys) and of its payment window, for
//! dev mode and tests.
//!
//! It speaks the documented wire protocol rather than offering a fake client, so the production
//! [`TossClient`](crate::integrations::toss::TossClient) is what the tests exercise, and tests can queue faults
//! (refusals, lost answers, internal errors) to see how the server copes with each.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{FixedOffset, SecondsFormat, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Toss keeps at most this many characters of an idempotency key.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 300;

/// Toss reports times in Korea Standard Time.
const KST_OFFSET_SECS: i32 = 9 * 3600;

/// The kinds of request a fault can be queued for and calls are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Confirm,
    Get,
    Cancel,
}

/// What the next request of an [`Op`] meets instead of a plain answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this error instead of processing.
    Reject { status: u16, code: String, message: String },
    /// Process the request normally (state changes!) but answer only after the delay. Longer than the client's
    /// timeout, this is "Toss did it but we never heard".
    DelayThenApply(Duration),
    /// Wait, then answer 500 FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING without processing.
    DelayThenFail(Duration),
}

/// The sandbox; clones share one state.
#[derive(Clone)]
pub struct TossSandbox {
    inner: Arc<Inner>,
}

struct Inner {
    /// What a valid `Basic` credential decodes to: `<secret key>:`.
    credential: Vec<u8>,
    state: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    payments: HashMap<String, Payment>,
    /// orderId → paymentKey of the payment that owns the order.
    by_order: HashMap<String, String>,
    faults: HashMap<Op, VecDeque<Fault>>,
    calls: HashMap<Op, usize>,
    /// First answer per idempotency key. One secret key per sandbox, so the key alone is the scope.
    replies: HashMap<String, Answer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    InProgress,
    Done,
    PartialCanceled,
    Canceled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Done => "DONE",
            Status::PartialCanceled => "PARTIAL_CANCELED",
            Status::Canceled => "CANCELED",
        }
    }

    fn is_confirmed(self) -> bool {
        self != Status::InProgress
    }
}

struct Payment {
    payment_key: String,
    order_id: String,
    order_name: String,
    status: Status,
    method: Option<&'static str>,
    total_amount: i64,
    balance_amount: i64,
    requested_at: String,
    approved_at: Option<String>,
    last_transaction_key: Option<String>,
    cancels: Vec<Cancel>,
}

struct Cancel {
    cancel_amount: i64,
    cancel_reason: String,
    canceled_at: String,
    transaction_key: String,
    /// What was left to cancel after this one.
    refundable_amount: i64,
}

impl Payment {
    /// The Payment object as Toss sends it, spelled out here rather than derived from the client's types so that a
    /// misnamed field in either shows up in the tests.
    fn to_json(&self) -> Value {
        let cancels: Vec<Value> = self
            .cancels
            .iter()
            .map(|c| {
                json!({
                    "cancelAmount": c.cancel_amount,
                    "cancelReason": c.cancel_reason,
                    "canceledAt": c.canceled_at,
                    "transactionKey": c.transaction_key,
                    "taxFreeAmount": 0,
                    "refundableAmount": c.refundable_amount,
                    "cancelStatus": "DONE",
                })
            })
            .collect();
        let receipt = self
            .approved_at
            .as_ref()
            .map(|_| json!({ "url": format!("https://sandbox.tosspayments.invalid/receipt/{}", self.payment_key) }));
        json!({
            "mId": "tsandbox",
            "version": "2022-11-16",
            "type": "NORMAL",
            "paymentKey": self.payment_key,
            "orderId": self.order_id,
            "orderName": self.order_name,
            "currency": "KRW",
            "country": "KR",
            "status": self.status.as_str(),
            "method": self.method,
            "totalAmount": self.total_amount,
            "balanceAmount": self.balance_amount,
            "requestedAt": self.requested_at,
            "approvedAt": self.approved_at,
            "lastTransactionKey": self.last_transaction_key,
            "isPartialCancelable": true,
            "cancels": cancels,
            "failure": null,
            "receipt": receipt,
        })
    }
}

/// One HTTP answer, kept whole so an idempotency key can replay it.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Answer { status: StatusCode::OK, body }
    }

    fn error(status: StatusCode, code: &str, message: &str) -> Self {
        Answer { status, body: json!({ "code": code, "message": message }) }
    }

    fn invalid(message: &str) -> Self {
        Answer::error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmRequest {
    payment_key: String,
    order_id: String,
    amount: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelRequest {
    cancel_reason: String,
    #[serde(default)]
    cancel_amount: Option<i64>,
}

impl TossSandbox {
    /// A sandbox that accepts `Basic` authentication with `secret_key` only.
    pub fn new(secret_key: &str) -> Self {
        TossSandbox {
            inner: Arc::new(Inner {
                credential: format!("{secret_key}:").into_bytes(),
                state: Mutex::new(Ledger::default()),
            }),
        }
    }

    /// The API and the payment window, ready to serve alone or to nest under a prefix (`/dev/toss`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/payments/confirm", post(confirm))
            .route("/v1/payments/orders/{order_id}", get(payment_by_order))
            .route("/v1/payments/{payment_key}", get(payment_by_key))
            .route("/v1/payments/{payment_key}/cancel", post(cancel))
            .route("/sandbox/pay", get(pay_page))
            .route("/sandbox/pay/approve", get(pay_approve))
            .route("/sandbox/pay/cancel", get(pay_cancel))
            .fallback(|| async {
                Answer::error(StatusCode::NOT_FOUND, "NOT_FOUND", "존재하지 않는 API 입니다.")
            })
            .method_not_allowed_fallback(|| async {
                Answer::error(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "허용되지 않는 메서드 입니다.")
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
                tracing::error!(error = %e, "the TossPayments sandbox stopped serving");
            }
        });
        Ok((addr, task))
    }

    /// What the payment widget does when the person pays: creates a payment waiting for confirmation
    /// (IN_PROGRESS) for `order_id` and `amount`, and returns its paymentKey. A later session for the same order
    /// takes the order over unless an earlier one was already confirmed.
    pub fn create_session(&self, order_id: &str, amount: i64, order_name: &str) -> String {
        let payment_key = format!("tsb_{}", random_alphanumeric(20));
        let payment = Payment {
            payment_key: payment_key.clone(),
            order_id: order_id.to_owned(),
            order_name: order_name.to_owned(),
            status: Status::InProgress,
            method: None,
            total_amount: amount,
            balance_amount: amount,
            requested_at: now(),
            approved_at: None,
            last_transaction_key: None,
            cancels: Vec::new(),
        };
        let mut ledger = self.lock();
        if !ledger.order_confirmed(order_id) {
            ledger.by_order.insert(order_id.to_owned(), payment_key.clone());
        }
        ledger.payments.insert(payment_key.clone(), payment);
        payment_key
    }

    /// Queues `fault` for the next request of `op`; each request consumes at most one.
    pub fn push_fault(&self, op: Op, fault: Fault) {
        self.lock().faults.entry(op).or_default().push_back(fault);
    }

    /// How many requests of `op` arrived, whatever became of them (refused, replayed, faulted).
    pub fn calls(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// The cancelAmount of each successful cancel of the payment, in order.
    pub fn cancel_amounts(&self, payment_key: &str) -> Vec<i64> {
        self.lock()
            .payments
            .get(payment_key)
            .map(|p| p.cancels.iter().map(|c| c.cancel_amount).collect())
            .unwrap_or_default()
    }

    /// The payment's current Payment object, as the API would return it.
    pub fn payment(&self, payment_key: &str) -> Option<Value> {
        self.lock().payments.get(payment_key).map(Payment::to_json)
    }

    /// A panicking test must not take every later call down with it, so a poisoned lock is used as is; each
    /// change to the ledger is made whole before anything can panic.
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("basic")
            && BASE64.decode(encoded.trim()).is_ok_and(|decoded| decoded == self.inner.credential)
    }

    /// Everything every API request goes through: counting, authentication, the idempotency key, faults.
    async fn handle(&self, op: Op, headers: &HeaderMap, process: impl FnOnce(&mut Ledger) -> Answer) -> Answer {
        let idempotency_key = match op {
            Op::Get => None,
            Op::Confirm | Op::Cancel => headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned)),
        };
        let (idempotency_key, fault) = {
            let mut ledger = self.lock();
            *ledger.calls.entry(op).or_default() += 1;
            if !self.authorized(headers) {
                return Answer::error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED_KEY",
                    "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
                );
            }
            let idempotency_key = match idempotency_key {
                None => None,
                Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN => Some(key),
                Some(_) => return Answer::invalid("Idempotency-Key는 1자 이상 300자 이하여야 합니다."),
            };
            (idempotency_key, ledger.faults.get_mut(&op).and_then(VecDeque::pop_front))
        };

        let answer = match fault {
            None => self.apply(idempotency_key.as_deref(), process),
            Some(Fault::Reject { status, code, message }) => {
                Answer::error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), &code, &message)
            }
            Some(Fault::DelayThenApply(delay)) => {
                let answer = self.apply(idempotency_key.as_deref(), process);
                tokio::time::sleep(delay).await;
                answer
            }
            Some(Fault::DelayThenFail(delay)) => {
                tokio::time::sleep(delay).await;
                Answer::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
                    "결제가 완료되지 않았어요. 다시 시도해주세요.",
                )
            }
        };
        tracing::debug!(?op, status = answer.status.as_u16(), code = ?answer.body.get("code"), "TossPayments sandbox");
        answer
    }

    /// Processes a request, or replays the first answer given to its idempotency key (errors included).
    fn apply(&self, idempotency_key: Option<&str>, process: impl FnOnce(&mut Ledger) -> Answer) -> Answer {
        let mut ledger = self.lock();
        if let Some(first) = idempotency_key.and_then(|key| ledger.replies.get(key)) {
            return first.clone();
        }
        let answer = process(&mut ledger);
        if let Some(key) = idempotency_key {
            ledger.replies.insert(key.to_owned(), answer.clone());
        }
        answer
    }
}

impl Ledger {
    fn order_confirmed(&self, order_id: &str) -> bool {
        self.by_order.get(order_id).and_then(|key| self.payments.get(key)).is_some_and(|p| p.status.is_confirmed())
    }

    fn confirm(&mut self, body: &[u8]) -> Answer {
        let Ok(req) = serde_json::from_slice::<ConfirmRequest>(body) else {
            return Answer::invalid("paymentKey, orderId, amount는 필수 값입니다.");
        };
        let owner = self.by_order.get(&req.order_id).cloned();
        let order_taken = owner.as_deref() != Some(req.payment_key.as_str()) && self.order_confirmed(&req.order_id);
        let Some(payment) = self.payments.get_mut(&req.payment_key) else {
            return Answer::error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND_PAYMENT_SESSION",
                "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
            );
        };
        if payment.order_id != req.order_id || payment.total_amount != req.amount {
            return Answer::invalid("결제 정보(orderId, amount)가 결제 요청과 일치하지 않습니다.");
        }
        if payment.status.is_confirmed() {
            return Answer::error(StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.");
        }
        if order_taken {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "DUPLICATED_ORDER_ID",
                "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
            );
        }
        payment.status = Status::Done;
        payment.method = Some("카드");
        payment.balance_amount = payment.total_amount;
        payment.approved_at = Some(now());
        payment.last_transaction_key = Some(random_alphanumeric(32));
        let answer = Answer::ok(payment.to_json());
        self.by_order.insert(req.order_id, req.payment_key);
        answer
    }

    fn lookup(&self, payment_key: Option<&str>) -> Answer {
        match payment_key.and_then(|key| self.payments.get(key)) {
            Some(payment) => Answer::ok(payment.to_json()),
            None => Answer::error(StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다."),
        }
    }

    fn cancel(&mut self, payment_key: &str, body: &[u8]) -> Answer {
        let Ok(req) = serde_json::from_slice::<CancelRequest>(body) else {
            return Answer::invalid("cancelReason은 필수 값입니다.");
        };
        if req.cancel_reason.trim().is_empty() {
            return Answer::invalid("cancelReason은 필수 값입니다.");
        }
        let Some(payment) = self.payments.get_mut(payment_key) else {
            return Answer::error(StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.");
        };
        match payment.status {
            Status::InProgress => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "NOT_CANCELABLE_PAYMENT",
                    "취소 할 수 없는 결제 입니다.",
                );
            }
            Status::Canceled => {
                return Answer::error(StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.");
            }
            Status::Done | Status::PartialCanceled if payment.balance_amount == 0 => {
                return Answer::error(StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.");
            }
            Status::Done | Status::PartialCanceled => {}
        }
        let amount = req.cancel_amount.unwrap_or(payment.balance_amount);
        if amount <= 0 {
            return Answer::invalid("cancelAmount는 0보다 커야 합니다.");
        }
        if amount > payment.balance_amount {
            return Answer::error(StatusCode::BAD_REQUEST, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.");
        }
        payment.balance_amount -= amount;
        payment.status = if payment.balance_amount == 0 { Status::Canceled } else { Status::PartialCanceled };
        let transaction_key = random_alphanumeric(32);
        payment.last_transaction_key = Some(transaction_key.clone());
        payment.cancels.push(Cancel {
            cancel_amount: amount,
            cancel_reason: req.cancel_reason,
            canceled_at: now(),
            transaction_key,
            refundable_amount: payment.balance_amount,
        });
        Answer::ok(payment.to_json())
    }
}

async fn confirm(State(sandbox): State<TossSandbox>, headers: HeaderMap, body: Bytes) -> Answer {
    sandbox.handle(Op::Confirm, &headers, |ledger| ledger.confirm(&body)).await
}

async fn payment_by_key(
    State(sandbox): State<TossSandbox>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
) -> Answer {
    sandbox.handle(Op::Get, &headers, |ledger| ledger.lookup(Some(&payment_key))).await
}

async fn payment_by_order(
    State(sandbox): State<TossSandbox>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    sandbox
        .handle(Op::Get, &headers, |ledger| {
            let key = ledger.by_order.get(&order_id).cloned();
            ledger.lookup(key.as_deref())
        })
        .await
}

async fn cancel(
    State(sandbox): State<TossSandbox>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    sandbox.handle(Op::Cancel, &headers, |ledger| ledger.cancel(&payment_key, &body)).await
}

/// What the server's checkout page sends the person to, as it would open Toss's payment window.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayParams {
    order_id: String,
    amount: i64,
    #[serde(default)]
    order_name: String,
    success_url: String,
    fail_url: String,
}

impl PayParams {
    /// Toss's payment window refuses these before anyone can pay.
    fn check(&self) -> Result<(), String> {
        let order_id_ok = (6..=64).contains(&self.order_id.len())
            && self.order_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !order_id_ok {
            return Err("orderId must be 6 to 64 characters of A-Z a-z 0-9 - _".into());
        }
        if self.amount <= 0 {
            return Err("amount must be positive".into());
        }
        if self.success_url.is_empty() || self.fail_url.is_empty() {
            return Err("successUrl and failUrl are required".into());
        }
        Ok(())
    }

    /// The same parameters again, for the links from the page to its approve and cancel routes.
    fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("orderId", &self.order_id)
            .append_pair("amount", &self.amount.to_string())
            .append_pair("orderName", &self.order_name)
            .append_pair("successUrl", &self.success_url)
            .append_pair("failUrl", &self.fail_url)
            .finish()
    }
}

fn bad_pay_request(message: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>테스트 결제 / Sandbox payment</title>\
         </head><body><h1>잘못된 결제 요청 / Invalid payment request</h1><p>{}</p></body></html>",
        escape_html(message)
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

/// The parameters, or why the page cannot be shown.
fn pay_params(params: Result<Query<PayParams>, QueryRejection>) -> Result<PayParams, String> {
    let Query(params) = params.map_err(|e| e.body_text())?;
    params.check()?;
    Ok(params)
}

async fn pay_page(params: Result<Query<PayParams>, QueryRejection>) -> Response {
    let params = match pay_params(params) {
        Ok(params) => params,
        Err(message) => return bad_pay_request(&message),
    };
    let query = escape_html(&params.query());
    // Relative links, because the router may be nested under a prefix it cannot know.
    let page = format!(
        r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>테스트 결제 / Sandbox payment</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f2f4f6; margin: 0; }}
main {{ max-width: 24rem; margin: 3rem auto; background: #fff; border-radius: 1rem; padding: 1.5rem; }}
.note {{ color: #6b7684; font-size: .9rem; }}
.amount {{ font-size: 1.6rem; font-weight: 700; }}
a {{ display: block; text-align: center; padding: .8rem; border-radius: .6rem; margin-top: .6rem;
     text-decoration: none; font-weight: 600; }}
.pay {{ background: #3182f6; color: #fff; }}
.cancel {{ background: #e5e8eb; color: #333d4b; }}
</style>
</head>
<body>
<main>
<h1>테스트 결제 / Sandbox payment</h1>
<p class="note">실제 돈은 오가지 않습니다. / No real money moves.</p>
<p>{order_name}</p>
<p class="note">주문번호 / Order: {order_id}</p>
<p class="amount">{amount}원 (KRW)</p>
<a class="pay" href="pay/approve?{query}">결제하기 / Pay</a>
<a class="cancel" href="pay/cancel?{query}">취소 / Cancel</a>
</main>
</body>
</html>
"#,
        order_name = escape_html(&params.order_name),
        order_id = escape_html(&params.order_id),
        amount = group_thousands(params.amount),
    );
    ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
}

async fn pay_approve(State(sandbox): State<TossSandbox>, params: Result<Query<PayParams>, QueryRejection>) -> Response {
    let params = match pay_params(params) {
        Ok(params) => params,
        Err(message) => return bad_pay_request(&message),
    };
    if sandbox.lock().order_confirmed(&params.order_id) {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", "DUPLICATED_ORDER_ID")
            .append_pair("message", "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.")
            .append_pair("orderId", &params.order_id)
            .finish();
        return see_other(&params.fail_url, &query);
    }
    let payment_key = sandbox.create_session(&params.order_id, params.amount, &params.order_name);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("paymentType", "NORMAL")
        .append_pair("paymentKey", &payment_key)
        .append_pair("orderId", &params.order_id)
        .append_pair("amount", &params.amount.to_string())
        .finish();
    see_other(&params.success_url, &query)
}

async fn pay_cancel(params: Result<Query<PayParams>, QueryRejection>) -> Response {
    let params = match pay_params(params) {
        Ok(params) => params,
        Err(message) => return bad_pay_request(&message),
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("code", "PAY_PROCESS_CANCELED")
        .append_pair("message", "사용자에 의해 결제가 취소되었습니다.")
        .append_pair("orderId", &params.order_id)
        .finish();
    see_other(&params.fail_url, &query)
}

/// 303 to `url` with `query` appended. Built by hand because axum's `Redirect` panics on a value that cannot be a
/// header, and these URLs come from the request.
fn see_other(url: &str, query: &str) -> Response {
    let separator = if url.contains('?') { '&' } else { '?' };
    match HeaderValue::from_str(&format!("{url}{separator}{query}")) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => bad_pay_request("successUrl and failUrl must be plain URLs"),
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 15000 → "15,000", as Korean shops show prices.
fn group_thousands(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if amount < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

fn now() -> String {
    let now = Utc::now();
    match FixedOffset::east_opt(KST_OFFSET_SECS) {
        Some(kst) => now.with_timezone(&kst).to_rfc3339_opts(SecondsFormat::Secs, true),
        None => now.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reqwest::Url;

    use super::*;
    use crate::integrations::toss::{TossClient, TossError, TossStatus};

    const SECRET: &str = "test_sk_sandbox_secret";

    async fn start() -> (TossSandbox, String, TossClient) {
        let sandbox = TossSandbox::new(SECRET);
        let (addr, _task) = sandbox.serve().await.expect("sandbox listens");
        let base = format!("http://{addr}");
        let client = TossClient::new(&base, SECRET, Duration::from_secs(5)).expect("client builds");
        (sandbox, base, client)
    }

    fn code_of(result: Result<impl std::fmt::Debug, TossError>) -> String {
        match result {
            Err(TossError::Rejected { code, .. }) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn browser() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    fn location(response: &reqwest::Response) -> Url {
        let value = response.headers().get(header::LOCATION).expect("Location").to_str().expect("ASCII");
        Url::parse(value).expect("absolute URL")
    }

    fn query_of(url: &Url) -> HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn payment_keys_look_like_toss_ones() {
        let sandbox = TossSandbox::new(SECRET);
        let key = sandbox.create_session("order-key-1", 1_000, "key");
        let suffix = key.strip_prefix("tsb_").expect("prefix");
        assert_eq!(suffix.len(), 20);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(key, sandbox.create_session("order-key-2", 1_000, "key"));
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_errors_too() {
        let (sandbox, _, client) = start().await;
        let key = sandbox.create_session("order-idem-1", 10_000, "idem");

        let wrong = client.confirm(&key, "order-idem-1", 1, "confirm-idem-1").await;
        let same_key = client.confirm(&key, "order-idem-1", 10_000, "confirm-idem-1").await;

        assert_eq!(code_of(wrong), "INVALID_REQUEST");
        assert_eq!(code_of(same_key), "INVALID_REQUEST");
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
        let fresh = client.confirm(&key, "order-idem-1", 10_000, "confirm-idem-2").await.expect("new key");
        assert_eq!(fresh.status, TossStatus::Done);
    }

    #[tokio::test]
    async fn faults_are_consumed_one_per_call_and_not_recorded() {
        let (sandbox, _, client) = start().await;
        let key = sandbox.create_session("order-faults-1", 10_000, "faults");
        let reject = |code: &str| Fault::Reject { status: 400, code: code.into(), message: "x".into() };
        sandbox.push_fault(Op::Confirm, reject("PROVIDER_ERROR"));
        sandbox.push_fault(Op::Confirm, reject("EXCEED_MAX_AMOUNT"));
        sandbox.push_fault(Op::Get, reject("FORBIDDEN_REQUEST"));

        let first = client.confirm(&key, "order-faults-1", 10_000, "confirm-faults-1").await;
        let second = client.confirm(&key, "order-faults-1", 10_000, "confirm-faults-1").await;
        let third = client.confirm(&key, "order-faults-1", 10_000, "confirm-faults-1").await;

        let first_code = code_of(first);
        assert_eq!(first_code, "PROVIDER_ERROR");
        assert_eq!(code_of(second), "EXCEED_MAX_AMOUNT");
        assert_eq!(third.expect("processed").status, TossStatus::Done);
        assert_eq!(code_of(client.payment(&key).await), "FORBIDDEN_REQUEST");
        assert_eq!(client.payment(&key).await.expect("no fault left").status, TossStatus::Done);
        assert_eq!((sandbox.calls(Op::Confirm), sandbox.calls(Op::Get), sandbox.calls(Op::Cancel)), (3, 2, 0));
    }

    #[tokio::test]
    async fn a_lost_cancel_answer_is_learned_by_retrying_with_the_same_key() {
        let (sandbox, base, client) = start().await;
        let key = sandbox.create_session("order-lost-1", 10_000, "lost");
        client.confirm(&key, "order-lost-1", 10_000, "confirm-lost-1").await.expect("confirmed");
        let impatient = TossClient::new(&base, SECRET, Duration::from_millis(300)).expect("client");
        sandbox.push_fault(Op::Cancel, Fault::DelayThenApply(Duration::from_secs(5)));

        let lost = impatient.cancel(&key, "환불", Some(4_000), "cancel-lost-1").await;
        let retried = impatient.cancel(&key, "환불", Some(4_000), "cancel-lost-1").await.expect("replayed");

        assert!(matches!(lost, Err(TossError::Unknown(_))), "{lost:?}");
        assert_eq!(retried.status, TossStatus::PartialCanceled);
        assert_eq!(retried.balance_amount, 6_000);
        assert_eq!(sandbox.cancel_amounts(&key), vec![4_000]);
    }

    #[tokio::test]
    async fn requests_without_valid_credentials_are_refused() {
        let (sandbox, base, _) = start().await;
        let key = sandbox.create_session("order-creds-1", 1_000, "creds");
        let http = reqwest::Client::new();
        let body = json!({ "paymentKey": key, "orderId": "order-creds-1", "amount": 1_000 });

        let none = http.post(format!("{base}/v1/payments/confirm")).json(&body).send().await.expect("answer");
        let no_colon = http
            .post(format!("{base}/v1/payments/confirm"))
            .header(header::AUTHORIZATION, format!("Basic {}", BASE64.encode(SECRET)))
            .json(&body)
            .send()
            .await
            .expect("answer");

        for response in [none, no_colon] {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            let error: Value = response.json().await.expect("JSON");
            assert_eq!(error["code"], "UNAUTHORIZED_KEY");
        }
        assert_eq!(sandbox.calls(Op::Confirm), 2);
        assert_eq!(sandbox.payment(&key).expect("stored")["status"], "IN_PROGRESS");
    }

    #[tokio::test]
    async fn cancelling_an_unconfirmed_payment_is_refused() {
        let (sandbox, _, client) = start().await;
        let key = sandbox.create_session("order-unconf-1", 1_000, "unconfirmed");

        assert_eq!(code_of(client.cancel(&key, "x", None, "cancel-unconf-1").await), "NOT_CANCELABLE_PAYMENT");
        assert_eq!(code_of(client.cancel("tsb_missing", "x", None, "cancel-unconf-2").await), "NOT_FOUND_PAYMENT");
        assert!(sandbox.cancel_amounts(&key).is_empty());
    }

    #[tokio::test]
    async fn the_pay_page_shows_the_order_and_links_relatively() {
        let (_, base, _) = start().await;
        let url = Url::parse_with_params(
            &format!("{base}/sandbox/pay"),
            &[
                ("orderId", "order-page-1"),
                ("amount", "15000"),
                ("orderName", "<script>\"책 읽기\" & 달리기</script>"),
                ("successUrl", "http://localhost:3000/pay/success"),
                ("failUrl", "http://localhost:3000/pay/fail"),
            ],
        )
        .expect("url");

        let response = browser().get(url).send().await.expect("page");

        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get(header::CONTENT_TYPE).expect("type").to_str().expect("ASCII");
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let page = response.text().await.expect("text");
        assert!(page.contains("테스트 결제") && page.contains("Sandbox payment"));
        assert!(page.contains("15,000원"));
        assert!(page.contains("&lt;script&gt;&quot;책 읽기&quot; &amp; 달리기&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("href=\"pay/approve?orderId=order-page-1&amp;amount=15000&amp;"), "{page}");
        assert!(page.contains("href=\"pay/cancel?"));
    }

    #[tokio::test]
    async fn paying_in_the_window_redirects_with_a_payment_to_confirm() {
        let (sandbox, base, client) = start().await;
        let url = Url::parse_with_params(
            &format!("{base}/sandbox/pay/approve"),
            &[
                ("orderId", "order-window-1"),
                ("amount", "12000"),
                ("orderName", "독서 & 운동"),
                ("successUrl", "http://localhost:3000/pay/success?from=sandbox"),
                ("failUrl", "http://localhost:3000/pay/fail"),
            ],
        )
        .expect("url");

        let response = browser().get(url).send().await.expect("redirect");

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let target = location(&response);
        assert_eq!(target.path(), "/pay/success");
        let query = query_of(&target);
        assert_eq!(query.get("from").map(String::as_str), Some("sandbox"));
        assert_eq!(query.get("orderId").map(String::as_str), Some("order-window-1"));
        assert_eq!(query.get("amount").map(String::as_str), Some("12000"));
        let key = query.get("paymentKey").expect("paymentKey");
        let session = sandbox.payment(key).expect("session");
        assert_eq!(
            (session["status"].as_str(), session["orderName"].as_str()),
            (Some("IN_PROGRESS"), Some("독서 & 운동"))
        );
        let paid = client.confirm(key, "order-window-1", 12_000, "confirm-window-1").await.expect("confirmed");
        assert_eq!(paid.status, TossStatus::Done);
    }

    #[tokio::test]
    async fn cancelling_in_the_window_redirects_to_the_fail_url() {
        let (sandbox, base, _) = start().await;
        let url = Url::parse_with_params(
            &format!("{base}/sandbox/pay/cancel"),
            &[
                ("orderId", "order-window-2"),
                ("amount", "12000"),
                ("successUrl", "http://localhost:3000/pay/success"),
                ("failUrl", "http://localhost:3000/pay/fail"),
            ],
        )
        .expect("url");

        let response = browser().get(url).send().await.expect("redirect");

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let target = location(&response);
        assert_eq!(target.path(), "/pay/fail");
        let query = query_of(&target);
        assert_eq!(query.get("code").map(String::as_str), Some("PAY_PROCESS_CANCELED"));
        assert_eq!(query.get("orderId").map(String::as_str), Some("order-window-2"));
        assert!(query.get("message").is_some_and(|m| !m.is_empty()));
        let http = reqwest::Client::new();
        let by_order = http
            .get(format!("{base}/v1/payments/orders/order-window-2"))
            .basic_auth(SECRET, Some(""))
            .send()
            .await
            .expect("answer");
        assert_eq!(by_order.status(), StatusCode::NOT_FOUND);
        assert_eq!(sandbox.calls(Op::Get), 1);
    }

    #[tokio::test]
    async fn the_window_refuses_bad_orders_and_paid_ones() {
        let (sandbox, base, client) = start().await;
        let approve = |order_id: &str, amount: &str| {
            Url::parse_with_params(
                &format!("{base}/sandbox/pay/approve"),
                &[
                    ("orderId", order_id),
                    ("amount", amount),
                    ("successUrl", "http://localhost:3000/ok"),
                    ("failUrl", "http://localhost:3000/fail"),
                ],
            )
            .expect("url")
        };

        let short = browser().get(approve("abc", "1000")).send().await.expect("answer");
        let negative = browser().get(approve("order-bad-1", "-5")).send().await.expect("answer");
        let missing = browser().get(format!("{base}/sandbox/pay?orderId=order-bad-1")).send().await.expect("answer");
        assert_eq!(short.status(), StatusCode::BAD_REQUEST);
        assert_eq!(negative.status(), StatusCode::BAD_REQUEST);
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);

        let key = sandbox.create_session("order-paid-1", 1_000, "paid");
        client.confirm(&key, "order-paid-1", 1_000, "confirm-paid-1").await.expect("confirmed");
        let again = browser().get(approve("order-paid-1", "1000")).send().await.expect("answer");
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        let target = location(&again);
        assert_eq!(target.path(), "/fail");
        assert_eq!(query_of(&target).get("code").map(String::as_str), Some("DUPLICATED_ORDER_ID"));
        assert_eq!(client.payment_by_order("order-paid-1").await.expect("still the paid one").payment_key, key);
    }

    #[test]
    fn formats_amounts_and_escapes_html() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(escape_html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}
