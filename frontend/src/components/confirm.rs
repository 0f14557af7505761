//! The one confirmation a money action asks for: what will happen, the amount in plain sight, and two buttons.
//! While the request is on its way the confirm button shows it is pending and cannot be pressed twice.

use leptos::prelude::*;

use crate::i18n::use_texts;

#[component]
pub fn ConfirmDialog(
    open: RwSignal<bool>,
    #[prop(into)] message: Signal<String>,
    #[prop(into)] amount: Signal<String>,
    #[prop(into)] pending: Signal<bool>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let t = use_texts();
    move || {
        open.get().then(|| {
            view! {
                <div class="dialog-backdrop" on:click=move |_| if !pending.get_untracked() { open.set(false) }>
                    <div class="dialog" role="dialog" aria-modal="true" data-testid="confirm-dialog"
                        on:click=|ev| ev.stop_propagation()>
                        <p class="dialog-message">{move || message.get()}</p>
                        <p class="dialog-amount money" data-testid="confirm-amount">{move || amount.get()}</p>
                        <div class="dialog-actions">
                            <button class="btn btn-ghost" disabled=move || pending.get()
                                on:click=move |_| open.set(false)>{move || t.get().cancel}</button>
                            <button class="btn btn-primary" data-testid="confirm-yes" disabled=move || pending.get()
                                class:pending=move || pending.get() on:click=move |_| on_confirm.run(())>
                                {move || if pending.get() { t.get().working } else { t.get().confirm }}
                            </button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
