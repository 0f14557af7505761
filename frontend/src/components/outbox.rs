//! Inside the app: what is saved on this device and not yet applied by the server ("2 waiting to be sent", with a
//! way to send now), and each action the server refused after it was saved offline, with the server's reason, until
//! the person dismisses it. In a browser nothing is ever queued, so nothing shows.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_location;

use crate::backend::device::QueuedAction;
use crate::i18n::{fill, use_texts};
use crate::session::use_backend;

/// How often the banner asks the app for its outbox (a local call; no network).
const OUTBOX_POLL: Duration = Duration::from_secs(3);

#[component]
pub fn OutboxBanner() -> impl IntoView {
    let backend = use_backend();
    if !backend.in_app() {
        return ().into_any();
    }
    let t = use_texts();
    let location = use_location();
    // Kept in a signal (not a resource) so the banner does not blink out while it is being refreshed.
    let outbox = RwSignal::new((Vec::<QueuedAction>::new(), Vec::<QueuedAction>::new()));
    let refresh = {
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            spawn_local(async move {
                let waiting = backend.waiting_actions().await.unwrap_or_default();
                let refused = backend.refused_actions().await.unwrap_or_default();
                if outbox.try_with_untracked(|now| now.0 != waiting || now.1 != refused) == Some(true) {
                    outbox.try_set((waiting, refused));
                }
            });
        }
    };
    let _ = set_interval_with_handle(refresh.clone(), OUTBOX_POLL);
    Effect::new({
        let refresh = refresh.clone();
        move || {
            location.pathname.track();
            refresh();
        }
    });
    let sending = RwSignal::new(false);
    let send_now = {
        let backend = backend.clone();
        let refresh = refresh.clone();
        move |_| {
            if sending.get_untracked() {
                return;
            }
            sending.set(true);
            let (backend, refresh) = (backend.clone(), refresh.clone());
            spawn_local(async move {
                // Offline is the usual reason to be here; the count simply stays.
                let _ = backend.sync_now().await;
                sending.set(false);
                refresh();
            });
        }
    };
    let dismiss = move |id: String| {
        let backend = backend.clone();
        let refresh = refresh.clone();
        spawn_local(async move {
            let _ = backend.dismiss_refused(&id).await;
            refresh();
        });
    };
    let refused_line = move |a: &QueuedAction| {
        let reason = match (a.code, a.message.as_deref()) {
            (Some(code), _) => (t.get().error)(code).to_owned(),
            (None, Some(message)) => message.to_owned(),
            (None, None) => String::new(),
        };
        fill(t.get().refused_action, &[("kind", (t.get().intent_kind)(a.kind).to_owned()), ("reason", reason)])
    };
    view! {
        {move || {
            let (waiting, refused) = outbox.get();
            let send_now = send_now.clone();
            let dismiss = dismiss.clone();
            view! {
                {(!waiting.is_empty()).then(|| view! {
                    <div class="outbox waiting" role="status" data-testid="outbox-waiting" data-count=waiting.len()>
                        <span>{fill(t.get().waiting_actions, &[("n", waiting.len().to_string())])}</span>
                        <button class="btn btn-ghost" disabled=move || sending.get() on:click=send_now>
                            {move || if sending.get() { t.get().sending } else { t.get().send_now }}
                        </button>
                    </div>
                })}
                {refused.into_iter().map(|a| {
                    let id = a.id.clone();
                    let dismiss = dismiss.clone();
                    view! {
                        <div class="outbox refused" role="alert" data-testid="outbox-refused"
                            data-code=a.code.map(|c| c.as_str())>
                            <span>{refused_line(&a)}</span>
                            <button class="btn btn-ghost" on:click=move |_| dismiss(id.clone())>{t.get().dismiss}</button>
                        </div>
                    }
                }).collect_view()}
            }
        }}
    }
    .into_any()
}
