//! Sign-up and sign-in. Inputs are checked with the same rules the server uses (`nene_shared::validate`) before
//! anything is sent; the server's refusals (taken email or nickname, wrong password, too many tries) are worded from
//! their codes. After signing in the person goes back to where they were headed (`?next=`).

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use nene_shared::auth::{LoginRequest, SignupRequest};
use nene_shared::validate::{Email, Nickname, Password};
use nene_shared::{ErrorCode, FieldCode};

use crate::backend::ApiError;
use crate::components::field::{Field, FieldErrors, show_fields};
use crate::components::states::InlineError;
use crate::i18n::use_texts;
use crate::session::{use_backend, use_session};

/// Where to go after signing in: the `next` the guard gave, if it is a path on this site.
fn next_path(next: Option<String>) -> String {
    next.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/signin"))
        .unwrap_or_else(|| "/".into())
}

/// Signed-in people have no business on these pages: send them on.
fn leave_when_signed_in() {
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    Effect::new(move |_| {
        if session.me.with(|m| m.is_some()) {
            navigate(
                &next_path(query.get_untracked().get("next")),
                NavigateOptions { replace: true, ..Default::default() },
            );
        }
    });
}

#[component]
pub fn SignIn() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let query = use_query_map();
    leave_when_signed_in();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let fields: FieldErrors = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let mut local = BTreeMap::new();
        if email.get_untracked().trim().is_empty() {
            local.insert("email".to_owned(), FieldCode::Required);
        }
        if password.get_untracked().is_empty() {
            local.insert("password".to_owned(), FieldCode::Required);
        }
        fields.set(local.clone());
        error.set(None);
        if !local.is_empty() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        let req = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            client: None,
        };
        spawn_local(async move {
            // Success moves on through `leave_when_signed_in`, which sees the new session.
            if let Err(e) = backend.sign_in(&req).await {
                show_fields(fields, &e);
                error.set(Some(e));
            }
            pending.set(false);
        });
    };

    let signup_href = move || match query.get().get("next") {
        Some(next) => format!("/signup?next={}", crate::backend::query::encode(&next)),
        None => "/signup".to_owned(),
    };
    view! {
        <section class="page auth-page">
            <div class="auth-hero">
                <span class="brand-mark big" aria-hidden="true">"N"</span>
                <h1>{move || t.get().app_name}</h1>
                <p class="muted">{move || t.get().tagline}</p>
            </div>
            <form class="form card" on:submit=submit novalidate=true data-testid="signin-form">
                <h2>{move || t.get().sign_in}</h2>
                <Field label=Signal::derive(move || t.get().email) name="email" fields=fields>
                    <input type="email" autocomplete="username" data-testid="email" prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))/>
                </Field>
                <Field label=Signal::derive(move || t.get().password) name="password" fields=fields>
                    <input type="password" autocomplete="current-password" data-testid="password"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </Field>
                <InlineError error=error/>
                <button class="btn btn-primary btn-block" type="submit" data-testid="signin-submit"
                    disabled=move || pending.get() class:pending=move || pending.get()>
                    {move || if pending.get() { t.get().working } else { t.get().sign_in }}
                </button>
                <p class="muted center">{move || t.get().no_account} " "
                    <a href=signup_href data-testid="to-signup">{move || t.get().sign_up}</a></p>
            </form>
            <LanguageSwitch/>
        </section>
    }
}

#[component]
pub fn SignUp() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    leave_when_signed_in();
    let email = RwSignal::new(String::new());
    let nickname = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let fields: FieldErrors = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let mut local = BTreeMap::new();
        if let Err(code) = Email::parse(&email.get_untracked()) {
            local.insert("email".to_owned(), code);
        }
        if let Err(code) = Nickname::parse(&nickname.get_untracked()) {
            local.insert("nickname".to_owned(), code);
        }
        if let Err(code) = Password::parse(&password.get_untracked()) {
            local.insert("password".to_owned(), code);
        }
        fields.set(local.clone());
        error.set(None);
        if !local.is_empty() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        let req = SignupRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            nickname: nickname.get_untracked().trim().to_owned(),
            client: None,
        };
        spawn_local(async move {
            if let Err(e) = backend.sign_up(&req).await {
                let mut by_field = e.fields();
                match e.code() {
                    ErrorCode::EmailTaken => {
                        by_field.insert("email".into(), FieldCode::Taken);
                    }
                    ErrorCode::NicknameTaken => {
                        by_field.insert("nickname".into(), FieldCode::Taken);
                    }
                    _ => {}
                }
                fields.set(by_field);
                error.set(Some(e));
            }
            pending.set(false);
        });
    };

    view! {
        <section class="page auth-page">
            <div class="auth-hero">
                <span class="brand-mark big" aria-hidden="true">"N"</span>
                <h1>{move || t.get().app_name}</h1>
                <p class="muted">{move || t.get().tagline}</p>
            </div>
            <form class="form card" on:submit=submit novalidate=true data-testid="signup-form">
                <h2>{move || t.get().sign_up}</h2>
                <Field label=Signal::derive(move || t.get().email) name="email" fields=fields>
                    <input type="email" autocomplete="email" data-testid="email" prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))/>
                </Field>
                <Field label=Signal::derive(move || t.get().nickname) name="nickname" fields=fields
                    hint=Signal::derive(move || t.get().nickname_hint.to_owned())>
                    <input type="text" autocomplete="nickname" data-testid="nickname" prop:value=move || nickname.get()
                        on:input=move |ev| nickname.set(event_target_value(&ev))/>
                </Field>
                <Field label=Signal::derive(move || t.get().password) name="password" fields=fields
                    hint=Signal::derive(move || t.get().password_hint.to_owned())>
                    <input type="password" autocomplete="new-password" data-testid="password"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </Field>
                <InlineError error=error/>
                <button class="btn btn-primary btn-block" type="submit" data-testid="signup-submit"
                    disabled=move || pending.get() class:pending=move || pending.get()>
                    {move || if pending.get() { t.get().working } else { t.get().sign_up }}
                </button>
                <p class="muted center">{move || t.get().have_account} " "
                    <a href="/signin" data-testid="to-signin">{move || t.get().sign_in}</a></p>
            </form>
            <LanguageSwitch/>
        </section>
    }
}

/// 한국어 / English, also on the profile screen.
#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let i18n = crate::i18n::use_i18n();
    let t = use_texts();
    view! {
        <div class="lang-switch" role="group" aria-label=move || t.get().language>
            {crate::i18n::Lang::ALL
                .into_iter()
                .map(|lang| {
                    let name = lang.texts().language_name;
                    view! {
                        <button type="button" class="chip" class:selected=move || i18n.lang.get() == lang
                            aria-pressed=move || (i18n.lang.get() == lang).to_string()
                            data-testid=format!("lang-{}", lang.code()) on:click=move |_| i18n.lang.set(lang)>
                            {name}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(next_path(Some("/wallet".into())), "/wallet");
        assert_eq!(next_path(Some("//evil.example".into())), "/");
        assert_eq!(next_path(Some("https://evil.example".into())), "/");
        assert_eq!(next_path(Some("/signin?next=/".into())), "/");
        assert_eq!(next_path(None), "/");
    }
}
