//! A challenge as a card: category icon, title, state, dates, stake, seats left, a bar of the days gone, and for
//! one's own challenges today's proof state with the time left today.

use leptos::prelude::*;
use nene_shared::challenges::{Category, Challenge, ChallengeStatus};

use crate::dates;
use crate::i18n::{fill, use_texts};
use crate::money;

/// Today's proof state on one's own challenge, from the server's live progress.
#[derive(Clone, Debug, PartialEq)]
pub struct Today {
    pub proof_day: bool,
    pub done: bool,
    /// Share of the proof days gone by, 0.0 to 1.0 (by the server's clock).
    pub gone: f64,
}

pub fn category_icon(category: Category) -> &'static str {
    match category {
        Category::Health => "🏃",
        Category::Study => "📚",
        Category::Habit => "🌱",
        Category::Relationship => "💞",
        Category::Hobby => "🎨",
        Category::Finance => "💰",
        Category::Other => "✨",
    }
}

pub fn status_class(status: ChallengeStatus) -> &'static str {
    match status {
        ChallengeStatus::Recruiting => "badge badge-recruiting",
        ChallengeStatus::Ready => "badge badge-ready",
        ChallengeStatus::InProgress => "badge badge-progress",
        ChallengeStatus::Ended => "badge badge-ended",
        ChallengeStatus::Cancelled => "badge badge-cancelled",
    }
}

#[component]
pub fn StatusBadge(status: ChallengeStatus) -> impl IntoView {
    let t = use_texts();
    view! { <span class=status_class(status) data-status=status.as_str()>{move || (t.get().status)(status)}</span> }
}

#[component]
pub fn ChallengeCard(challenge: Challenge, #[prop(optional)] today: Option<Today>) -> impl IntoView {
    let t = use_texts();
    let c = challenge;
    let browser_today = dates::today_in(&c.timezone);
    let gone =
        today.as_ref().map(|d| d.gone).unwrap_or_else(|| dates::fraction_gone(c.start_date, c.end_date, browser_today));
    let days_to_start = (c.start_date - browser_today).num_days();
    let percent = format!("{:.0}%", gone * 100.0);
    let (start, end, stake, seats) = (c.start_date, c.end_date, c.stake, c.seats_left);
    let recruiting = matches!(c.status, ChallengeStatus::Recruiting | ChallengeStatus::Ready);
    let in_progress = c.status == ChallengeStatus::InProgress;
    let tz = c.timezone.clone();
    let today_line = today.filter(|_| in_progress).map(|d| {
        let (class, testid) = match (d.proof_day, d.done) {
            (false, _) => ("today today-rest", "today-rest"),
            (true, true) => ("today today-done", "today-done"),
            (true, false) => ("today today-todo", "today-todo"),
        };
        let tz = tz.clone();
        let words = move || {
            let t = t.get();
            match (d.proof_day, d.done) {
                (false, _) => t.today_rest.to_owned(),
                (true, true) => t.today_done.to_owned(),
                (true, false) => {
                    let left = dates::minutes_left_today(&tz);
                    fill(t.today_todo, &[("time", (t.duration)(left))])
                }
            }
        };
        view! { <p class=class data-testid=testid>{words}</p> }
    });
    view! {
        <a class="card challenge-card" href=format!("/challenges/{}", c.id) data-testid="challenge-card"
            data-title=c.title.clone()>
            <div class="card-head">
                <span class="category-icon" aria-hidden="true">{category_icon(c.category)}</span>
                <div class="card-title">
                    <h3>{c.title.clone()}</h3>
                    <p class="muted">{move || (t.get().category)(c.category)} " · "
                        {move || (t.get().day)(start)} " – " {move || (t.get().day)(end)}</p>
                </div>
                <StatusBadge status=c.status/>
            </div>
            <div class="card-facts">
                <span><span class="muted">{move || t.get().stake}</span> " " <strong class="money">{money::points(stake)}</strong></span>
                {recruiting.then(|| view! {
                    <span data-testid="seats-left">{move || fill(t.get().seats_left, &[("n", seats.to_string())])}</span>
                })}
                <span class="muted">{move || fill(t.get().people, &[("n", c.participant_count.to_string())])}</span>
            </div>
            {if recruiting {
                let words = move || {
                    let t = t.get();
                    match days_to_start {
                        n if n > 1 => fill(t.starts_in, &[("n", n.to_string())]),
                        1 => t.starts_tomorrow.to_owned(),
                        _ => t.starts_soon.to_owned(),
                    }
                };
                view! { <p class="starts" data-testid="starts-in">{words}</p> }.into_any()
            } else {
                view! {
                    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"
                        aria-valuenow=format!("{:.0}", gone * 100.0) aria-label=move || t.get().days_gone>
                        <span class="bar-fill" style=format!("width: {percent}")></span>
                    </div>
                }.into_any()
            }}
            {today_line}
        </a>
    }
}
