//! 알림: the inbox, newest first; unread ones stand out. Opening one marks it read and goes where it points (its
//! challenge, or the wallet for a payment).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::backend::notifications::{Notification, NotificationKind, NotificationQuery};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::dates;
use crate::i18n::use_texts;
use crate::pages::PageHeader;
use crate::session::{use_backend, use_inbox_refresh};

fn icon(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::JoinConfirmed => "🤝",
        NotificationKind::ChallengeStarting => "🏁",
        NotificationKind::ChallengeCancelled => "⛔",
        NotificationKind::ProofReminder => "⏰",
        NotificationKind::ProofRejected => "⚠️",
        NotificationKind::ProofReviewed => "✅",
        NotificationKind::SettlementResult => "🏆",
        NotificationKind::PaymentResult => "💳",
        NotificationKind::PurchaseResult => "🛍️",
    }
}

/// Where a notification leads.
fn target(n: &Notification) -> Option<String> {
    if let Some(id) = n.data.get("challenge_id") {
        return Some(format!("/challenges/{id}"));
    }
    n.data.contains_key("order_id").then(|| "/wallet".to_owned())
}

#[component]
pub fn Inbox() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let list = LocalResource::new(move || {
        let backend = backend.clone();
        async move { backend.notifications(&NotificationQuery { limit: Some(50), ..Default::default() }).await }
    });
    view! {
        <section class="page inbox">
            <PageHeader title=Signal::derive(move || t.get().inbox_title.to_owned())/>
            {move || match list.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| list.refetch())/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! {
                    <Empty message=Signal::derive(move || t.get().no_notifications.to_owned())/>
                }.into_any(),
                Some(Ok(page)) => view! {
                    <ul class="list card" data-testid="notifications">
                        {page.items.into_iter().map(|n| view! { <Item n=n/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Item(n: Notification) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let navigate = use_navigate();
    let refresh = use_inbox_refresh();
    let unread = RwSignal::new(n.read_at.is_none());
    let (id, to) = (n.id, target(&n));
    let when = dates::local(n.created_at);
    let open = move |_| {
        let (backend, navigate, to) = (backend.clone(), navigate.clone(), to.clone());
        let was_unread = unread.get_untracked();
        unread.set(false);
        spawn_local(async move {
            if was_unread && backend.mark_read(id).await.is_ok() {
                refresh.bump();
            }
            if let Some(to) = to {
                navigate(&to, Default::default());
            }
        });
    };
    view! {
        <li class="notification" class:unread=move || unread.get() data-testid="notification">
            <button type="button" class="notification-button" on:click=open>
                <span class="notification-icon" aria-hidden="true">{icon(n.kind)}</span>
                <span class="notification-body">
                    <strong>{n.title.clone()}</strong>
                    <span>{n.body.clone()}</span>
                    <span class="muted small">{move || (t.get().date_time)(when)}</span>
                </span>
                {move || unread.get().then(|| view! { <span class="unread-dot" aria-label=move || t.get().unread></span> })}
            </button>
        </li>
    }
}
