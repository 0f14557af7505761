//! 인증 검토, for administrators: the queue of reported and appealed proofs (photo, text, every report with its
//! reason, the appeal) with reject and dismiss, each with a reason the person who proved is told; and the recent
//! decisions, the system's included (made when the review time ran out). A case in a challenge the administrator
//! takes part in is shown but cannot be decided: nobody with a stake in the pot judges its proofs.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nene_shared::challenges::ProofStatus;
use nene_shared::moderation::{ModerationCase, ModerationDecision};
use nene_shared::users::Role;
use nene_shared::{ErrorBody, ErrorCode};

use crate::backend::ApiError;
use crate::components::photo::ProtectedImage;
use crate::components::states::{Empty, ErrorNotice, InlineError, Loading};
use crate::dates;
use crate::i18n::{fill, use_texts};
use crate::pages::PageHeader;
use crate::session::{use_backend, use_session};

#[component]
pub fn Moderation() -> impl IntoView {
    let t = use_texts();
    let session = use_session();
    let backend = use_backend();
    let admin = session.me.with_untracked(|m| m.as_ref().is_some_and(|m| m.role == Role::Admin));
    let queue = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            async move {
                if !admin {
                    return Err(ApiError::Server {
                        status: 403,
                        body: ErrorBody { code: ErrorCode::Forbidden, message: String::new(), fields: None },
                    });
                }
                backend.moderation_queue(None).await
            }
        }
    });
    let decisions = LocalResource::new(move || {
        let backend = backend.clone();
        async move { if admin { backend.moderation_decisions(None).await.map(|p| p.items).ok() } else { None } }
    });
    let reload = Callback::new(move |_| {
        queue.refetch();
        decisions.refetch();
    });
    view! {
        <section class="page moderation" data-testid="moderation">
            <PageHeader title=Signal::derive(move || t.get().moderation_title.to_owned()) back="/me".to_owned()/>
            {move || match queue.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=reload/> }.into_any(),
                Some(Ok(page)) if page.items.is_empty() => view! {
                    <Empty message=Signal::derive(move || t.get().queue_empty.to_owned())/>
                }.into_any(),
                Some(Ok(page)) => view! {
                    <ul class="cases" data-testid="moderation-queue">
                        {page.items.into_iter().map(|c| view! { <CaseCard case=c reload=reload/> }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {move || decisions.get().flatten().map(|items| view! { <Decisions items=items/> })}
        </section>
    }
}

/// One proof waiting for a decision.
#[component]
fn CaseCard(case: ModerationCase, reload: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let proof = case.proof.clone();
    let id = proof.id;
    let reason = RwSignal::new(String::new());
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let decide = move |reject: bool| {
        let backend = backend.clone();
        move |_| {
            let text = reason.get_untracked().trim().to_owned();
            if text.is_empty() || pending.get_untracked() {
                return;
            }
            pending.set(true);
            error.set(None);
            let backend = backend.clone();
            spawn_local(async move {
                let result =
                    if reject { backend.reject_proof(id, text).await } else { backend.dismiss_case(id, text).await };
                pending.set(false);
                match result {
                    Ok(_) => reload.run(()),
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    let (on_reject, on_dismiss) = (decide(true), decide(false));
    let alt = Signal::derive({
        let name = proof.user.nickname.clone();
        move || fill(t.get().proof_photo_of, &[("name", name.clone())])
    });
    let kind = case.kind;
    let reports_count = case.reports.len().to_string();
    let decide_by = dates::local(case.decide_by);
    let rejected = proof.status == ProofStatus::Rejected;
    let reports = case
        .reports
        .iter()
        .map(|r| {
            view! {
                <li class:muted=!r.open data-testid="case-report">
                    <strong>{r.reporter.nickname.clone()}</strong> ": " {r.reason.clone()}
                </li>
            }
        })
        .collect_view();
    view! {
        <li class="card case" data-testid="case" data-kind=kind.as_str()>
            <div class="row spread">
                <h3>{case.challenge_title.clone()}</h3>
                <span class="badge badge-ready">{move || (t.get().case_kind)(kind)}</span>
            </div>
            <p class="proof-meta"><strong>{proof.user.nickname.clone()}</strong> " · "
                <span class="muted">{move || (t.get().day)(proof.day)}</span>
                {rejected.then(|| view! { <span class="badge badge-cancelled">{move || t.get().rejected}</span> })}
            </p>
            {proof.photo_url.clone().map(|url| view! { <ProtectedImage url=url alt=alt class="case-photo"/> })}
            {proof.text.clone().map(|text| view! { <p class="proof-text" data-testid="case-text">{text}</p> })}
            <p class="small"><strong>{move || fill(t.get().reports_count, &[("n", reports_count.clone())])}</strong></p>
            <ul class="case-reports">{reports}</ul>
            {proof.reject_reason.clone().filter(|_| rejected).map(|r| view! {
                <p class="small reject-reason">{move || fill(t.get().reject_reason_label, &[("reason", r.clone())])}</p>
            })}
            {proof.appeal.clone().map(|a| view! {
                <p class="small">{move || fill(t.get().appeal_reason_label, &[("reason", a.reason.clone())])}</p>
            })}
            <p class="muted small">{move || fill(t.get().decide_by, &[("time", (t.get().date_time)(decide_by))])}</p>
            {if case.can_decide {
                view! {
                    <div class="case-decision">
                        <textarea rows="2" data-testid="case-reason" placeholder=move || t.get().decision_reason_placeholder
                            prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                        <InlineError error=error/>
                        <div class="grid-2">
                            <button class="btn btn-ghost danger" data-testid="case-reject" on:click=on_reject
                                disabled=move || pending.get() || reason.with(|r| r.trim().is_empty())>
                                {move || t.get().reject}
                            </button>
                            <button class="btn btn-primary" data-testid="case-dismiss" on:click=on_dismiss
                                disabled=move || pending.get() || reason.with(|r| r.trim().is_empty())>
                                {move || t.get().dismiss_case}
                            </button>
                        </div>
                    </div>
                }
                .into_any()
            } else {
                view! { <p class="notice queued small" data-testid="cannot-decide">{move || t.get().cannot_decide}</p> }.into_any()
            }}
        </li>
    }
}

/// The latest decisions: what was done, by whom (or by the system), and why.
#[component]
fn Decisions(items: Vec<ModerationDecision>) -> impl IntoView {
    let t = use_texts();
    let empty = items.is_empty();
    let rows = items
        .into_iter()
        .map(|d| {
            let when = dates::local(d.created_at);
            let actor = d.actor.map(|a| a.nickname);
            let (action, on_appeal) = (d.action, d.on_appeal);
            view! {
                <li class="decision" data-testid="decision" data-action=action.as_str()>
                    <p><strong>{move || (t.get().decision_action)(action, on_appeal)}</strong> " · "
                        {let actor = actor.clone(); move || actor.clone().unwrap_or_else(|| t.get().system_actor.to_owned())}
                        " · " <span class="muted small">{move || (t.get().date_time)(when)}</span></p>
                    <p class="small">{d.reason.clone()}</p>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="card">
            <h3>{move || t.get().decisions_title}</h3>
            {empty.then(|| view! { <p class="muted">{move || t.get().no_decisions}</p> })}
            <ul class="decisions">{rows}</ul>
        </div>
    }
}
