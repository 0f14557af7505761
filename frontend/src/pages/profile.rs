//! 내 정보: nickname and bio (checked by the shared rules, refusals next to the field), the language switch, and
//! signing out; inside the app, its settings (the server's address); for administrators, the way to proof review.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use nene_shared::users::{Role, UpdateProfileRequest};
use nene_shared::validate::{Bio, Nickname};
use nene_shared::{ErrorCode, FieldCode};

use crate::backend::ApiError;
use crate::backend::device::AppSettings;
use crate::components::field::{Field, FieldErrors};
use crate::components::states::InlineError;
use crate::i18n::{fill, use_texts};
use crate::pages::PageHeader;
use crate::pages::auth::LanguageSwitch;
use crate::session::{use_backend, use_session};

#[component]
pub fn Profile() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let session = use_session();
    let navigate = use_navigate();
    let me = session.me.get_untracked();
    let email = me.as_ref().map(|m| m.email.clone()).unwrap_or_default();
    let is_admin = me.as_ref().is_some_and(|m| m.role == Role::Admin);
    let nickname = RwSignal::new(me.as_ref().map(|m| m.nickname.clone()).unwrap_or_default());
    let bio = RwSignal::new(me.as_ref().map(|m| m.bio.clone()).unwrap_or_default());
    let fields: FieldErrors = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    let pending = RwSignal::new(false);

    let save = {
        let backend = backend.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if pending.get_untracked() {
                return;
            }
            let mut local = BTreeMap::new();
            if let Err(code) = Nickname::parse(&nickname.get_untracked()) {
                local.insert("nickname".to_owned(), code);
            }
            if let Err(code) = Bio::parse(&bio.get_untracked()) {
                local.insert("bio".to_owned(), code);
            }
            fields.set(local.clone());
            error.set(None);
            saved.set(false);
            if !local.is_empty() {
                return;
            }
            pending.set(true);
            let backend = backend.clone();
            let req = UpdateProfileRequest {
                nickname: Some(nickname.get_untracked().trim().to_owned()),
                bio: Some(bio.get_untracked().trim().to_owned()),
            };
            spawn_local(async move {
                match backend.update_me(&req).await {
                    Ok(_) => saved.set(true),
                    Err(e) => {
                        let mut by_field = e.fields();
                        if e.code() == ErrorCode::NicknameTaken {
                            by_field.insert("nickname".into(), FieldCode::Taken);
                        }
                        fields.set(by_field);
                        error.set(Some(e));
                    }
                }
                pending.set(false);
            });
        }
    };
    let sign_out = move |_| {
        let (backend, navigate) = (backend.clone(), navigate.clone());
        spawn_local(async move {
            let _ = backend.sign_out().await;
            navigate("/signin", Default::default());
        });
    };

    view! {
        <section class="page profile">
            <PageHeader title=Signal::derive(move || t.get().profile_title.to_owned())/>
            <form class="form card" on:submit=save novalidate=true data-testid="profile-form">
                <p class="muted">{email}</p>
                <Field label=Signal::derive(move || t.get().nickname) name="nickname" fields=fields
                    hint=Signal::derive(move || t.get().nickname_hint.to_owned())>
                    <input type="text" data-testid="profile-nickname" prop:value=move || nickname.get()
                        on:input=move |ev| nickname.set(event_target_value(&ev))/>
                </Field>
                <Field label=Signal::derive(move || t.get().bio) name="bio" fields=fields>
                    <textarea rows="3" data-testid="profile-bio" prop:value=move || bio.get()
                        on:input=move |ev| bio.set(event_target_value(&ev))></textarea>
                </Field>
                <InlineError error=error/>
                {move || saved.get().then(|| view! { <p class="notice" role="status" data-testid="profile-saved">{t.get().saved}</p> })}
                <button class="btn btn-primary btn-block" type="submit" data-testid="profile-save"
                    disabled=move || pending.get()>{move || t.get().save}</button>
            </form>
            <div class="card">
                <h3>{move || t.get().language}</h3>
                <LanguageSwitch/>
            </div>
            <AppSettingsCard/>
            {is_admin.then(|| view! {
                <a class="btn btn-ghost btn-block" href="/admin/moderation" data-testid="go-moderation">
                    {move || t.get().moderation_link}
                </a>
            })}
            <button class="btn btn-ghost btn-block danger" data-testid="sign-out" on:click=sign_out>
                {move || t.get().sign_out}
            </button>
        </section>
    }
}

/// Inside the app: the server's address (from `NENE_SERVER_URL` unless chosen here) and where the sign-in is kept.
#[component]
fn AppSettingsCard() -> impl IntoView {
    let backend = use_backend();
    if !backend.in_app() {
        return ().into_any();
    }
    let t = use_texts();
    let url = RwSignal::new(String::new());
    let store = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    let show = move |s: AppSettings| {
        url.set(s.server_url);
        store.set(s.token_store);
    };
    {
        let backend = backend.clone();
        spawn_local(async move {
            match backend.app_settings().await {
                Ok(s) => show(s),
                Err(e) => error.set(Some(e)),
            }
        });
    }
    let choose = move |chosen: Option<String>| {
        let backend = backend.clone();
        error.set(None);
        saved.set(false);
        spawn_local(async move {
            match backend.set_server_url(chosen).await {
                Ok(s) => {
                    show(s);
                    saved.set(true);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let save = {
        let choose = choose.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            choose(Some(url.get_untracked().trim().to_owned()));
        }
    };
    view! {
        <form class="form card" on:submit=save novalidate=true data-testid="app-settings">
            <h3>{move || t.get().app_settings}</h3>
            <label class="field">
                <span class="field-label">{move || t.get().server_address}</span>
                <input type="url" data-testid="server-url" prop:value=move || url.get()
                    on:input=move |ev| url.set(event_target_value(&ev))/>
            </label>
            <p class="field-hint" data-testid="server-url-hint">{move || t.get().server_address_hint}</p>
            <p class="field-hint">{move || fill(t.get().sign_in_kept_in, &[("store", store.get())])}</p>
            <InlineError error=error/>
            {move || saved.get().then(|| view! { <p class="notice" role="status">{t.get().saved}</p> })}
            <div class="grid-2">
                <button class="btn btn-ghost" type="button" on:click=move |_| choose(None)>
                    {move || t.get().server_address_default}
                </button>
                <button class="btn btn-primary" type="submit" data-testid="server-url-save">{move || t.get().save}</button>
            </div>
        </form>
    }
    .into_any()
}
