//! 탐색: browse challenges with filters (state, category, words, stake range), newest first, a page at a time. Each
//! card shows the seats left.

use leptos::prelude::*;
use leptos::task::spawn_local;
use nene_shared::challenges::{Category, Challenge, ChallengeQuery, ChallengeStatus};

use crate::backend::ApiError;
use crate::components::card::ChallengeCard;
use crate::components::states::{Empty, ErrorNotice, Loading};
use crate::i18n::use_texts;
use crate::money::parse_amount;
use crate::pages::PageHeader;
use crate::session::use_backend;

/// The filters as typed; turned into a query when applied.
#[derive(Clone, Debug, Default, PartialEq)]
struct Filters {
    status: Option<ChallengeStatus>,
    category: Option<Category>,
    q: String,
    min_stake: String,
    max_stake: String,
}

impl Filters {
    fn query(&self, cursor: Option<String>) -> ChallengeQuery {
        let q = self.q.trim();
        ChallengeQuery {
            status: self.status,
            category: self.category,
            q: (!q.is_empty()).then(|| q.to_owned()),
            min_stake: parse_amount(&self.min_stake).map(|p| p.get()),
            max_stake: parse_amount(&self.max_stake).map(|p| p.get()),
            cursor,
            limit: Some(20),
            ..Default::default()
        }
    }
}

#[component]
pub fn Explore() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    // What is typed, and what was last applied (the list follows the latter).
    let typed = RwSignal::new(Filters { status: Some(ChallengeStatus::Recruiting), ..Default::default() });
    let applied = RwSignal::new(typed.get_untracked());
    let more = RwSignal::new(Vec::<Challenge>::new());
    let next = RwSignal::new(None::<String>);
    let more_error = RwSignal::new(None::<ApiError>);
    let loading_more = RwSignal::new(false);

    let first_page = LocalResource::new({
        let backend = backend.clone();
        move || {
            let query = applied.get().query(None);
            let backend = backend.clone();
            async move {
                let page = backend.challenges(&query).await?;
                more.set(Vec::new());
                next.set(page.next_cursor.clone());
                Ok::<_, ApiError>(page.items)
            }
        }
    });
    let apply = move || applied.set(typed.get_untracked());
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else { return };
        if loading_more.get_untracked() {
            return;
        }
        loading_more.set(true);
        let backend = backend.clone();
        let query = applied.get_untracked().query(Some(cursor));
        spawn_local(async move {
            match backend.challenges(&query).await {
                Ok(page) => {
                    more.update(|m| m.extend(page.items));
                    next.set(page.next_cursor);
                    more_error.set(None);
                }
                Err(e) => more_error.set(Some(e)),
            }
            loading_more.set(false);
        });
    };

    view! {
        <section class="page explore">
            <PageHeader title=Signal::derive(move || t.get().explore_title.to_owned())/>
            <form class="filters card" data-testid="filters"
                on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); apply(); }>
                <input class="search" type="search" data-testid="filter-q" placeholder=move || t.get().search_placeholder
                    prop:value=move || typed.with(|f| f.q.clone())
                    on:input=move |ev| typed.update(|f| f.q = event_target_value(&ev))/>
                <div class="filter-row">
                    <select data-testid="filter-status" aria-label=move || t.get().filter_status
                        on:change=move |ev| { typed.update(|f| f.status = ChallengeStatus::parse(&event_target_value(&ev))); apply(); }>
                        <option value="" selected=move || typed.with(|f| f.status.is_none())>{move || t.get().all_states}</option>
                        {ChallengeStatus::ALL.iter().map(|s| {
                            let s = *s;
                            view! { <option value=s.as_str() selected=move || typed.with(|f| f.status == Some(s))>
                                {move || (t.get().status)(s)}</option> }
                        }).collect_view()}
                    </select>
                    <select data-testid="filter-category" aria-label=move || t.get().filter_category
                        on:change=move |ev| { typed.update(|f| f.category = Category::parse(&event_target_value(&ev))); apply(); }>
                        <option value="" selected=move || typed.with(|f| f.category.is_none())>{move || t.get().all_categories}</option>
                        {Category::ALL.iter().map(|c| {
                            let c = *c;
                            view! { <option value=c.as_str() selected=move || typed.with(|f| f.category == Some(c))>
                                {move || (t.get().category)(c)}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="filter-row">
                    <input type="text" inputmode="numeric" data-testid="filter-min-stake" placeholder=move || t.get().min_stake
                        prop:value=move || typed.with(|f| f.min_stake.clone())
                        on:input=move |ev| typed.update(|f| f.min_stake = event_target_value(&ev))/>
                    <span class="muted">"–"</span>
                    <input type="text" inputmode="numeric" data-testid="filter-max-stake" placeholder=move || t.get().max_stake
                        prop:value=move || typed.with(|f| f.max_stake.clone())
                        on:input=move |ev| typed.update(|f| f.max_stake = event_target_value(&ev))/>
                    <button class="btn btn-primary" type="submit" data-testid="filter-apply">{move || t.get().search}</button>
                </div>
            </form>
            {move || match first_page.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNotice error=e retry=Callback::new(move |_| first_page.refetch())/> }.into_any(),
                Some(Ok(items)) if items.is_empty() => view! {
                    <Empty message=Signal::derive(move || t.get().no_results.to_owned())>
                        <a class="btn btn-ghost" href="/create">{move || t.get().create_challenge}</a>
                    </Empty>
                }.into_any(),
                Some(Ok(items)) => view! {
                    <div class="cards" data-testid="explore-results">
                        {items.into_iter().map(|c| view! { <ChallengeCard challenge=c/> }).collect_view()}
                        {move || more.get().into_iter().map(|c| view! { <ChallengeCard challenge=c/> }).collect_view()}
                    </div>
                }.into_any(),
            }}
            {move || more_error.get().map(|e| view! { <ErrorNotice error=e/> })}
            {move || next.get().is_some().then(|| view! {
                <button class="btn btn-ghost btn-block" on:click=load_more.clone() disabled=move || loading_more.get()
                    data-testid="load-more">
                    {move || if loading_more.get() { t.get().loading } else { t.get().load_more }}
                </button>
            })}
        </section>
    }
}
