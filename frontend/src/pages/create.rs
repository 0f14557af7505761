//! 만들기: a new challenge. The creator joins at once and pays the stake, so the form ends with the one money
//! confirmation. The server's refusals land next to the field they concern.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use nene_shared::FieldCode;
use nene_shared::challenges::{Category, CreateChallengeRequest, ProofType, Weekday, limits};

use crate::backend::ApiError;
use crate::components::confirm::ConfirmDialog;
use crate::components::field::{Field, FieldErrors, show_fields};
use crate::components::states::InlineError;
use crate::dates;
use crate::i18n::{fill, use_texts};
use crate::money::{self, parse_amount};
use crate::pages::PageHeader;
use crate::session::use_backend;

/// The form as typed.
#[derive(Clone, Debug, PartialEq)]
struct Draft {
    title: String,
    description: String,
    category: Category,
    proof_type: ProofType,
    start_date: String,
    end_date: String,
    weekdays: Vec<Weekday>,
    stake: String,
    capacity: String,
    min_participants: String,
    success_threshold: String,
}

impl Draft {
    fn new(today: NaiveDate) -> Draft {
        let start = today + Duration::days(1);
        Draft {
            title: String::new(),
            description: String::new(),
            category: Category::Health,
            proof_type: ProofType::Photo,
            start_date: start.to_string(),
            end_date: (start + Duration::days(13)).to_string(),
            weekdays: Weekday::ALL.to_vec(),
            stake: "10000".into(),
            capacity: "10".into(),
            min_participants: limits::DEFAULT_MIN_PARTICIPANTS.to_string(),
            success_threshold: limits::DEFAULT_THRESHOLD.to_string(),
        }
    }

    /// The request, or the fields that cannot be sent as they are (the server checks the rules again).
    fn request(&self) -> Result<CreateChallengeRequest, BTreeMap<String, FieldCode>> {
        let mut fields = BTreeMap::new();
        let title = self.title.trim();
        if title.is_empty() {
            fields.insert("title".into(), FieldCode::Required);
        } else if title.chars().count() > limits::TITLE_MAX {
            fields.insert("title".into(), FieldCode::TooLong);
        }
        if self.description.chars().count() > limits::DESCRIPTION_MAX {
            fields.insert("description".into(), FieldCode::TooLong);
        }
        let stake = parse_amount(&self.stake);
        if stake.is_none_or(|s| s < limits::MIN_STAKE || s > limits::MAX_STAKE) {
            fields.insert("stake".into(), FieldCode::Invalid);
        }
        let number = |name: &str, text: &str, fields: &mut BTreeMap<String, FieldCode>| {
            let n = text.trim().parse::<i64>().ok();
            if n.is_none() {
                fields.insert(name.to_owned(), FieldCode::Invalid);
            }
            n
        };
        let capacity = number("capacity", &self.capacity, &mut fields);
        let min_participants = number("min_participants", &self.min_participants, &mut fields);
        let threshold = number("success_threshold", &self.success_threshold, &mut fields);
        if self.weekdays.is_empty() {
            fields.insert("proof_weekdays".into(), FieldCode::Required);
        }
        if self.start_date.is_empty() {
            fields.insert("start_date".into(), FieldCode::Required);
        }
        if self.end_date.is_empty() {
            fields.insert("end_date".into(), FieldCode::Required);
        }
        match (stake, capacity, min_participants, threshold) {
            (Some(stake), Some(capacity), Some(min_participants), Some(threshold)) if fields.is_empty() => {
                Ok(CreateChallengeRequest {
                    title: title.to_owned(),
                    description: self.description.trim().to_owned(),
                    category: self.category,
                    proof_type: self.proof_type,
                    start_date: self.start_date.clone(),
                    end_date: self.end_date.clone(),
                    timezone: None,
                    proof_weekdays: Some(self.weekdays.clone()),
                    stake,
                    capacity,
                    min_participants: Some(min_participants),
                    success_threshold: Some(threshold),
                })
            }
            _ => Err(fields),
        }
    }
}

#[component]
pub fn Create() -> impl IntoView {
    let t = use_texts();
    let backend = use_backend();
    let navigate = use_navigate();
    let draft = RwSignal::new(Draft::new(dates::today_in(limits::DEFAULT_TIMEZONE)));
    let fields: FieldErrors = RwSignal::new(BTreeMap::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let ready = RwSignal::new(None::<CreateChallengeRequest>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        match draft.get_untracked().request() {
            Ok(req) => {
                fields.set(BTreeMap::new());
                ready.set(Some(req));
                confirming.set(true);
            }
            Err(local) => fields.set(local),
        }
    };
    let create = Callback::new(move |_| {
        let Some(req) = ready.get_untracked() else { return };
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        let backend = backend.clone();
        let navigate = navigate.clone();
        spawn_local(async move {
            match backend.create_challenge(&req).await {
                Ok(challenge) => navigate(&format!("/challenges/{}", challenge.id), Default::default()),
                Err(e) => {
                    show_fields(fields, &e);
                    error.set(Some(e));
                }
            }
            pending.set(false);
            confirming.set(false);
        });
    });

    let text_input = move |name: &'static str, get: fn(&Draft) -> String, set: fn(&mut Draft, String)| {
        view! {
            <input type="text" data-testid=format!("create-{name}") prop:value=move || draft.with(get)
                on:input=move |ev| draft.update(|d| set(d, event_target_value(&ev)))/>
        }
    };
    let stake_words = move || parse_amount(&draft.with(|d| d.stake.clone())).map(money::points).unwrap_or_default();

    view! {
        <section class="page create">
            <PageHeader title=Signal::derive(move || t.get().create_title.to_owned())/>
            <form class="form card" on:submit=submit novalidate=true data-testid="create-form">
                <Field label=Signal::derive(move || t.get().title) name="title" fields=fields>
                    {text_input("title", |d| d.title.clone(), |d, v| d.title = v)}
                </Field>
                <Field label=Signal::derive(move || t.get().description) name="description" fields=fields>
                    <textarea rows="3" data-testid="create-description" prop:value=move || draft.with(|d| d.description.clone())
                        on:input=move |ev| draft.update(|d| d.description = event_target_value(&ev))></textarea>
                </Field>
                <div class="grid-2">
                    <Field label=Signal::derive(move || t.get().category_label) name="category" fields=fields>
                        <select data-testid="create-category"
                            on:change=move |ev| draft.update(|d| d.category = Category::parse(&event_target_value(&ev)).unwrap_or(d.category))>
                            {Category::ALL.iter().map(|c| {
                                let c = *c;
                                view! { <option value=c.as_str() selected=move || draft.with(|d| d.category == c)>
                                    {move || (t.get().category)(c)}</option> }
                            }).collect_view()}
                        </select>
                    </Field>
                    <Field label=Signal::derive(move || t.get().proof_type_label) name="proof_type" fields=fields>
                        <select data-testid="create-proof-type"
                            on:change=move |ev| draft.update(|d| d.proof_type = ProofType::parse(&event_target_value(&ev)).unwrap_or(d.proof_type))>
                            {ProofType::ALL.iter().map(|p| {
                                let p = *p;
                                view! { <option value=p.as_str() selected=move || draft.with(|d| d.proof_type == p)>
                                    {move || (t.get().proof_type)(p)}</option> }
                            }).collect_view()}
                        </select>
                    </Field>
                </div>
                <div class="grid-2">
                    <Field label=Signal::derive(move || t.get().start_date) name="start_date" fields=fields>
                        <input type="date" data-testid="create-start" prop:value=move || draft.with(|d| d.start_date.clone())
                            on:input=move |ev| draft.update(|d| d.start_date = event_target_value(&ev))/>
                    </Field>
                    <Field label=Signal::derive(move || t.get().end_date) name="end_date" fields=fields>
                        <input type="date" data-testid="create-end" prop:value=move || draft.with(|d| d.end_date.clone())
                            on:input=move |ev| draft.update(|d| d.end_date = event_target_value(&ev))/>
                    </Field>
                </div>
                <Field label=Signal::derive(move || t.get().proof_days_label) name="proof_weekdays" fields=fields>
                    <div class="chips" role="group">
                        {Weekday::ALL.iter().map(|w| {
                            let w = *w;
                            let on = move || draft.with(|d| d.weekdays.contains(&w));
                            view! {
                                <button type="button" class="chip" class:selected=on aria-pressed=move || on().to_string()
                                    data-testid=format!("create-day-{}", w.as_str())
                                    on:click=move |_| draft.update(|d| {
                                        if d.weekdays.contains(&w) { d.weekdays.retain(|x| *x != w) } else {
                                            d.weekdays.push(w);
                                            d.weekdays.sort_by_key(|x| x.index());
                                        }
                                    })>
                                    {move || (t.get().weekday_short)(w)}
                                </button>
                            }
                        }).collect_view()}
                    </div>
                </Field>
                <div class="grid-2">
                    <Field label=Signal::derive(move || t.get().stake) name="stake" fields=fields
                        hint=Signal::derive(move || fill(t.get().stake_hint, &[
                            ("min", money::points(limits::MIN_STAKE)), ("max", money::points(limits::MAX_STAKE))]))>
                        <input type="text" inputmode="numeric" data-testid="create-stake"
                            prop:value=move || draft.with(|d| d.stake.clone())
                            on:input=move |ev| draft.update(|d| d.stake = event_target_value(&ev))/>
                    </Field>
                    <Field label=Signal::derive(move || t.get().capacity) name="capacity" fields=fields>
                        <input type="number" min="2" data-testid="create-capacity"
                            prop:value=move || draft.with(|d| d.capacity.clone())
                            on:input=move |ev| draft.update(|d| d.capacity = event_target_value(&ev))/>
                    </Field>
                </div>
                <div class="grid-2">
                    <Field label=Signal::derive(move || t.get().min_participants) name="min_participants" fields=fields>
                        <input type="number" min="2" data-testid="create-min"
                            prop:value=move || draft.with(|d| d.min_participants.clone())
                            on:input=move |ev| draft.update(|d| d.min_participants = event_target_value(&ev))/>
                    </Field>
                    <Field label=Signal::derive(move || t.get().success_threshold) name="success_threshold" fields=fields
                        hint=Signal::derive(move || t.get().threshold_hint.to_owned())>
                        <input type="number" min="50" max="100" data-testid="create-threshold"
                            prop:value=move || draft.with(|d| d.success_threshold.clone())
                            on:input=move |ev| draft.update(|d| d.success_threshold = event_target_value(&ev))/>
                    </Field>
                </div>
                <InlineError error=error/>
                <button class="btn btn-primary btn-block" type="submit" data-testid="create-submit"
                    disabled=move || pending.get()>
                    {move || t.get().create_and_join}
                </button>
            </form>
            <ConfirmDialog open=confirming pending=pending on_confirm=create
                message=Signal::derive(move || t.get().confirm_create.to_owned())
                amount=Signal::derive(stake_words)/>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_draft_starts_tomorrow_for_two_weeks() {
        let d = Draft::new("2025-05-01".parse().unwrap());
        assert_eq!((d.start_date.as_str(), d.end_date.as_str()), ("2025-05-02", "2025-05-15"));
    }

    #[test]
    fn missing_and_impossible_inputs_are_named() {
        let mut d = Draft::new("2025-05-01".parse().unwrap());
        d.stake = "500".into();
        d.capacity = "many".into();
        d.weekdays.clear();
        let fields = d.request().unwrap_err();
        assert_eq!(fields.get("title"), Some(&FieldCode::Required));
        assert_eq!(fields.get("stake"), Some(&FieldCode::Invalid));
        assert_eq!(fields.get("capacity"), Some(&FieldCode::Invalid));
        assert_eq!(fields.get("proof_weekdays"), Some(&FieldCode::Required));
    }

    #[test]
    fn a_complete_draft_becomes_a_request() {
        let mut d = Draft::new("2025-05-01".parse().unwrap());
        d.title = " 매일 달리기 ".into();
        d.stake = "12,000".into();
        let req = d.request().unwrap();
        assert_eq!(req.title, "매일 달리기");
        assert_eq!(req.stake.get(), 12_000);
        assert_eq!(req.proof_weekdays.map(|w| w.len()), Some(7));
    }
}
