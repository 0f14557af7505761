//! A challenge: its rules, the people in it, today's live proof rate, the proof feed with thumbnails (reports, and
//! the owner's view of a rejection with its appeal), whether settlement waits for reviews, and the money step — join
//! (the stake shown and confirmed once) or leave (the stake coming back) — with the pot-split preview ("if 8 of 10
//! succeed, you get about N points back") right above it.

use futures::future::join;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;
use nene_shared::challenges::{
    Challenge, ChallengeId, ChallengeStatus, Outcome, Participant, Progress, Proof, ProofQuery, ProofStatus, ProofType,
};
use nene_shared::{ErrorCode, UserId};

use crate::backend::{ApiError, Sent};
use crate::components::card::{StatusBadge, category_icon};
use crate::components::confirm::ConfirmDialog;
use crate::components::photo::ProtectedImage;
use crate::components::reason::ReasonForm;
use crate::components::states::{Empty, ErrorNotice, InlineError, Loading};
use crate::dates;
use crate::i18n::{fill, use_texts};
use crate::money;
use crate::pages::PageHeader;
use crate::session::{use_backend, use_session};

/// Everything the screen shows, loaded together.
#[derive(Clone, Debug, PartialEq)]
struct Loaded {
    challenge: Challenge,
    progress: Option<Progress>,
    participants: Vec<Participant>,
}

/// The challenge id from the address, if it is one.
pub fn id_param() -> Signal<Option<ChallengeId>> {
    let params = use_params_map();
    Signal::derive(move || params.with(|p| p.get("id")).and_then(|id| id.parse().ok()))
}

#[component]
pub fn Detail() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let id = id_param();
    let data = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            let id = id.get();
            async move {
                let id = id.ok_or_else(not_found)?;
                let challenge = backend.challenge(id).await?;
                let (progress, participants) = join(backend.progress(id), backend.participants(id)).await;
                // The app offline has the challenge and its progress in its cache but not the people in it: the
                // page still shows, without the list.
                let participants = match participants {
                    Ok(list) => list,
                    Err(e) if e.code() == ErrorCode::Unavailable => Vec::new(),
                    Err(e) => return Err(e),
                };
                Ok::<_, ApiError>(Loaded { challenge, progress: progress.ok(), participants })
            }
        }
    });
    let reload = Callback::new(move |_| data.refetch());
    view! {
        <section class="page detail">
            {move || match data.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! {
                    <PageHeader title=Signal::derive(move || t.get().challenge.to_owned()) back="/".to_owned()/>
                    <ErrorNotice error=e retry=reload/>
                }.into_any(),
                Some(Ok(loaded)) => view! { <DetailBody loaded=loaded reload=reload/> }.into_any(),
            }}
        </section>
    }
}

fn not_found() -> ApiError {
    ApiError::Server {
        status: 404,
        body: nene_shared::ErrorBody { code: ErrorCode::NotFound, message: String::new(), fields: None },
    }
}

#[component]
fn DetailBody(loaded: Loaded, reload: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let session = use_session();
    let c = loaded.challenge.clone();
    let my_id = session.me.with_untracked(|m| m.as_ref().map(|m| m.id));
    let is_creator = my_id == Some(c.creator.id);
    let (start, end, status, proof_type, stake) = (c.start_date, c.end_date, c.status, c.proof_type, c.stake);
    let weekdays = c.proof_weekdays.clone();
    let running = status == ChallengeStatus::InProgress;
    let recruiting = matches!(status, ChallengeStatus::Recruiting | ChallengeStatus::Ready);
    let my_result = (status == ChallengeStatus::Ended)
        .then(|| loaded.participants.iter().find(|p| Some(p.user.id) == my_id).cloned())
        .flatten()
        .and_then(|p| Some((p.outcome?, p.payout.unwrap_or_default())));
    let my_progress =
        loaded.progress.as_ref().and_then(|p| p.participants.iter().find(|pp| Some(pp.user.id) == my_id).cloned());
    let today_proof_day = loaded.progress.as_ref().is_some_and(|p| p.today_is_proof_day);

    let days_words = move || {
        let t = t.get();
        if weekdays.len() == 7 || weekdays.is_empty() {
            t.every_day.to_owned()
        } else {
            weekdays.iter().map(|w| (t.weekday_short)(*w)).collect::<Vec<_>>().join(" · ")
        }
    };
    let rule_words = move || {
        fill(
            t.get().rule_threshold,
            &[
                ("percent", c.success_threshold.to_string()),
                ("days", c.required_days.to_string()),
                ("total", c.proof_days.to_string()),
            ],
        )
    };
    let proof_action = (running && c.joined).then(|| {
        let done = my_progress.as_ref().is_some_and(|p| p.today_done);
        if done {
            view! { <p class="today today-done" data-testid="today-done">{move || t.get().today_done}</p> }.into_any()
        } else if today_proof_day {
            view! {
                <a class="btn btn-primary btn-block" href=format!("/challenges/{}/proof", c.id) data-testid="go-proof">
                    {move || t.get().submit_proof}
                </a>
            }
            .into_any()
        } else {
            view! { <p class="today today-rest">{move || t.get().today_rest}</p> }.into_any()
        }
    });

    view! {
        <PageHeader title=Signal::derive(move || t.get().challenge.to_owned()) back="/".to_owned()/>
        <article class="card detail-head" data-testid="challenge-detail" data-status=status.as_str()>
            <div class="card-head">
                <span class="category-icon big" aria-hidden="true">{category_icon(c.category)}</span>
                <div class="card-title">
                    <h2 data-testid="challenge-title">{c.title.clone()}</h2>
                    <p class="muted">{move || (t.get().category)(c.category)} " · "
                        {move || fill(t.get().by_creator, &[("name", c.creator.nickname.clone())])}</p>
                </div>
                <StatusBadge status=status/>
            </div>
            {(!c.description.is_empty()).then(|| view! { <p class="description">{c.description.clone()}</p> })}
            <dl class="facts">
                <div><dt>{move || t.get().stake}</dt><dd class="money" data-testid="stake">{money::points(stake)}</dd></div>
                <div><dt>{move || t.get().participants}</dt>
                    <dd><span data-testid="participant-count">{format!("{} / {}", c.participant_count, c.capacity)}</span>
                        {recruiting.then(|| view! {
                            <span class="muted small">" · " {move || fill(t.get().seats_left, &[("n", c.seats_left.to_string())])}</span>
                        })}
                    </dd></div>
                <div class="wide"><dt>{move || t.get().period}</dt>
                    <dd>{move || (t.get().day)(start)} " – " {move || (t.get().day)(end)}</dd></div>
                <div><dt>{move || t.get().proof_type_label}</dt><dd>{move || (t.get().proof_type)(proof_type)}</dd></div>
                <div><dt>{move || t.get().proof_days_label}</dt><dd>{days_words}</dd></div>
                <div class="wide"><dt>{move || t.get().success_rule}</dt><dd>{rule_words}</dd></div>
            </dl>
        </article>

        {c.settlement_waiting.clone().map(|w| {
            let (reports, appeals) = (w.open_reports.to_string(), w.open_appeals.to_string());
            let until = dates::local(w.until);
            let words = move || {
                let t = t.get();
                fill(
                    t.settlement_waiting,
                    &[("reports", reports.clone()), ("appeals", appeals.clone()), ("until", (t.date_time)(until))],
                )
            };
            // Rejections still inside their appeal window hold settlement too, until the last window closes.
            let appeal_words = w.appeals_until.filter(|_| w.possible_appeals > 0).map(|until| {
                let (n, until) = (w.possible_appeals.to_string(), dates::local(until));
                move || {
                    let t = t.get();
                    fill(t.settlement_waiting_appeals, &[("n", n.clone()), ("until", (t.date_time)(until))])
                }
            });
            view! {
                <div class="card notice settlement-waiting" role="status" data-testid="settlement-waiting">
                    <p>{words}</p>
                    {appeal_words.map(|w| view! { <p data-testid="settlement-waiting-appeals">{w}</p> })}
                </div>
            }
        })}
        {loaded.progress.clone().filter(|_| running).map(|p| view! { <LiveRate progress=p/> })}
        {my_result.map(|(outcome, payout)| {
            let won = outcome == Outcome::Success;
            let words = move || {
                let t = t.get();
                if won {
                    fill(t.settled_won, &[("amount", money::points(payout))])
                } else {
                    fill(t.settled_lost, &[("amount", money::points(stake))])
                }
            };
            view! {
                <div class=if won { "card settled won" } else { "card settled lost" } data-testid="my-settlement"
                    data-outcome=outcome.as_str()>
                    <p class="result-icon" class:bad=!won aria-hidden="true">{if won { "🏆" } else { "!" }}</p>
                    <p>{words}</p>
                </div>
            }
        })}

        <div class="card actions">
            {proof_action}
            {(c.joined && matches!(status, ChallengeStatus::InProgress | ChallengeStatus::Ended)).then(|| view! {
                <a class="btn btn-ghost btn-block" href=format!("/challenges/{}/progress", c.id) data-testid="go-progress">
                    {move || t.get().my_progress}
                </a>
            })}
            <MoneyAction challenge=loaded.challenge.clone() is_creator=is_creator reload=reload/>
        </div>

        <Participants list=loaded.participants.clone() progress=loaded.progress.clone() status=status/>
        <ProofFeed id=c.id joined=c.joined proof_type=proof_type me=my_id running=running/>
    }
}

/// Today's proof rate across everyone, live from `/progress`.
#[component]
fn LiveRate(progress: Progress) -> impl IntoView {
    let t = use_texts();
    let rate = progress.today_rate_percent.clamp(0, 100);
    let words = move || {
        fill(
            t.get().live_rate,
            &[("done", progress.today_proofs.to_string()), ("total", progress.participant_count.to_string())],
        )
    };
    view! {
        <div class="card live" data-testid="live-rate">
            <div class="row spread">
                <h3>{move || t.get().today_rate}</h3>
                <strong class="big-number">{format!("{rate}%")}</strong>
            </div>
            <div class="bar"><span class="bar-fill accent" style=format!("width: {rate}%")></span></div>
            <p class="muted">{words}</p>
        </div>
    }
}

/// Join or leave, with the pot-split preview; the stake is shown and confirmed once.
#[component]
fn MoneyAction(challenge: Challenge, is_creator: bool, reload: Callback<()>) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let c = challenge;
    let can_join = !c.joined && c.status == ChallengeStatus::Recruiting && c.seats_left > 0;
    let can_leave = c.joined && !is_creator && matches!(c.status, ChallengeStatus::Recruiting | ChallengeStatus::Ready);
    let open = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    // The app saved the join or leave on the device (offline); it is sent when the server is back.
    let queued = RwSignal::new(false);
    let (id, stake) = (c.id, c.stake);
    // The people the pot would be split among: while recruiting, a full challenge (it may well fill up); once it
    // runs, those who are in.
    let people = if matches!(c.status, ChallengeStatus::Recruiting | ChallengeStatus::Ready) {
        c.capacity.max(c.participant_count + i64::from(!c.joined))
    } else {
        c.participant_count
    }
    .max(1);
    let winners = RwSignal::new(money::likely_winners(people));
    let act = Callback::new(move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        spawn_local(async move {
            let result = if can_join { backend.join(id).await } else { backend.leave(id).await };
            pending.set(false);
            open.set(false);
            match result {
                Ok(Sent::Done(_)) => reload.run(()),
                Ok(Sent::Queued) => queued.set(true),
                Err(e) => error.set(Some(e)),
            }
        });
    });
    let preview = move || {
        let k = winners.get();
        fill(
            t.get().pot_preview,
            &[
                ("k", k.to_string()),
                ("n", people.to_string()),
                ("amount", money::points(money::payout_if(stake, people, k))),
            ],
        )
    };
    let show_preview =
        matches!(c.status, ChallengeStatus::Recruiting | ChallengeStatus::Ready | ChallengeStatus::InProgress);
    view! {
        {show_preview.then(|| view! {
            <div class="pot" data-testid="pot-preview">
                <p>{preview}</p>
                <input type="range" min="1" max=people.to_string() prop:value=move || winners.get().to_string()
                    aria-label=move || t.get().pot_slider
                    on:input=move |ev| winners.set(event_target_value(&ev).parse().unwrap_or(1))/>
            </div>
        })}
        {move || queued.get().then(|| view! {
            <p class="notice queued" role="status" data-testid="action-queued">
                {if can_join { t.get().queued_join } else { t.get().queued_leave }}
            </p>
        })}
        {can_join.then(|| view! {
            <button class="btn btn-primary btn-block" data-testid="join" disabled=move || queued.get() on:click=move |_| { error.set(None); open.set(true) }>
                {move || fill(t.get().join_with_stake, &[("amount", money::points(stake))])}
            </button>
        })}
        {can_leave.then(|| view! {
            <button class="btn btn-ghost btn-block" data-testid="leave" disabled=move || queued.get() on:click=move |_| { error.set(None); open.set(true) }>
                {move || t.get().leave}
            </button>
        })}
        {move || error.get().map(|e| {
            let short = e.code() == ErrorCode::InsufficientPoints;
            view! {
                <InlineError error=Signal::derive(move || Some(e.clone()))/>
                {short.then(|| view! { <a class="btn btn-ghost btn-block" href="/wallet">{move || t.get().charge_points}</a> })}
            }
        })}
        <ConfirmDialog open=open pending=pending on_confirm=act
            message=Signal::derive(move || (if can_join { t.get().confirm_join } else { t.get().confirm_leave }).to_owned())
            amount=Signal::derive(move || money::points(stake))/>
    }
}

#[component]
fn Participants(list: Vec<Participant>, progress: Option<Progress>, status: ChallengeStatus) -> impl IntoView {
    let t = use_texts();
    let ended = status == ChallengeStatus::Ended;
    let rows = list
        .into_iter()
        .map(|p| {
            let live = progress.as_ref().and_then(|pr| pr.participants.iter().find(|pp| pp.user.id == p.user.id).cloned());
            let required = progress.as_ref().map(|pr| pr.required_days);
            let days = move || match required {
                Some(r) => fill(t.get().days_of, &[("n", p.accepted_days.to_string()), ("of", r.to_string())]),
                None => fill(t.get().days_count, &[("n", p.accepted_days.to_string())]),
            };
            let result = if ended {
                p.outcome.map(|o| {
                    let payout = p.payout.map(money::points).unwrap_or_default();
                    view! {
                        <span class="outcome" data-outcome=o.as_str()>{move || (t.get().outcome)(o)}</span>
                        <span class="money">{payout}</span>
                    }
                    .into_any()
                })
            } else {
                live.map(|l| {
                    let class = if l.today_done { "dot dot-done" } else { "dot" };
                    let track = l.on_track;
                    view! {
                        <span class=class title=move || if l.today_done { t.get().today_done } else { t.get().today_not_yet }></span>
                        {(!track).then(|| view! { <span class="badge badge-cancelled">{move || t.get().off_track}</span> })}
                    }
                    .into_any()
                })
            };
            view! {
                <li class="person" data-testid="participant">
                    <span class="avatar" aria-hidden="true">{p.user.nickname.chars().next().map(String::from).unwrap_or_default()}</span>
                    <span class="person-name">{p.user.nickname.clone()}</span>
                    <span class="muted">{days}</span>
                    {result}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="card">
            <h3>{move || t.get().participants}</h3>
            <ul class="people">{rows}</ul>
        </div>
    }
}

/// The proof feed, newest first, with thumbnails; only participants may see it. While the challenge runs, each
/// other person's proof can be reported, and my rejected proofs show why and can be appealed.
#[component]
fn ProofFeed(id: ChallengeId, joined: bool, proof_type: ProofType, me: Option<UserId>, running: bool) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    if !joined {
        return view! {
            <div class="card">
                <h3>{move || t.get().proof_feed}</h3>
                <p class="muted">{move || t.get().feed_for_participants}</p>
            </div>
        }
        .into_any();
    }
    let feed = LocalResource::new(move || {
        let backend = backend.clone();
        async move { backend.proofs(id, &ProofQuery { limit: Some(30), ..Default::default() }).await.map(|p| p.items) }
    });
    let wants_photo = proof_type != ProofType::Text;
    view! {
        <div class="card">
            <h3>{move || t.get().proof_feed}</h3>
            {move || match feed.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| feed.refetch())/> }.into_any(),
                Some(Ok(items)) if items.is_empty() => view! {
                    <Empty message=Signal::derive(move || t.get().no_proofs_yet.to_owned())/>
                }.into_any(),
                Some(Ok(items)) => view! {
                    <ul class="feed" data-testid="proof-feed">
                        {items.into_iter().map(|p| view! {
                            <ProofItem proof=p wants_photo=wants_photo me=me running=running/>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </div>
    }
    .into_any()
}

#[component]
fn ProofItem(proof: Proof, wants_photo: bool, me: Option<UserId>, running: bool) -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let (id, day) = (proof.id, proof.day);
    let mine = me == Some(proof.user.id);
    let name = proof.user.nickname.clone();
    let alt = Signal::derive({
        let name = name.clone();
        move || fill(t.get().proof_photo_of, &[("name", name.clone())])
    });
    let thumbnail = proof.thumbnail_url.clone();
    let text = proof.text.clone();
    // The proof as the server last answered (a report or an appeal changes it in place).
    let current = RwSignal::new(proof);
    let rejected = move || current.with(|p| p.status == ProofStatus::Rejected);
    let report_open = RwSignal::new(false);
    let appeal_open = RwSignal::new(false);
    let pending = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let reported = RwSignal::new(false);
    let send = move |appeal: bool| {
        let backend = backend.clone();
        Callback::new(move |reason: String| {
            let backend = backend.clone();
            pending.set(true);
            error.set(None);
            spawn_local(async move {
                let result = if appeal {
                    backend.appeal_proof(id, reason).await
                } else {
                    backend.report_proof(id, reason).await
                };
                pending.set(false);
                match result {
                    Ok(p) => {
                        current.set(p);
                        report_open.set(false);
                        appeal_open.set(false);
                        reported.set(!appeal);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        })
    };
    let (send_report, send_appeal) = (send(false), send(true));
    let can_report = move || {
        running && !mine && !reported.get() && current.with(|p| p.status == ProofStatus::Accepted && !p.replaced)
    };
    let can_appeal = move || {
        running && mine && current.with(|p| p.status == ProofStatus::Rejected && !p.replaced && p.appeal.is_none())
    };
    view! {
        <li class="proof" class:rejected=rejected data-testid="proof-item">
            {match thumbnail {
                Some(url) => view! { <ProtectedImage url=url alt=alt class="thumb"/> }.into_any(),
                None if wants_photo => view! { <span class="thumb img-missing" aria-hidden="true"></span> }.into_any(),
                None => ().into_any(),
            }}
            <div class="proof-body">
                <p class="proof-meta"><strong>{name}</strong> " · " <span class="muted">{move || (t.get().day)(day)}</span>
                    {move || rejected().then(|| view! { <span class="badge badge-cancelled">{t.get().rejected}</span> })}
                    {move || current.with(|p| p.under_review).then(|| view! {
                        <span class="badge badge-ready" data-testid="under-review">{t.get().under_review}</span>
                    })}
                    {move || current.with(|p| p.replaced).then(|| view! {
                        <span class="badge badge-ended">{t.get().replaced}</span>
                    })}
                </p>
                {text.map(|text| view! { <p class="proof-text">{text}</p> })}
                {move || current.with(|p| p.reject_reason.clone()).filter(|_| rejected()).map(|r| view! {
                    <p class="small reject-reason" data-testid="reject-reason">
                        {move || fill(t.get().reject_reason_label, &[("reason", r.clone())])}
                    </p>
                })}
                {move || current.with(|p| p.appeal_until).filter(|_| can_appeal()).map(|until| {
                    let until = dates::local(until);
                    view! {
                        <p class="muted small" data-testid="appeal-until">
                            {move || fill(t.get().appeal_until, &[("until", (t.get().date_time)(until))])}
                        </p>
                    }
                })}
                {move || current.with(|p| p.appeal.as_ref().map(|a| a.status)).map(|status| view! {
                    <p class="muted small" data-testid="appeal-status" data-status=status.as_str()>
                        {move || (t.get().appeal_status)(status)}
                    </p>
                })}
                {move || reported.get().then(|| view! {
                    <p class="notice small" role="status" data-testid="reported">{t.get().reported}</p>
                })}
                <div class="proof-actions">
                    {move || (can_report() && !report_open.get()).then(|| view! {
                        <button class="btn btn-ghost btn-small" data-testid="report-proof"
                            on:click=move |_| { error.set(None); report_open.set(true) }>{t.get().report}</button>
                    })}
                    {move || (can_appeal() && !appeal_open.get()).then(|| view! {
                        <button class="btn btn-ghost btn-small" data-testid="appeal-proof"
                            on:click=move |_| { error.set(None); appeal_open.set(true) }>{t.get().appeal}</button>
                    })}
                </div>
                <ReasonForm open=report_open testid="report" on_send=send_report pending=pending error=error
                    title=Signal::derive(move || t.get().report_title.to_owned())
                    hint=Signal::derive(move || t.get().report_hint.to_owned())
                    send_label=Signal::derive(move || t.get().send_report.to_owned())/>
                <ReasonForm open=appeal_open testid="appeal" on_send=send_appeal pending=pending error=error
                    title=Signal::derive(move || t.get().appeal_title.to_owned())
                    hint=Signal::derive(move || t.get().appeal_hint.to_owned())
                    send_label=Signal::derive(move || t.get().send_appeal.to_owned())/>
            </div>
        </li>
    }
}
