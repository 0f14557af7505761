//! An address the UI does not know.

use leptos::prelude::*;

use crate::components::states::Empty;
use crate::i18n::use_texts;

#[component]
pub fn NotFound() -> impl IntoView {
    let t = use_texts();
    view! {
        <section class="page">
            <Empty message=Signal::derive(move || t.get().not_found.to_owned())>
                <a class="btn btn-primary" href="/">{move || t.get().go_home}</a>
            </Empty>
        </section>
    }
}
