//! My progress in one challenge: the proof calendar (a square a day, filled when proved, marked when rejected),
//! the success-rate line over the days against the threshold to beat, and where I stand.
//!
//! Accepted days come from the live progress; rejected days from my own proofs in the feed, read only when the
//! progress says there are some (and only as many pages as it takes to find them).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use leptos::prelude::*;
use nene_shared::UserId;
use nene_shared::challenges::{Challenge, ChallengeId, ChallengeStatus, Progress, ProofQuery, ProofStatus};

use crate::backend::{ApiError, Backend};
use crate::charts::{ProofCalendar, RateChart, calendar_days, rate_series};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::i18n::{fill, use_texts};
use crate::pages::PageHeader;
use crate::pages::detail::id_param;
use crate::session::{use_backend, use_session};

/// The most feed pages read looking for my rejected days.
const MAX_FEED_PAGES: usize = 20;

#[derive(Clone, Debug, PartialEq)]
struct Loaded {
    challenge: Challenge,
    progress: Progress,
    rejected: BTreeSet<NaiveDate>,
}

async fn rejected_days(backend: &Backend, id: ChallengeId, me: UserId, expected: i64) -> BTreeSet<NaiveDate> {
    let mut found = BTreeSet::new();
    let mut cursor = None;
    for _ in 0..MAX_FEED_PAGES {
        if found.len() as i64 >= expected {
            break;
        }
        let query = ProofQuery { cursor: cursor.clone(), limit: Some(100), ..Default::default() };
        let Ok(page) = backend.proofs(id, &query).await else { break };
        // A rejected proof that was proved again leaves its day proved, not rejected.
        found.extend(
            page.items
                .iter()
                .filter(|p| p.user.id == me && p.status == ProofStatus::Rejected && !p.replaced)
                .map(|p| p.day),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    found
}

#[component]
pub fn MyProgress() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let session = use_session();
    let id = id_param();
    let data = LocalResource::new(move || {
        let backend = backend.clone();
        let id = id.get();
        let me = session.me.with_untracked(|m| m.as_ref().map(|m| m.id));
        async move {
            let (Some(id), Some(me)) = (id, me) else { return Ok(None) };
            let challenge = backend.challenge(id).await?;
            let progress = backend.progress(id).await?;
            let expected = progress.participants.iter().find(|p| p.user.id == me).map(|p| p.rejected_days).unwrap_or(0);
            let rejected = if expected > 0 { rejected_days(&backend, id, me, expected).await } else { BTreeSet::new() };
            Ok::<_, ApiError>(Some(Loaded { challenge, progress, rejected }))
        }
    });
    let back = move || id.get().map(|id| format!("/challenges/{id}")).unwrap_or_else(|| "/".into());
    view! {
        <section class="page progress-page">
            <PageHeader title=Signal::derive(move || t.get().my_progress_title.to_owned()) back=back()/>
            {move || match data.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| data.refetch())/> }.into_any(),
                Some(Ok(None)) => view! { <crate::pages::not_found::NotFound/> }.into_any(),
                Some(Ok(Some(loaded))) => view! { <ProgressBody loaded=loaded/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ProgressBody(loaded: Loaded) -> impl IntoView {
    let t = use_texts();
    let session = use_session();
    let me = session.me.with_untracked(|m| m.as_ref().map(|m| m.id));
    let Loaded { challenge: c, progress: p, rejected } = loaded;
    let Some(mine) = p.participants.iter().find(|pp| Some(pp.user.id) == me).cloned() else {
        return view! { <Empty message=Signal::derive(move || t.get().not_a_participant.to_owned())/> }.into_any();
    };
    let proved: BTreeSet<NaiveDate> = mine.proved_days.iter().copied().collect();
    let days = calendar_days(c.start_date, c.end_date, &c.proof_weekdays, &proved, &rejected, p.today);
    let series = rate_series(&days);
    let rate = series.last().map(|(_, r)| *r);
    let (accepted, required, total) = (mine.accepted_days, p.required_days, p.proof_days);
    let threshold = c.success_threshold;
    // Once settled the question is no longer "on track?" but "did I make it?".
    let ended = matches!(c.status, ChallengeStatus::Ended | ChallengeStatus::Cancelled);
    let good = if ended { accepted >= required } else { mine.on_track };
    let standing = move || {
        let t = t.get();
        match (ended, good) {
            (true, true) => t.finished_success,
            (true, false) => t.finished_fail,
            (false, true) => t.on_track,
            (false, false) => t.off_track_long,
        }
    };
    view! {
        <div class="card summary" data-testid="progress-summary">
            <h2>{c.title.clone()}</h2>
            <div class="stats">
                <div><span class="big-number" data-testid="success-rate">
                    {rate.map(|r| format!("{r:.0}%")).unwrap_or_else(|| "–".into())}</span>
                    <span class="muted">{move || t.get().success_rate}</span></div>
                <div><span class="big-number" data-testid="accepted-days">{format!("{accepted} / {required}")}</span>
                    <span class="muted">{move || t.get().days_needed}</span></div>
            </div>
            <p class=if good { "standing good" } else { "standing bad" } data-testid="standing">{standing}</p>
            <p class="muted small">{move || fill(t.get().rule_threshold, &[
                ("percent", threshold.to_string()), ("days", required.to_string()), ("total", total.to_string())])}</p>
        </div>
        <div class="card">
            <h3>{move || t.get().calendar_title}</h3>
            <ProofCalendar days=days/>
        </div>
        <div class="card">
            <h3>{move || t.get().rate_chart_title}</h3>
            {if series.is_empty() {
                view! { <p class="muted">{move || t.get().rate_chart_empty}</p> }.into_any()
            } else {
                view! { <RateChart series=series threshold=threshold/> }.into_any()
            }}
            <p class="muted small">{move || fill(t.get().threshold_line, &[("percent", threshold.to_string())])}</p>
        </div>
    }
    .into_any()
}
