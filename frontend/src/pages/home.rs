//! 홈: my challenges — running ones first with today's proof state (done, or still to do with the time left today)
//! and a bar of the days gone, then the ones about to start, then the finished ones — and my balance at a glance.

use futures::future::join_all;
use leptos::prelude::*;
use nene_shared::challenges::{Challenge, ChallengeQuery, ChallengeStatus};

use crate::backend::ApiError;
use crate::components::card::{ChallengeCard, Today};
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::i18n::{fill, use_texts};
use crate::money;
use crate::session::{use_backend, use_session};

fn order(status: ChallengeStatus) -> u8 {
    match status {
        ChallengeStatus::InProgress => 0,
        ChallengeStatus::Ready | ChallengeStatus::Recruiting => 1,
        ChallengeStatus::Ended | ChallengeStatus::Cancelled => 2,
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let session = use_session();
    let me = session.me;

    let mine = LocalResource::new({
        let backend = backend.clone();
        move || {
            let backend = backend.clone();
            let my_id = me.with_untracked(|m| m.as_ref().map(|m| m.id));
            async move {
                let query = ChallengeQuery { mine: Some(true), limit: Some(50), ..Default::default() };
                let mut list = backend.challenges(&query).await?.items;
                list.sort_by_key(|c| (order(c.status), c.start_date));
                // Today's state comes from each running challenge's live progress (the server's clock).
                let todays = join_all(list.iter().map(|c| {
                    let backend = backend.clone();
                    let (id, running) = (c.id, c.status == ChallengeStatus::InProgress);
                    async move {
                        if !running {
                            return None;
                        }
                        let p = backend.progress(id).await.ok()?;
                        let mine = p.participants.iter().find(|pp| Some(pp.user.id) == my_id);
                        let gone =
                            if p.proof_days > 0 { p.proof_days_elapsed as f64 / p.proof_days as f64 } else { 0.0 };
                        Some(Today { proof_day: p.today_is_proof_day, done: mine.is_some_and(|m| m.today_done), gone })
                    }
                }))
                .await;
                Ok::<_, ApiError>(list.into_iter().zip(todays).collect::<Vec<(Challenge, Option<Today>)>>())
            }
        }
    });
    let wallet = LocalResource::new(move || {
        let backend = backend.clone();
        async move { backend.wallet().await }
    });

    let greeting = move || {
        let name = me.with(|m| m.as_ref().map(|m| m.nickname.clone()).unwrap_or_default());
        fill(t.get().hello, &[("name", name)])
    };
    view! {
        <section class="page home">
            <div class="home-head">
                <h1 data-testid="greeting">{greeting}</h1>
                <a class="balance-chip" href="/wallet" data-testid="home-balance">
                    <span class="muted">{move || t.get().balance}</span>
                    <strong class="money">
                        {move || wallet.get().and_then(Result::ok).map(|w| money::points(w.balance)).unwrap_or_default()}
                    </strong>
                </a>
            </div>
            <h2 class="section-title">{move || t.get().my_challenges}</h2>
            {move || match mine.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| mine.refetch())/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <Empty message=Signal::derive(move || t.get().no_challenges_yet.to_owned())>
                        <div class="row">
                            <a class="btn btn-primary" href="/explore">{move || t.get().find_challenge}</a>
                            <a class="btn btn-ghost" href="/create">{move || t.get().create_challenge}</a>
                        </div>
                    </Empty>
                }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="cards" data-testid="my-challenges">
                        {list.into_iter().map(|(c, today)| match today {
                            Some(today) => view! { <ChallengeCard challenge=c today=today/> }.into_any(),
                            None => view! { <ChallengeCard challenge=c/> }.into_any(),
                        }).collect_view()}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}
