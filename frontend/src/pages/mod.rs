//! The screens, one module each. They read and act only through the session's [`Backend`](crate::backend::Backend)
//! and show words only from the catalogue.

pub mod auth;
pub mod charge;
pub mod create;
pub mod detail;
pub mod explore;
pub mod home;
pub mod inbox;
pub mod moderation;
pub mod not_found;
pub mod profile;
pub mod progress;
pub mod proof;
pub mod wallet;

use leptos::prelude::*;

use crate::components::icons::{Icon, IconSvg};
use crate::i18n::use_texts;

/// A screen's title, with a way back where the screen is a step below a tab.
#[component]
pub fn PageHeader(#[prop(into)] title: Signal<String>, #[prop(optional)] back: Option<String>) -> impl IntoView {
    let t = use_texts();
    view! {
        <div class="page-header">
            {back.map(|href| view! {
                <a class="back" href=href aria-label=move || t.get().back><IconSvg icon=Icon::Back/></a>
            })}
            <h1>{move || title.get()}</h1>
        </div>
    }
}
