//! A labelled form field with its error right under it: the server's `fields` (or the same rules checked before
//! sending) worded through the catalogue.

use std::collections::BTreeMap;

use leptos::prelude::*;
use nene_shared::FieldCode;

use crate::backend::ApiError;
use crate::i18n::use_texts;

/// Per-field reasons a form shows; filled from a refused request or from checks made before sending.
pub type FieldErrors = RwSignal<BTreeMap<String, FieldCode>>;

/// Puts a refused request's field reasons into `fields` (replacing what was there).
pub fn show_fields(fields: FieldErrors, error: &ApiError) {
    fields.set(error.fields());
}

#[component]
pub fn Field(
    #[prop(into)] label: Signal<&'static str>,
    name: &'static str,
    fields: FieldErrors,
    #[prop(optional, into)] hint: Option<Signal<String>>,
    children: Children,
) -> impl IntoView {
    let t = use_texts();
    let error = move || fields.with(|f| f.get(name).copied());
    view! {
        <label class="field" class:has-error=move || error().is_some()>
            <span class="field-label">{move || label.get()}</span>
            {children()}
            {move || match error() {
                Some(code) => view! {
                    <span class="field-error" role="alert" data-testid=format!("field-error-{name}") data-code=format!("{code:?}")>
                        {(t.get().field)(name, code)}
                    </span>
                }.into_any(),
                None => hint.map(|h| view! { <span class="field-hint">{move || h.get()}</span> }).into_any(),
            }}
        </label>
    }
}
