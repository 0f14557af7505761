//! The three states every screen that loads something can be in besides "here it is": loading, nothing there yet,
//! and something went wrong (worded from the error's code, with a way to try again).

use leptos::prelude::*;

use crate::backend::ApiError;
use crate::i18n::use_texts;

#[component]
pub fn Loading() -> impl IntoView {
    let t = use_texts();
    view! {
        <div class="state state-loading" role="status" aria-live="polite" data-testid="loading">
            <span class="spinner" aria-hidden="true"></span>
            <span>{move || t.get().loading}</span>
        </div>
    }
}

/// Nothing to show yet; `children` may offer the next step (a link to explore, a button to create).
#[component]
pub fn Empty(#[prop(into)] message: Signal<String>, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <div class="state state-empty" data-testid="empty">
            <p>{move || message.get()}</p>
            {children.map(|c| c())}
        </div>
    }
}

#[component]
pub fn ErrorNotice(error: ApiError, #[prop(optional, into)] retry: Option<Callback<()>>) -> impl IntoView {
    let t = use_texts();
    let code = error.code();
    view! {
        <div class="state state-error" role="alert" data-testid="error" data-code=code.as_str()>
            <p>{move || (t.get().error)(code)}</p>
            {retry.map(|retry| view! {
                <button class="btn btn-ghost" on:click=move |_| retry.run(())>{move || t.get().retry}</button>
            })}
        </div>
    }
}

/// A short line under a form or a button: the error's words, or nothing.
#[component]
pub fn InlineError(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let t = use_texts();
    move || {
        error.get().map(|e| {
            let code = e.code();
            view! { <p class="inline-error" role="alert" data-testid="form-error" data-code=code.as_str()>{(t.get().error)(code)}</p> }
        })
    }
}
