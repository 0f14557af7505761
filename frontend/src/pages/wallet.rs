//! 지갑: the balance and how much of it could go back to a card, charging points, the history (each line with the
//! lots it touched), and card payments with their refund.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nene_shared::Points;
use nene_shared::ledger::WalletEntry;
use nene_shared::payments::{CancelOrderRequest, MAX_CHARGE, MIN_CHARGE, OrderStatus, PaymentOrder};

use crate::backend::{ApiError, new_idempotency_key};
use crate::components::confirm::ConfirmDialog;
use crate::components::states::{Empty, ErrorNotice, InlineError, Loading};
use crate::dates;
use crate::i18n::{fill, use_texts};
use crate::money::{self, parse_amount};
use crate::pages::PageHeader;
use crate::pages::charge::start_checkout;
use crate::session::use_backend;

/// Amounts offered with one tap.
const PRESETS: [i64; 4] = [10_000, 30_000, 50_000, 100_000];

#[component]
pub fn WalletPage() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let wallet = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            async move { backend.wallet().await }
        }
    });
    let entries = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            async move { backend.wallet_entries(None).await }
        }
    });
    let orders = LocalResource::new(move || {
        let backend = backend.clone();
        async move { backend.orders(None).await }
    });
    let reload = Callback::new(move |_| {
        wallet.refetch();
        entries.refetch();
        orders.refetch();
    });

    view! {
        <section class="page wallet">
            <PageHeader title=Signal::derive(move || t.get().wallet_title.to_owned())/>
            {move || match wallet.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=reload/> }.into_any(),
                Some(Ok(w)) => view! {
                    <div class="card balance-card" data-testid="wallet-balance-card">
                        <span class="muted">{move || t.get().balance}</span>
                        <strong class="balance money" data-testid="wallet-balance" data-points=w.balance.get().to_string()>
                            {money::points(w.balance)}
                        </strong>
                        <span class="muted small" data-testid="refundable">
                            {move || fill(t.get().refundable_cash, &[("amount", money::points(w.refundable_cash))])}
                        </span>
                    </div>
                }.into_any(),
            }}
            <ChargeForm/>
            <div class="card">
                <h3>{move || t.get().history}</h3>
                {move || match entries.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(e)) => view! { <ErrorNotice error=e retry=reload/> }.into_any(),
                    Some(Ok(page)) if page.items.is_empty() => view! {
                        <Empty message=Signal::derive(move || t.get().no_history.to_owned())/>
                    }.into_any(),
                    Some(Ok(page)) => view! { <History first=page.items next=page.next_cursor/> }.into_any(),
                }}
            </div>
            <div class="card">
                <h3>{move || t.get().payments}</h3>
                {move || match orders.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(e)) => view! { <ErrorNotice error=e retry=reload/> }.into_any(),
                    Some(Ok(page)) if page.items.is_empty() => view! {
                        <Empty message=Signal::derive(move || t.get().no_payments.to_owned())/>
                    }.into_any(),
                    Some(Ok(page)) => view! {
                        <ul class="list" data-testid="orders">
                            {page.items.into_iter().map(|o| view! { <OrderRow order=o reload=reload/> }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </div>
        </section>
    }
}

/// 충전: pick or type an amount, confirm it once, then the payment window takes over.
#[component]
fn ChargeForm() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let amount = RwSignal::new(PRESETS[0].to_string());
    let open = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let local_error = RwSignal::new(false);
    // One key per intended charge: pressing again after a lost answer does not make a second order.
    let key = RwSignal::new(new_idempotency_key());
    let parsed = move || parse_amount(&amount.get()).filter(|p| *p >= MIN_CHARGE && *p <= MAX_CHARGE);

    let ask = move |_| {
        error.set(None);
        local_error.set(parsed().is_none());
        if parsed().is_some() {
            open.set(true);
        }
    };
    let charge = Callback::new(move |_| {
        let Some(points) = parse_amount(&amount.get_untracked()) else { return };
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        spawn_local(async move {
            match backend.create_order(points, key.get_untracked()).await {
                // The browser leaves for the payment window; the pending state stays until it does.
                Ok(order) => {
                    if let Err(e) = start_checkout(&order).await {
                        error.set(Some(e));
                        pending.set(false);
                        open.set(false);
                    }
                }
                Err(e) => {
                    error.set(Some(e));
                    pending.set(false);
                    open.set(false);
                }
            }
        });
    });
    view! {
        <div class="card charge" data-testid="charge">
            <h3>{move || t.get().charge_points}</h3>
            <div class="chips">
                {PRESETS.into_iter().map(|p| {
                    let text = p.to_string();
                    let selected = move || amount.get() == p.to_string();
                    view! {
                        <button type="button" class="chip" class:selected=selected
                            data-testid=format!("charge-preset-{p}")
                            on:click=move |_| { amount.set(text.clone()); key.set(new_idempotency_key()); }>
                            {money::points(Points::new(p))}
                        </button>
                    }
                }).collect_view()}
            </div>
            <label class="field" class:has-error=move || local_error.get()>
                <span class="field-label">{move || t.get().amount}</span>
                <input type="text" inputmode="numeric" data-testid="charge-amount" prop:value=move || amount.get()
                    on:input=move |ev| { amount.set(event_target_value(&ev)); key.set(new_idempotency_key()); }/>
                {move || if local_error.get() {
                    view! { <span class="field-error" role="alert">{fill(t.get().charge_range, &[
                        ("min", money::points(MIN_CHARGE)), ("max", money::points(MAX_CHARGE))])}</span> }.into_any()
                } else {
                    view! { <span class="field-hint">{fill(t.get().charge_range, &[
                        ("min", money::points(MIN_CHARGE)), ("max", money::points(MAX_CHARGE))])}</span> }.into_any()
                }}
            </label>
            <InlineError error=error/>
            <button class="btn btn-primary btn-block" data-testid="charge-submit" on:click=ask
                disabled=move || pending.get()>
                {move || t.get().charge}
            </button>
            <ConfirmDialog open=open pending=pending on_confirm=charge
                message=Signal::derive(move || t.get().confirm_charge.to_owned())
                amount=Signal::derive(move || parsed().map(money::points).unwrap_or_default())/>
        </div>
    }
}

/// The history, a page at a time.
#[component]
fn History(first: Vec<WalletEntry>, next: Option<String>) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let more = RwSignal::new(Vec::<WalletEntry>::new());
    let next = RwSignal::new(next);
    let loading = RwSignal::new(false);
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else { return };
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        let backend = backend.clone();
        spawn_local(async move {
            if let Ok(page) = backend.wallet_entries(Some(cursor)).await {
                more.update(|m| m.extend(page.items));
                next.set(page.next_cursor);
            }
            loading.set(false);
        });
    };
    view! {
        <ul class="list history" data-testid="history">
            {first.into_iter().map(|e| view! { <EntryRow entry=e/> }).collect_view()}
            {move || more.get().into_iter().map(|e| view! { <EntryRow entry=e/> }).collect_view()}
        </ul>
        {move || next.get().is_some().then(|| view! {
            <button class="btn btn-ghost btn-block" on:click=load_more.clone() disabled=move || loading.get()>
                {move || t.get().load_more}
            </button>
        })}
    }
}

#[component]
fn EntryRow(entry: WalletEntry) -> impl IntoView {
    let t = use_texts();
    let kind = entry.kind;
    let when = dates::local(entry.created_at);
    let amount_class = if entry.amount.is_negative() { "money minus" } else { "money plus" };
    let lots = entry.lots.clone();
    view! {
        <li class="entry" data-testid="history-entry" data-kind=kind.as_str()>
            <div class="row spread">
                <div>
                    <p class="entry-kind">{move || (t.get().transfer_kind)(kind)}</p>
                    <p class="muted small">{move || (t.get().date_time)(when)}</p>
                </div>
                <div class="right">
                    <p class=amount_class>{money::signed(entry.amount)}</p>
                    <p class="muted small">{move || fill(t.get().balance_after, &[("amount", money::points(entry.balance_after))])}</p>
                </div>
            </div>
            {(!lots.is_empty()).then(|| view! {
                <details class="lots">
                    <summary>{move || t.get().lots}</summary>
                    <ul>
                        {lots.into_iter().map(|l| {
                            let source = l.source;
                            view! { <li><span class="muted">{move || (t.get().lot_source)(source)}</span> " "
                                {format!("#{}", l.lot_id)} " " <span class="money">{money::signed(l.delta)}</span></li> }
                        }).collect_view()}
                    </ul>
                </details>
            })}
        </li>
    }
}

/// A card payment; its unspent part can be paid back to the card, after one confirmation.
#[component]
fn OrderRow(order: PaymentOrder, reload: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let status = order.status;
    let refundable = order.refundable_amount;
    let open = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let key = new_idempotency_key();
    let order_id = order.order_id.clone();
    let refund = Callback::new(move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let (backend, order_id, key) = (backend.clone(), order_id.clone(), key.clone());
        spawn_local(async move {
            let req = CancelOrderRequest { amount: Some(refundable), reason: None };
            let result = backend.refund_order(&order_id, &req, key).await;
            pending.set(false);
            open.set(false);
            match result {
                Ok(_) => reload.run(()),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    let when = dates::local(order.created_at);
    let settled = matches!(status, OrderStatus::Credited | OrderStatus::PartiallyRefunded);
    view! {
        <li class="entry" data-testid="order" data-status=status.as_str()>
            <div class="row spread">
                <div>
                    <p class="entry-kind">{order.order_name.clone()}</p>
                    <p class="muted small">{move || (t.get().date_time)(when)} " · " {move || (t.get().order_status)(status)}</p>
                </div>
                <div class="right">
                    <p class="money">{money::points(order.amount)}</p>
                    {(order.refunded_amount.get() > 0).then(|| view! {
                        <p class="muted small">{move || fill(t.get().refunded, &[("amount", money::points(order.refunded_amount))])}</p>
                    })}
                </div>
            </div>
            {(settled && refundable.get() > 0).then(|| view! {
                <button class="btn btn-ghost btn-small" data-testid="refund" on:click=move |_| { error.set(None); open.set(true) }>
                    {move || fill(t.get().refund_amount, &[("amount", money::points(refundable))])}
                </button>
            })}
            <InlineError error=error/>
            <ConfirmDialog open=open pending=pending on_confirm=refund
                message=Signal::derive(move || t.get().confirm_refund.to_owned())
                amount=Signal::derive(move || money::points(refundable))/>
        </li>
    }
}
