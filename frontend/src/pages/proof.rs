//! 인증하기: today's proof — a photo (picked or taken, previewed before sending) and/or a note, as the challenge
//! asks — sent as one multipart request. The server judges the day by its own clock.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use nene_shared::FieldCode;
use nene_shared::challenges::{ProofType, limits};
use wasm_bindgen::JsCast;

use crate::backend::{ApiError, Sent};
use crate::components::field::{Field, FieldErrors, show_fields};
use crate::components::photo::revoke;
use crate::components::states::{ErrorNotice, InlineError, Loading};
use crate::i18n::{fill, use_texts};
use crate::pages::PageHeader;
use crate::pages::detail::id_param;
use crate::session::use_backend;

/// The largest photo the server takes.
const MAX_PHOTO_BYTES: f64 = 10.0 * 1024.0 * 1024.0;

#[component]
pub fn SubmitProof() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let id = id_param();
    let challenge = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            let id = id.get();
            async move {
                match id {
                    Some(id) => backend.challenge(id).await.map(Some),
                    None => Ok(None),
                }
            }
        }
    });
    view! {
        <section class="page proof-page">
            {move || match challenge.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| challenge.refetch())/> }.into_any(),
                Some(Ok(None)) => view! { <crate::pages::not_found::NotFound/> }.into_any(),
                Some(Ok(Some(c))) => view! {
                    <PageHeader title=Signal::derive(move || t.get().submit_proof.to_owned())
                        back=format!("/challenges/{}", c.id)/>
                    <ProofForm id=c.id title=c.title.clone() proof_type=c.proof_type/>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ProofForm(id: nene_shared::challenges::ChallengeId, title: String, proof_type: ProofType) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let navigate = use_navigate();
    // What the challenge requires; the other part may be added too.
    let needs_photo = proof_type != ProofType::Text;
    let needs_text = proof_type != ProofType::Photo;
    // A `File` lives in the page's JavaScript world, so it stays in local (non-thread-safe) storage.
    let photo = RwSignal::new_local(None::<web_sys::File>);
    let preview = RwSignal::new(None::<String>);
    let text = RwSignal::new(String::new());
    let fields: FieldErrors = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    // The app saved the proof on the device (offline): the form stays locked and says so.
    let queued = RwSignal::new(false);

    on_cleanup(move || {
        if let Some(url) = preview.try_get_untracked().flatten() {
            revoke(&url);
        }
    });
    let pick = move |ev: leptos::ev::Event| {
        let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) else { return };
        let file = input.files().and_then(|files| files.get(0));
        if let Some(old) = preview.get_untracked() {
            revoke(&old);
        }
        preview.set(file.as_ref().and_then(|f| web_sys::Url::create_object_url_with_blob(f).ok()));
        fields.update(|f| {
            f.remove("photo");
        });
        if file.as_ref().is_some_and(|f| f.size() > MAX_PHOTO_BYTES) {
            fields.update(|f| {
                f.insert("photo".into(), FieldCode::TooLong);
            });
        }
        photo.set(file);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() || queued.get_untracked() {
            return;
        }
        let file = photo.get_untracked();
        let note = text.get_untracked().trim().to_owned();
        let mut local = BTreeMap::new();
        if needs_photo && file.is_none() {
            local.insert("photo".to_owned(), FieldCode::Required);
        }
        if file.as_ref().is_some_and(|f| f.size() > MAX_PHOTO_BYTES) {
            local.insert("photo".to_owned(), FieldCode::TooLong);
        }
        if needs_text && note.is_empty() {
            local.insert("text".to_owned(), FieldCode::Required);
        }
        if note.chars().count() > limits::PROOF_TEXT_MAX {
            local.insert("text".to_owned(), FieldCode::TooLong);
        }
        fields.set(local.clone());
        error.set(None);
        if !local.is_empty() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        let navigate = navigate.clone();
        let note = (!note.is_empty()).then_some(note);
        spawn_local(async move {
            match backend.submit_proof(id, note, file).await {
                Ok(Sent::Done(_)) => navigate(&format!("/challenges/{id}/progress"), Default::default()),
                Ok(Sent::Queued) => {
                    queued.set(true);
                    pending.set(false);
                }
                Err(e) => {
                    show_fields(fields, &e);
                    error.set(Some(e));
                    pending.set(false);
                }
            }
        });
    };
    let count = move || {
        fill(
            t.get().chars_count,
            &[("n", text.with(|s| s.chars().count()).to_string()), ("max", limits::PROOF_TEXT_MAX.to_string())],
        )
    };
    view! {
        <form class="form card" on:submit=submit novalidate=true data-testid="proof-form">
            <p class="muted">{title}</p>
            <Field label=Signal::derive(move || if needs_photo { t.get().photo } else { t.get().photo_optional })
                name="photo" fields=fields>
                    <div class="photo-picker" class:has-photo=move || preview.with(Option::is_some)>
                        {move || match preview.get() {
                            Some(url) => view! { <img class="preview" src=url alt=move || t.get().photo_preview data-testid="photo-preview"/> }.into_any(),
                            None => view! { <span class="picker-hint">{move || t.get().pick_photo}</span> }.into_any(),
                        }}
                        <input type="file" accept="image/jpeg,image/png,image/webp" capture="environment"
                            data-testid="photo-input" on:change=pick/>
                    </div>
            </Field>
            <Field label=Signal::derive(move || if needs_text { t.get().note } else { t.get().note_optional })
                name="text" fields=fields hint=Signal::derive(count)>
                <textarea rows="4" data-testid="proof-text" placeholder=move || t.get().note_placeholder
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </Field>
            <InlineError error=error/>
            {move || queued.get().then(|| view! {
                <p class="notice queued" role="status" data-testid="proof-queued">{t.get().queued_proof}</p>
                <a class="btn btn-ghost btn-block" href=format!("/challenges/{id}") data-testid="back-to-challenge">{t.get().back_to_challenge}</a>
            })}
            <button class="btn btn-primary btn-block" type="submit" data-testid="proof-submit"
                hidden=move || queued.get() disabled=move || pending.get() || queued.get()
                class:pending=move || pending.get()>
                {move || if pending.get() { t.get().sending } else { t.get().submit_proof }}
            </button>
        </form>
    }
}
