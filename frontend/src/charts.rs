//! Pictures drawn as inline SVG/HTML from Leptos, no chart script: the proof calendar (a square a day, filled when
//! proved, marked when rejected) and the success-rate line over the days. The arithmetic is plain functions, tested
//! natively; the components only draw what they compute.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use leptos::prelude::*;
use nene_shared::challenges::Weekday;

use crate::dates;
use crate::i18n::use_texts;

/// What one day of a challenge looks like on the calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayState {
    /// A day that needs no proof.
    Rest,
    /// A proof day still to come.
    Upcoming,
    /// Today, not proved yet.
    Today,
    Proved,
    Rejected,
    /// A past proof day without an accepted proof.
    Missed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub state: DayState,
}

/// The challenge's days from `start` to `end`, each with its state on `today`.
pub fn calendar_days(
    start: NaiveDate,
    end: NaiveDate,
    proof_weekdays: &[Weekday],
    proved: &BTreeSet<NaiveDate>,
    rejected: &BTreeSet<NaiveDate>,
    today: NaiveDate,
) -> Vec<CalendarDay> {
    let mut days = Vec::new();
    let mut date = start;
    while date <= end {
        let is_proof_day =
            proof_weekdays.is_empty() || proof_weekdays.iter().any(|w| w.index() == dates::weekday_index(date));
        let state = if !is_proof_day {
            DayState::Rest
        } else if proved.contains(&date) {
            DayState::Proved
        } else if rejected.contains(&date) {
            DayState::Rejected
        } else if date > today {
            DayState::Upcoming
        } else if date == today {
            DayState::Today
        } else {
            DayState::Missed
        };
        days.push(CalendarDay { date, state });
        date += Duration::days(1);
    }
    days
}

/// The success rate (percent of proof days so far that were accepted) after each proof day up to `today`; today
/// counts only once it is proved, so an unfinished day never pulls the line down.
pub fn rate_series(days: &[CalendarDay]) -> Vec<(NaiveDate, f64)> {
    let mut series = Vec::new();
    let (mut counted, mut accepted) = (0u32, 0u32);
    for day in days {
        match day.state {
            DayState::Rest | DayState::Upcoming | DayState::Today => continue,
            DayState::Proved => accepted += 1,
            DayState::Rejected | DayState::Missed => {}
        }
        counted += 1;
        series.push((day.date, f64::from(accepted) * 100.0 / f64::from(counted)));
    }
    series
}

/// Chart geometry, in the SVG's own units.
const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 34.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

fn x_of(i: usize, n: usize) -> f64 {
    let span = WIDTH - LEFT - RIGHT;
    if n <= 1 { LEFT + span / 2.0 } else { LEFT + span * i as f64 / (n - 1) as f64 }
}

fn y_of(percent: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - percent.clamp(0.0, 100.0) / 100.0)
}

/// `x,y x,y …` for an SVG polyline through the rates.
pub fn polyline(rates: &[f64]) -> String {
    rates
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{:.1},{:.1}", x_of(i, rates.len()), y_of(*r)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A square a day, weeks in rows starting on Monday.
#[component]
pub fn ProofCalendar(days: Vec<CalendarDay>) -> impl IntoView {
    let t = use_texts();
    let lead = days.first().map(|d| dates::weekday_index(d.date)).unwrap_or(0);
    let blanks = (0..lead).map(|_| view! { <span class="cal-cell cal-blank"></span> }).collect_view();
    let cells = days
        .into_iter()
        .map(|day| {
            let (class, mark) = match day.state {
                DayState::Rest => ("cal-cell cal-rest", ""),
                DayState::Upcoming => ("cal-cell cal-upcoming", ""),
                DayState::Today => ("cal-cell cal-today", ""),
                DayState::Proved => ("cal-cell cal-proved", "✓"),
                DayState::Rejected => ("cal-cell cal-rejected", "✕"),
                DayState::Missed => ("cal-cell cal-missed", ""),
            };
            let state = day.state;
            let date = day.date;
            let title = move || format!("{} · {}", (t.get().day)(date), (t.get().day_state)(state));
            view! {
                <span class=class title=title data-date=date.to_string()>
                    <span class="cal-num">{date.format("%-d").to_string()}</span>
                    <span class="cal-mark">{mark}</span>
                </span>
            }
        })
        .collect_view();
    let heads = Weekday::ALL
        .iter()
        .map(|w| {
            let w = *w;
            view! { <span class="cal-head">{move || (t.get().weekday_short)(w)}</span> }
        })
        .collect_view();
    view! {
        <div class="calendar" role="img" aria-label=move || t.get().calendar_title data-testid="proof-calendar">
            {heads}
            {blanks}
            {cells}
        </div>
        <div class="cal-legend">
            <span><span class="cal-swatch cal-proved"></span>{move || t.get().legend_proved}</span>
            <span><span class="cal-swatch cal-rejected"></span>{move || t.get().legend_rejected}</span>
            <span><span class="cal-swatch cal-missed"></span>{move || t.get().legend_missed}</span>
            <span><span class="cal-swatch cal-upcoming"></span>{move || t.get().legend_upcoming}</span>
        </div>
    }
}

/// The success-rate line with the threshold to beat as a dashed line.
#[component]
pub fn RateChart(series: Vec<(NaiveDate, f64)>, threshold: i64) -> impl IntoView {
    let t = use_texts();
    let rates: Vec<f64> = series.iter().map(|(_, r)| *r).collect();
    let line = polyline(&rates);
    let n = rates.len();
    let dots = rates
        .iter()
        .enumerate()
        .map(|(i, r)| view! { <circle cx=format!("{:.1}", x_of(i, n)) cy=format!("{:.1}", y_of(*r)) r="3" class="rate-dot"/> })
        .collect_view();
    let threshold_y = format!("{:.1}", y_of(threshold as f64));
    let first = series.first().map(|(d, _)| *d);
    let last = series.last().map(|(d, _)| *d);
    let axis_y = format!("{:.1}", HEIGHT - 6.0);
    let right_x = format!("{:.1}", WIDTH - RIGHT);
    view! {
        <svg class="rate-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-label=move || t.get().rate_chart_title data-testid="rate-chart">
            {[0.0, 50.0, 100.0]
                .into_iter()
                .map(|p| {
                    let y = format!("{:.1}", y_of(p));
                    view! {
                        <line x1=LEFT.to_string() x2=right_x.clone() y1=y.clone() y2=y.clone() class="grid"/>
                        <text x=(LEFT - 6.0).to_string() y=y class="axis" text-anchor="end" dominant-baseline="middle">
                            {format!("{p:.0}%")}
                        </text>
                    }
                })
                .collect_view()}
            <line x1=LEFT.to_string() x2=right_x.clone() y1=threshold_y.clone() y2=threshold_y class="threshold"/>
            {(n > 1).then(|| view! { <polyline points=line class="rate-line"/> })}
            {dots}
            {first.map(|d| view! {
                <text x=LEFT.to_string() y=axis_y.clone() class="axis" text-anchor="start">{move || (t.get().day)(d)}</text>
            })}
            {last.filter(|_| n > 1).map(|d| view! {
                <text x=right_x.clone() y=axis_y.clone() class="axis" text-anchor="end">{move || (t.get().day)(d)}</text>
            })}
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn each_day_gets_its_state() {
        let proved: BTreeSet<_> = [d("2025-05-05"), d("2025-05-07")].into();
        let rejected: BTreeSet<_> = [d("2025-05-06")].into();
        // Monday 5 May to Sunday 11 May, weekdays only; today is Friday the 9th.
        let weekdays = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        let days = calendar_days(d("2025-05-05"), d("2025-05-11"), &weekdays, &proved, &rejected, d("2025-05-09"));
        let states: Vec<DayState> = days.iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            vec![
                DayState::Proved,
                DayState::Rejected,
                DayState::Proved,
                DayState::Missed,
                DayState::Today,
                DayState::Rest,
                DayState::Rest
            ]
        );
        let rates: Vec<f64> = rate_series(&days).into_iter().map(|(_, r)| r).collect();
        assert_eq!(rates, vec![100.0, 50.0, 200.0 / 3.0, 50.0]);
    }

    #[test]
    fn no_weekdays_means_every_day() {
        let none = BTreeSet::new();
        let days = calendar_days(d("2025-05-10"), d("2025-05-12"), &[], &none, &none, d("2025-05-01"));
        assert!(days.iter().all(|c| c.state == DayState::Upcoming));
    }

    #[test]
    fn the_line_spans_the_chart() {
        let points = polyline(&[100.0, 0.0]);
        assert_eq!(points, format!("{LEFT:.1},{TOP:.1} {:.1},{:.1}", WIDTH - RIGHT, HEIGHT - BOTTOM));
    }
}
