//! Charging points by card through TossPayments.
//!
//! 1. The wallet asks the server for an order ([`Backend::create_order`](crate::backend::Backend::create_order)).
//! 2. [`start_checkout`] sends the browser to pay: in dev mode the order names the server's sandbox payment page
//!    (`checkout_url`), which is opened with the order and our success/fail addresses; in production there is no
//!    `checkout_url` and TossPayments' own widget script takes the payment with the order's client key.
//! 3. The payment window returns to `/wallet/charge/success?paymentKey=&orderId=&amount=` ([`ChargeSuccess`]),
//!    which asks the server to confirm (the server checks the amount against the order) and waits for the points,
//!    or to `/wallet/charge/fail?code=&message=` ([`ChargeFail`]).

use js_sys::{Function, Object, Promise, Reflect};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use nene_shared::Points;
use nene_shared::payments::{ConfirmRequest, OrderCreated, OrderStatus, PaymentOrder};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::backend::query::to_string;
use crate::backend::{ApiError, Backend};
use crate::components::states::{ErrorNotice, Loading};
use crate::i18n::{fill, use_texts};
use crate::money;
use crate::pages::PageHeader;
use crate::session::use_backend;
use crate::timers::sleep;

/// TossPayments' browser SDK (v2), loaded only when a real payment starts.
const TOSS_SDK: &str = "https://js.tosspayments.com/v2/standard";

fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

fn failure(message: impl Into<String>) -> ApiError {
    ApiError::Network(message.into())
}

/// Sends the browser to pay for `order`; on success the browser leaves this page.
pub async fn start_checkout(order: &OrderCreated) -> Result<(), ApiError> {
    let success_url = format!("{}/wallet/charge/success", origin());
    let fail_url = format!("{}/wallet/charge/fail", origin());
    match &order.checkout_url {
        Some(checkout) => {
            let query = to_string(&[
                ("orderId".to_owned(), order.order_id.clone()),
                ("amount".to_owned(), order.amount.get().to_string()),
                ("orderName".to_owned(), order.order_name.clone()),
                ("successUrl".to_owned(), success_url),
                ("failUrl".to_owned(), fail_url),
            ]);
            let location = web_sys::window().ok_or_else(|| failure("no window"))?.location();
            location.assign(&format!("{checkout}{query}")).map_err(|e| failure(format!("{e:?}")))
        }
        None => toss_widget(order, &success_url, &fail_url).await,
    }
}

/// Production path: TossPayments' SDK opens its payment window and redirects to `success_url` / `fail_url` with
/// the same query parameters the dev sandbox uses. This path needs Toss's live servers and cannot run on the
/// project's test machines (no outside network), so only the sandbox path is exercised by the browser test.
async fn toss_widget(order: &OrderCreated, success_url: &str, fail_url: &str) -> Result<(), ApiError> {
    load_script(TOSS_SDK).await?;
    let global = js_sys::global();
    let toss_payments: Function = Reflect::get(&global, &"TossPayments".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| failure("TossPayments SDK did not load"))?;
    let toss =
        toss_payments.call1(&JsValue::NULL, &order.client_key.clone().into()).map_err(|e| failure(format!("{e:?}")))?;
    let payment_fn: Function = Reflect::get(&toss, &"payment".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| failure("TossPayments SDK has no payment()"))?;
    let customer = object(&[("customerKey", order.customer_key.clone().into())])?;
    let payment = payment_fn.call1(&toss, &customer).map_err(|e| failure(format!("{e:?}")))?;
    let request_fn: Function = Reflect::get(&payment, &"requestPayment".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| failure("TossPayments SDK has no requestPayment()"))?;
    let amount = object(&[("currency", "KRW".into()), ("value", JsValue::from_f64(order.amount.get() as f64))])?;
    let request = object(&[
        ("method", "CARD".into()),
        ("amount", amount.into()),
        ("orderId", order.order_id.clone().into()),
        ("orderName", order.order_name.clone().into()),
        ("successUrl", success_url.into()),
        ("failUrl", fail_url.into()),
    ])?;
    let promise: Promise = request_fn
        .call1(&payment, &request)
        .map_err(|e| failure(format!("{e:?}")))?
        .dyn_into()
        .map_err(|_| failure("requestPayment gave no promise"))?;
    JsFuture::from(promise).await.map(|_| ()).map_err(|e| failure(format!("{e:?}")))
}

fn object(fields: &[(&str, JsValue)]) -> Result<Object, ApiError> {
    let obj = Object::new();
    for (k, v) in fields {
        Reflect::set(&obj, &(*k).into(), v).map_err(|e| failure(format!("{e:?}")))?;
    }
    Ok(obj)
}

/// Adds `<script src>` to the page and waits until it has run.
async fn load_script(src: &str) -> Result<(), ApiError> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or_else(|| failure("no document"))?;
    let script: web_sys::HtmlScriptElement =
        document.create_element("script").map_err(|e| failure(format!("{e:?}")))?.unchecked_into();
    script.set_src(src);
    let loaded = Promise::new(&mut |resolve, reject| {
        script.set_onload(Some(&resolve));
        script.set_onerror(Some(&reject));
    });
    document.head().ok_or_else(|| failure("no head"))?.append_child(&script).map_err(|e| failure(format!("{e:?}")))?;
    JsFuture::from(loaded).await.map(|_| ()).map_err(|_| failure(format!("could not load {src}")))
}

/// Confirms the payment, then waits (briefly) for the points to be credited.
async fn confirm_and_wait(
    backend: Backend,
    req: ConfirmRequest,
    order: RwSignal<Option<PaymentOrder>>,
) -> Result<(), ApiError> {
    let confirmed = backend.confirm_payment(&req).await?;
    let id = confirmed.order_id.clone();
    order.set(Some(confirmed));
    for _ in 0..40 {
        if order.with_untracked(|o| {
            o.as_ref().is_some_and(|o| o.status != OrderStatus::Paid && o.status != OrderStatus::Unknown)
        }) {
            break;
        }
        sleep(500).await;
        if let Ok(latest) = backend.order(&id).await {
            order.set(Some(latest));
        }
    }
    Ok(())
}

#[component]
pub fn ChargeSuccess() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let query = use_query_map();
    let params = query.get_untracked();
    let order = RwSignal::new(None::<PaymentOrder>);
    let error = RwSignal::new(None::<ApiError>);
    let request =
        match (params.get("paymentKey"), params.get("orderId"), params.get("amount").and_then(|a| a.parse().ok())) {
            (Some(payment_key), Some(order_id), Some(amount)) => {
                Some(ConfirmRequest { payment_key, order_id, amount: Points::new(amount) })
            }
            _ => None,
        };
    let amount = request.as_ref().map(|r| r.amount);
    match request {
        Some(req) => leptos::task::spawn_local(async move {
            if let Err(e) = confirm_and_wait(backend, req, order).await {
                error.set(Some(e));
            }
        }),
        None => error.set(Some(ApiError::Decode("payment answer without paymentKey, orderId or amount".into()))),
    }
    let body = move || {
        if let Some(e) = error.get() {
            return view! { <ErrorNotice error=e/> }.into_any();
        }
        match order.get() {
            None => view! { <Loading/> }.into_any(),
            Some(o) => {
                let status = o.status;
                let credited = status == OrderStatus::Credited;
                view! {
                    <div class="card result" data-testid="charge-result" data-status=status.as_str()>
                        <p class="result-icon" aria-hidden="true">{if credited { "✓" } else { "…" }}</p>
                        <h2>{move || if credited { t.get().charge_done } else { t.get().charge_pending }}</h2>
                        <p class="balance money">{money::points(o.amount)}</p>
                        <p class="muted">{move || (t.get().order_status)(status)}</p>
                    </div>
                }
                .into_any()
            }
        }
    };
    view! {
        <section class="page charge-result">
            <PageHeader title=Signal::derive(move || t.get().charge_points.to_owned()) back="/wallet".to_owned()/>
            {move || amount.map(|a| view! {
                <p class="muted center">{move || fill(t.get().charging_amount, &[("amount", money::points(a))])}</p>
            })}
            {body}
            <a class="btn btn-primary btn-block" href="/wallet" data-testid="back-to-wallet">{move || t.get().to_wallet}</a>
        </section>
    }
}

#[component]
pub fn ChargeFail() -> impl IntoView {
    let t = use_texts();
    let query = use_query_map();
    let params = query.get_untracked();
    let cancelled = params.get("code").as_deref() == Some("PAY_PROCESS_CANCELED");
    // Toss's own explanation, in Korean, from the payment window: shown as the provider's detail.
    let detail = params.get("message");
    let code = params.get("code");
    view! {
        <section class="page charge-result">
            <PageHeader title=Signal::derive(move || t.get().charge_points.to_owned()) back="/wallet".to_owned()/>
            <div class="card result" data-testid="charge-failed" data-code=code.unwrap_or_default()>
                <p class="result-icon bad" aria-hidden="true">"!"</p>
                <h2>{move || if cancelled { t.get().charge_cancelled } else { t.get().charge_failed }}</h2>
                {detail.map(|d| view! { <p class="muted small">{d}</p> })}
            </div>
            <a class="btn btn-primary btn-block" href="/wallet">{move || t.get().to_wallet}</a>
        </section>
    }
}
