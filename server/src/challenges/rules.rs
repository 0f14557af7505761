//! The challenge's rules with no I/O: validating a new challenge, its calendar (which days need a proof, when it
//! starts and ends in its time zone), the state machine, and what counts as success. Unit-tested with a test clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use nene_shared::FieldCode;
use nene_shared::challenges::{ChallengeStatus, ProofType, Weekday, limits};

/// Every weekday: the default.
pub const ALL_WEEKDAYS: u32 = 0b111_1111;

pub fn weekday_mask(days: &[Weekday]) -> u32 {
    days.iter().fold(0, |mask, d| mask | (1 << d.index()))
}

pub fn weekdays_of(mask: u32) -> Vec<Weekday> {
    Weekday::ALL.iter().copied().filter(|d| mask & (1 << d.index()) != 0).collect()
}

/// A challenge's calendar: dates in its own time zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub tz: Tz,
    pub weekdays: u32,
}

impl Calendar {
    pub fn is_proof_day(&self, day: NaiveDate) -> bool {
        day >= self.start && day <= self.end && self.weekdays & (1 << Weekday::from_chrono(day.weekday()).index()) != 0
    }

    /// Proof days from the start up to and including `until`. Walks the days one by one, so it is only ever called
    /// on a range already within the domain's limits (at most [`limits::MAX_DAYS`]).
    pub fn proof_days_through(&self, until: NaiveDate) -> i64 {
        #[cfg(test)]
        tests::WALKS.with(|w| w.set(w.get() + 1));
        let last = until.min(self.end);
        if last < self.start {
            return 0;
        }
        self.start.iter_days().take_while(|d| *d <= last).filter(|d| self.is_proof_day(*d)).count() as i64
    }

    pub fn proof_days(&self) -> i64 {
        self.proof_days_through(self.end)
    }

    /// 00:00 of the start day, in UTC.
    pub fn starts_at(&self) -> DateTime<Utc> {
        local_midnight(self.tz, self.start)
    }

    /// 00:00 of the day after the last day: the end of the last proof window, and when settlement is due.
    pub fn ends_at(&self) -> DateTime<Utc> {
        local_midnight(self.tz, self.end.succ_opt().unwrap_or(self.end))
    }

    /// The challenge's date at instant `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }
}

/// Midnight of `day` in `tz`. Where a DST change skips midnight, the first instant of the day.
fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let one = midnight + chrono::Duration::hours(1);
            tz.from_local_datetime(&one).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or_else(|| midnight.and_utc())
        }
    }
}

/// Accepted proof days needed to succeed: ceil(threshold × proof days / 100).
pub fn required_days(threshold_percent: i64, proof_days: i64) -> i64 {
    (threshold_percent * proof_days + 99) / 100
}

/// The fields of a challenge after validation.
#[derive(Clone, Debug)]
pub struct ValidSchedule {
    pub calendar: Calendar,
    pub capacity: i64,
    pub min_participants: i64,
    pub success_threshold: i64,
}

/// Raw schedule inputs (create, or an edit merged over the current values).
pub struct ScheduleInput<'a> {
    pub start_date: &'a str,
    pub end_date: &'a str,
    pub timezone: &'a str,
    pub weekdays: u32,
    pub capacity: i64,
    pub min_participants: i64,
    pub success_threshold: i64,
}

/// Checks the schedule against the rules, naming each wrong field. `now` is the domain clock: a challenge must
/// start on a later day than today in its time zone, so that people can join before it begins, and at most
/// [`limits::MAX_START_AHEAD_DAYS`] after it.
///
/// The dates come from anyone and may be hundreds of thousands of years apart, so everything about the range is
/// checked with arithmetic first; the calendar is walked day by day only for a range within the limits.
pub fn validate_schedule(
    input: &ScheduleInput<'_>,
    now: DateTime<Utc>,
    fields: &mut BTreeMap<String, FieldCode>,
) -> Option<ValidSchedule> {
    let tz: Option<Tz> = input.timezone.parse().ok();
    if tz.is_none() {
        fields.insert("timezone".into(), FieldCode::Invalid);
    }
    let start = NaiveDate::parse_from_str(input.start_date, "%Y-%m-%d").ok();
    let end = NaiveDate::parse_from_str(input.end_date, "%Y-%m-%d").ok();
    if start.is_none() {
        fields.insert("start_date".into(), FieldCode::Invalid);
    }
    if end.is_none() {
        fields.insert("end_date".into(), FieldCode::Invalid);
    }
    if input.weekdays == 0 || input.weekdays > ALL_WEEKDAYS {
        fields.insert("proof_weekdays".into(), FieldCode::Invalid);
    }
    if !(limits::MIN_CAPACITY..=limits::MAX_CAPACITY).contains(&input.capacity) {
        fields.insert("capacity".into(), FieldCode::Invalid);
    }
    if input.min_participants < 2 || input.min_participants > input.capacity {
        fields.insert("min_participants".into(), FieldCode::Invalid);
    }
    if !(limits::MIN_THRESHOLD..=limits::MAX_THRESHOLD).contains(&input.success_threshold) {
        fields.insert("success_threshold".into(), FieldCode::Invalid);
    }
    let (Some(tz), Some(start), Some(end)) = (tz, start, end) else { return None };
    let today = now.with_timezone(&tz).date_naive();
    let ahead = (start - today).num_days();
    let start_ok = if ahead < 1 {
        fields.insert("start_date".into(), FieldCode::TooShort);
        false
    } else if ahead > limits::MAX_START_AHEAD_DAYS {
        fields.insert("start_date".into(), FieldCode::TooLong);
        false
    } else {
        true
    };
    let days = (end - start).num_days() + 1;
    let length_ok = if days < limits::MIN_DAYS {
        fields.insert("end_date".into(), FieldCode::TooShort);
        false
    } else if days > limits::MAX_DAYS {
        fields.insert("end_date".into(), FieldCode::TooLong);
        false
    } else {
        true
    };
    let weekdays_ok = !fields.contains_key("proof_weekdays");
    let calendar = Calendar { start, end, tz, weekdays: input.weekdays };
    if start_ok && length_ok && weekdays_ok && calendar.proof_days() == 0 {
        fields.insert("proof_weekdays".into(), FieldCode::Invalid);
    }
    if !fields.is_empty() {
        return None;
    }
    Some(ValidSchedule {
        calendar,
        capacity: input.capacity,
        min_participants: input.min_participants,
        success_threshold: input.success_threshold,
    })
}

/// Whether a proof's content fits the challenge's proof type.
pub fn proof_content_ok(proof_type: ProofType, has_photo: bool, has_text: bool) -> bool {
    match proof_type {
        ProofType::Photo => has_photo,
        ProofType::Text => has_text,
        ProofType::Both => has_photo && has_text,
    }
}

/// What time alone does to a challenge (the scheduler's decisions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeTransition {
    /// The start day began with enough participants.
    Start,
    /// The start day began with fewer than the minimum: every stake goes back.
    Cancel,
    /// The last proof window closed: settle.
    Settle,
}

/// The transition due at `now`, if any.
pub fn due_transition(
    status: ChallengeStatus,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    participants: i64,
    min_participants: i64,
    now: DateTime<Utc>,
) -> Option<TimeTransition> {
    match status {
        ChallengeStatus::Recruiting | ChallengeStatus::Ready if now >= starts_at => {
            Some(if participants >= min_participants { TimeTransition::Start } else { TimeTransition::Cancel })
        }
        ChallengeStatus::InProgress if now >= ends_at => Some(TimeTransition::Settle),
        _ => None,
    }
}

/// The status after a join that took a seat, or a leave that freed one.
pub fn after_seat_change(status: ChallengeStatus, participants: i64, capacity: i64) -> ChallengeStatus {
    match status {
        ChallengeStatus::Recruiting | ChallengeStatus::Ready if participants >= capacity => ChallengeStatus::Ready,
        ChallengeStatus::Recruiting | ChallengeStatus::Ready => ChallengeStatus::Recruiting,
        other => other,
    }
}

/// People may join only while recruiting, and leave until the start.
pub fn can_join(status: ChallengeStatus) -> bool {
    status == ChallengeStatus::Recruiting
}

pub fn can_leave(status: ChallengeStatus) -> bool {
    matches!(status, ChallengeStatus::Recruiting | ChallengeStatus::Ready)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// Calendar walks on this thread, so a test can show which inputs never reach one.
        pub(super) static WALKS: Cell<u64> = const { Cell::new(0) };
    }

    fn walks() -> u64 {
        WALKS.with(Cell::get)
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn input<'a>(start: &'a str, end: &'a str) -> ScheduleInput<'a> {
        ScheduleInput {
            start_date: start,
            end_date: end,
            timezone: "Asia/Seoul",
            weekdays: ALL_WEEKDAYS,
            capacity: 10,
            min_participants: 2,
            success_threshold: 85,
        }
    }

    #[test]
    fn calendar_runs_on_the_challenges_own_midnights() {
        let mut fields = BTreeMap::new();
        let now = at("2026-11-28T12:00:00Z"); // 21:00 in Seoul
        let s = validate_schedule(&input("2026-11-30", "2026-12-13"), now, &mut fields).unwrap();
        assert!(fields.is_empty());
        assert_eq!(s.calendar.proof_days(), 14);
        // 00:00 KST is 15:00 UTC the day before.
        assert_eq!(s.calendar.starts_at(), at("2026-11-29T15:00:00Z"));
        assert_eq!(s.calendar.ends_at(), at("2026-12-13T15:00:00Z"));
        assert_eq!(s.calendar.today(at("2026-11-29T15:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(s.calendar.today(at("2026-11-29T14:59:59Z")), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
    }

    #[test]
    fn weekday_masks_pick_proof_days() {
        let mut fields = BTreeMap::new();
        let mut i = input("2026-11-30", "2026-12-13");
        i.weekdays = weekday_mask(&[Weekday::Mon, Weekday::Wed, Weekday::Fri]);
        let s = validate_schedule(&i, at("2026-11-28T00:00:00Z"), &mut fields).unwrap();
        assert_eq!(s.calendar.proof_days(), 6);
        assert!(s.calendar.is_proof_day(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())); // a Monday
        assert!(!s.calendar.is_proof_day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
        assert_eq!(s.calendar.proof_days_through(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()), 2);
        assert_eq!(weekdays_of(i.weekdays), vec![Weekday::Mon, Weekday::Wed, Weekday::Fri]);
    }

    #[test]
    fn schedule_refusals_name_the_field() {
        let now = at("2026-11-28T00:00:00Z");
        let check = |i: ScheduleInput<'_>| {
            let mut fields = BTreeMap::new();
            assert!(validate_schedule(&i, now, &mut fields).is_none());
            fields
        };
        assert_eq!(check(input("2026-11-28", "2026-12-01"))["start_date"], FieldCode::TooShort);
        assert_eq!(check(input("2026-12-01", "2027-02-01"))["end_date"], FieldCode::TooLong);
        assert_eq!(check(input("2026-12-05", "2026-12-01"))["end_date"], FieldCode::TooShort);
        assert_eq!(check(input("tomorrow", "2026-12-01"))["start_date"], FieldCode::Invalid);
        let mut i = input("2026-12-01", "2026-12-02");
        i.timezone = "Mars/Olympus";
        assert_eq!(check(i)["timezone"], FieldCode::Invalid);
        let mut i = input("2026-12-01", "2026-12-02");
        i.capacity = 1;
        i.success_threshold = 49;
        let f = check(i);
        assert_eq!(f["capacity"], FieldCode::Invalid);
        assert_eq!(f["success_threshold"], FieldCode::Invalid);
        // A single Tuesday with only Monday proofs has no proof day.
        let mut i = input("2026-12-01", "2026-12-01");
        i.weekdays = weekday_mask(&[Weekday::Mon]);
        assert_eq!(check(i)["proof_weekdays"], FieldCode::Invalid);
        // 56 days is the most.
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("2026-12-01", "2027-01-25"), now, &mut fields).is_some());
    }

    #[test]
    fn limits_are_checked_before_any_calendar_walk() {
        let now = at("2026-11-28T00:00:00Z");
        // Half a million years: walking it day by day would take a third of a second.
        let before = walks();
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("-262000-01-01", "+262000-12-31"), now, &mut fields).is_none());
        assert_eq!(fields["start_date"], FieldCode::TooShort);
        assert_eq!(fields["end_date"], FieldCode::TooLong);
        // A fine length starting too far ahead, and a long range starting tomorrow: refused, never walked.
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("+262000-01-01", "+262000-01-14"), now, &mut fields).is_none());
        assert_eq!(fields["start_date"], FieldCode::TooLong);
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("2026-11-29", "+262000-01-14"), now, &mut fields).is_none());
        assert_eq!(fields["end_date"], FieldCode::TooLong);
        assert_eq!(walks(), before, "a refused range was walked");
        // Within the limits the calendar is walked (the counter does count), up to a year ahead.
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("2027-11-28", "2027-12-12"), now, &mut fields).is_some(), "{fields:?}");
        assert!(walks() > before);
        let mut fields = BTreeMap::new();
        assert!(validate_schedule(&input("2027-11-29", "2027-12-12"), now, &mut fields).is_none());
        assert_eq!(fields["start_date"], FieldCode::TooLong);
    }

    #[test]
    fn required_days_round_up() {
        assert_eq!(required_days(85, 14), 12); // 11.9 → 12
        assert_eq!(required_days(100, 14), 14);
        assert_eq!(required_days(50, 3), 2); // 1.5 → 2
        assert_eq!(required_days(85, 20), 17);
    }

    #[test]
    fn the_state_machine_follows_the_clock() {
        let starts = at("2026-11-29T15:00:00Z");
        let ends = at("2026-12-13T15:00:00Z");
        let before = at("2026-11-29T14:59:59Z");
        use ChallengeStatus::*;
        assert_eq!(due_transition(Recruiting, starts, ends, 5, 2, before), None);
        assert_eq!(due_transition(Recruiting, starts, ends, 5, 2, starts), Some(TimeTransition::Start));
        assert_eq!(due_transition(Ready, starts, ends, 10, 2, starts), Some(TimeTransition::Start));
        assert_eq!(due_transition(Recruiting, starts, ends, 1, 2, starts), Some(TimeTransition::Cancel));
        assert_eq!(due_transition(InProgress, starts, ends, 5, 2, before), None);
        assert_eq!(due_transition(InProgress, starts, ends, 5, 2, at("2026-12-13T14:59:59Z")), None);
        assert_eq!(due_transition(InProgress, starts, ends, 5, 2, ends), Some(TimeTransition::Settle));
        assert_eq!(due_transition(Ended, starts, ends, 5, 2, ends), None);
        assert_eq!(due_transition(Cancelled, starts, ends, 5, 2, ends), None);
    }

    #[test]
    fn seats_move_between_recruiting_and_ready() {
        use ChallengeStatus::*;
        assert_eq!(after_seat_change(Recruiting, 9, 10), Recruiting);
        assert_eq!(after_seat_change(Recruiting, 10, 10), Ready);
        assert_eq!(after_seat_change(Ready, 9, 10), Recruiting);
        assert_eq!(after_seat_change(InProgress, 9, 10), InProgress);
        assert!(can_join(Recruiting) && !can_join(Ready) && !can_join(InProgress));
        assert!(can_leave(Recruiting) && can_leave(Ready) && !can_leave(InProgress) && !can_leave(Ended));
    }

    #[test]
    fn proof_content_matches_the_type() {
        assert!(proof_content_ok(ProofType::Photo, true, false));
        assert!(!proof_content_ok(ProofType::Photo, false, true));
        assert!(proof_content_ok(ProofType::Text, false, true));
        assert!(!proof_content_ok(ProofType::Both, true, false));
        assert!(proof_content_ok(ProofType::Both, true, true));
    }
}
