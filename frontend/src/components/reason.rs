//! Asking for a reason before a moderation step (a report, an appeal, an administrator's decision): a short form
//! that opens under the button, a required text bounded like the server's, one send at a time, and the refusal in
//! words next to it.

use leptos::prelude::*;
use nene_shared::challenges::limits;

use crate::backend::ApiError;
use crate::components::states::InlineError;
use crate::i18n::use_texts;

/// The form while `open`; `on_send` gets the trimmed reason. `testid` names the form, its text area
/// (`{testid}-reason`) and its send button (`{testid}-send`) for tests.
#[component]
pub fn ReasonForm(
    open: RwSignal<bool>,
    #[prop(into)] title: Signal<String>,
    #[prop(into)] hint: Signal<String>,
    #[prop(into)] send_label: Signal<String>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] error: Signal<Option<ApiError>>,
    on_send: Callback<String>,
    testid: &'static str,
) -> impl IntoView {
    let t = use_texts();
    let reason = RwSignal::new(String::new());
    let blank = move || reason.with(|r| r.trim().is_empty());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !pending.get_untracked() && !blank() {
            on_send.run(reason.get_untracked().trim().to_owned());
        }
    };
    move || {
        open.get().then(|| {
            view! {
                <form class="reason-form" on:submit=submit novalidate=true data-testid=testid>
                    <p class="reason-title"><strong>{move || title.get()}</strong></p>
                    <p class="muted small">{move || hint.get()}</p>
                    <label class="field">
                        <span class="field-label">{move || t.get().reason}</span>
                        <textarea rows="2" maxlength=limits::REASON_MAX.to_string()
                            placeholder=move || t.get().reason_placeholder
                            data-testid=format!("{testid}-reason") prop:value=move || reason.get()
                            on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                    </label>
                    <InlineError error=error/>
                    <div class="grid-2">
                        <button class="btn btn-ghost" type="button" disabled=move || pending.get()
                            on:click=move |_| open.set(false)>{move || t.get().cancel}</button>
                        <button class="btn btn-primary" type="submit" data-testid=format!("{testid}-send")
                            disabled=move || pending.get() || blank()>
                            {move || if pending.get() { t.get().sending.to_owned() } else { send_label.get() }}
                        </button>
                    </div>
                </form>
            }
        })
    }
}
