//! Challenges (domain.md, "Challenges"): create, browse, edit while alone, join and leave with the stake moving in
//! the same transaction, proofs, live figures; the time-driven transitions and settlement live in
//! [`scheduler`] and [`settle`].
//!
//! Correctness under a storm of joins comes from the database: a seat is taken by a conditional UPDATE
//! (`participant_count < capacity AND status = 'RECRUITING'`), a second join by the same person is stopped by a
//! unique index, and the stake moves through the ledger in the same transaction. Nothing relies on a lock in this
//! process, so it holds with several server instances on PostgreSQL.

pub mod batch;
pub mod moderation;
pub mod proofs;
pub mod rules;
pub mod scheduler;
pub mod settle;
pub mod settlement;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use nene_shared::challenges::{
    Category, Challenge, ChallengeId, ChallengeQuery, ChallengeStatus, CreateChallengeRequest, Outcome, Participant,
    ParticipantProgress, Progress, ProofType, UpdateChallengeRequest, UserSummary, limits,
};
use nene_shared::ledger::TransferKind;
use nene_shared::page::Page;
use nene_shared::{ErrorCode, FieldCode, Points, UserId};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, AccountId};
use crate::notify;
use crate::store::challenges::{ChallengeRow, ParticipationRow, ProgressRow};
use crate::store::{self, Tx, from_millis};
use rules::{Calendar, ScheduleInput};

pub(crate) fn status_of(row: &ChallengeRow) -> ChallengeStatus {
    ChallengeStatus::parse(&row.status).unwrap_or(ChallengeStatus::Cancelled)
}

pub(crate) fn calendar_of(row: &ChallengeRow) -> Calendar {
    let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    Calendar {
        start: parse(&row.start_date),
        end: parse(&row.end_date),
        tz: row.timezone.parse().unwrap_or(chrono_tz::Asia::Seoul),
        weekdays: u32::try_from(row.proof_weekdays).unwrap_or(rules::ALL_WEEKDAYS),
    }
}

pub(crate) fn view(row: &ChallengeRow, joined: bool) -> Challenge {
    let calendar = calendar_of(row);
    Challenge {
        id: ChallengeId::from_uuid(row.id),
        creator: UserSummary { id: UserId::from_uuid(row.creator_id), nickname: row.creator_nickname.clone() },
        title: row.title.clone(),
        description: row.description.clone(),
        category: Category::parse(&row.category).unwrap_or(Category::Other),
        proof_type: ProofType::parse(&row.proof_type).unwrap_or(ProofType::Both),
        start_date: calendar.start,
        end_date: calendar.end,
        timezone: row.timezone.clone(),
        proof_weekdays: rules::weekdays_of(calendar.weekdays),
        proof_days: row.proof_days,
        required_days: rules::required_days(row.success_threshold, row.proof_days),
        stake: Points::new(row.stake),
        capacity: row.capacity,
        min_participants: row.min_participants,
        success_threshold: row.success_threshold,
        status: status_of(row),
        participant_count: row.participant_count,
        seats_left: (row.capacity - row.participant_count).max(0),
        version: row.version,
        joined,
        created_at: from_millis(row.created_at),
        settlement_waiting: None,
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("No such challenge.")
}

pub(crate) async fn load(tx: &mut Tx, id: Uuid) -> ApiResult<ChallengeRow> {
    store::challenges::get(tx, id).await?.filter(|c| c.deleted_at.is_none()).ok_or_else(not_found)
}

/// The stake's ledger key: one per participation, so a leave and a later re-join are separate movements.
pub(crate) fn stake_key(participation: Uuid) -> String {
    format!("stake:{participation}")
}

fn text_field(fields: &mut BTreeMap<String, FieldCode>, name: &str, value: &str, max: usize, required: bool) -> String {
    let v = value.trim();
    if required && v.is_empty() {
        fields.insert(name.into(), FieldCode::Required);
    } else if v.chars().count() > max {
        fields.insert(name.into(), FieldCode::TooLong);
    }
    v.to_owned()
}

pub async fn create(state: &AppState, user: UserId, req: CreateChallengeRequest) -> ApiResult<Challenge> {
    let mut fields = BTreeMap::new();
    let title = text_field(&mut fields, "title", &req.title, limits::TITLE_MAX, true);
    let description = text_field(&mut fields, "description", &req.description, limits::DESCRIPTION_MAX, false);
    if req.stake < limits::MIN_STAKE || req.stake > limits::MAX_STAKE {
        fields.insert("stake".into(), FieldCode::Invalid);
    }
    let weekdays = req.proof_weekdays.as_deref().map(rules::weekday_mask).unwrap_or(rules::ALL_WEEKDAYS);
    let timezone = req.timezone.clone().unwrap_or_else(|| limits::DEFAULT_TIMEZONE.to_owned());
    let input = ScheduleInput {
        start_date: &req.start_date,
        end_date: &req.end_date,
        timezone: &timezone,
        weekdays,
        capacity: req.capacity,
        min_participants: req.min_participants.unwrap_or(limits::DEFAULT_MIN_PARTICIPANTS),
        success_threshold: req.success_threshold.unwrap_or(limits::DEFAULT_THRESHOLD),
    };
    let schedule = rules::validate_schedule(&input, state.clock.now(), &mut fields);
    let Some(schedule) = schedule.filter(|_| fields.is_empty()) else { return Err(ApiError::validation(fields)) };

    let now = Utc::now().timestamp_millis();
    let id = Uuid::now_v7();
    let cal = &schedule.calendar;
    let row = ChallengeRow {
        id,
        creator_id: user.as_uuid(),
        creator_nickname: String::new(),
        title,
        description,
        category: req.category.as_str().into(),
        proof_type: req.proof_type.as_str().into(),
        start_date: cal.start.to_string(),
        end_date: cal.end.to_string(),
        timezone: timezone.clone(),
        proof_weekdays: i64::from(cal.weekdays),
        proof_days: cal.proof_days(),
        stake: req.stake.get(),
        capacity: schedule.capacity,
        min_participants: schedule.min_participants,
        success_threshold: schedule.success_threshold,
        fee_bps: 0,
        status: ChallengeStatus::Recruiting.as_str().into(),
        participant_count: 0,
        version: 1,
        starts_at: cal.starts_at().timestamp_millis(),
        ends_at: cal.ends_at().timestamp_millis(),
        created_at: now,
        updated_at: now,
        settled_at: None,
        deleted_at: None,
    };
    let mut tx = state.db.begin_write().await?;
    store::challenges::insert(&mut tx, &row).await?;
    ledger::open_system_account(&mut tx, &AccountId::escrow_challenge(id), now).await?;
    // The creator joins in the same transaction: no stake, no challenge.
    join_in(&mut tx, id, user, now).await?;
    let row = load(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(challenge = %id, "challenge created");
    Ok(view(&row, true))
}

pub async fn get(state: &AppState, user: UserId, id: ChallengeId) -> ApiResult<Challenge> {
    let mut tx = state.db.begin_read().await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    seen_by(&mut tx, &row, user, &moderation::Grace::of(state)).await
}

/// A challenge as `user` sees it: whether they take part, and why its settlement waits, if it does.
async fn seen_by(tx: &mut Tx, row: &ChallengeRow, user: UserId, grace: &moderation::Grace) -> ApiResult<Challenge> {
    let joined = store::challenges::active_participation(tx, row.id, user.as_uuid()).await?.is_some();
    let mut waiting = moderation::waiting(tx, &[row], grace).await?;
    Ok(Challenge { settlement_waiting: waiting.remove(&row.id), ..view(row, joined) })
}

/// Newest first; the cursor is `<created_at>_<id>` of the last one seen.
pub async fn list(state: &AppState, user: UserId, q: &ChallengeQuery) -> ApiResult<Page<Challenge>> {
    let before = crate::cursor::parse(q.cursor.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(20).clamp(1, 100));
    let filter = store::challenges::ListFilter {
        status: q.status.map(ChallengeStatus::as_str),
        category: q.category.map(Category::as_str),
        q: q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
        min_stake: q.min_stake,
        max_stake: q.max_stake,
        member: q.mine.unwrap_or(false).then_some(user.as_uuid()),
        before,
        limit: limit + 1,
    };
    let mut tx = state.db.begin_read().await?;
    let rows = store::challenges::list(&mut tx, &filter).await?;
    let more = rows.len() as i64 > limit;
    let shown: Vec<&ChallengeRow> = rows.iter().take(limit as usize).collect();
    let mut waiting = moderation::waiting(&mut tx, &shown, &moderation::Grace::of(state)).await?;
    let mut items = Vec::new();
    for row in shown {
        let joined = store::challenges::active_participation(&mut tx, row.id, user.as_uuid()).await?.is_some();
        items.push(Challenge { settlement_waiting: waiting.remove(&row.id), ..view(row, joined) });
    }
    let next_cursor =
        if more { rows.get(limit as usize - 1).map(|r| crate::cursor::after(r.created_at, r.id)) } else { None };
    Ok(Page { items, next_cursor })
}

fn not_editable() -> ApiError {
    ApiError::conflict(
        ErrorCode::ChallengeNotEditable,
        "A challenge can be changed or deleted only by its creator, while recruiting and before anyone else joined.",
    )
}

/// The creator's edit, allowed while alone and recruiting (the stake cannot change: it is already paid).
pub async fn update(
    state: &AppState,
    user: UserId,
    id: ChallengeId,
    req: UpdateChallengeRequest,
) -> ApiResult<Challenge> {
    let mut tx = state.db.begin_write().await?;
    store::challenges::lock(&mut tx, id.as_uuid()).await?;
    let mut row = load(&mut tx, id.as_uuid()).await?;
    if row.creator_id != user.as_uuid() {
        return Err(ApiError::forbidden("Only the creator can change this challenge."));
    }
    if status_of(&row) != ChallengeStatus::Recruiting || row.participant_count != 1 {
        return Err(not_editable());
    }
    let mut fields = BTreeMap::new();
    if let Some(t) = &req.title {
        row.title = text_field(&mut fields, "title", t, limits::TITLE_MAX, true);
    }
    if let Some(d) = &req.description {
        row.description = text_field(&mut fields, "description", d, limits::DESCRIPTION_MAX, false);
    }
    if let Some(c) = req.category {
        row.category = c.as_str().into();
    }
    if let Some(p) = req.proof_type {
        row.proof_type = p.as_str().into();
    }
    let start = req.start_date.clone().unwrap_or_else(|| row.start_date.clone());
    let end = req.end_date.clone().unwrap_or_else(|| row.end_date.clone());
    let timezone = req.timezone.clone().unwrap_or_else(|| row.timezone.clone());
    let input = ScheduleInput {
        start_date: &start,
        end_date: &end,
        timezone: &timezone,
        weekdays: req.proof_weekdays.as_deref().map(rules::weekday_mask).unwrap_or(row.proof_weekdays as u32),
        capacity: req.capacity.unwrap_or(row.capacity),
        min_participants: req.min_participants.unwrap_or(row.min_participants),
        success_threshold: req.success_threshold.unwrap_or(row.success_threshold),
    };
    let schedule = rules::validate_schedule(&input, state.clock.now(), &mut fields);
    let Some(s) = schedule.filter(|_| fields.is_empty()) else { return Err(ApiError::validation(fields)) };
    row.start_date = s.calendar.start.to_string();
    row.end_date = s.calendar.end.to_string();
    row.timezone = timezone;
    row.proof_weekdays = i64::from(s.calendar.weekdays);
    row.proof_days = s.calendar.proof_days();
    row.capacity = s.capacity;
    row.min_participants = s.min_participants;
    row.success_threshold = s.success_threshold;
    row.starts_at = s.calendar.starts_at().timestamp_millis();
    row.ends_at = s.calendar.ends_at().timestamp_millis();
    row.updated_at = Utc::now().timestamp_millis();
    store::challenges::update(&mut tx, &row).await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    tx.commit().await?;
    Ok(view(&row, true))
}

/// The creator deletes a challenge while alone and recruiting; the stake goes back as the same lots.
pub async fn delete(state: &AppState, user: UserId, id: ChallengeId) -> ApiResult<()> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    store::challenges::lock(&mut tx, id.as_uuid()).await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    if row.creator_id != user.as_uuid() {
        return Err(ApiError::forbidden("Only the creator can delete this challenge."));
    }
    if status_of(&row) != ChallengeStatus::Recruiting || row.participant_count != 1 {
        return Err(not_editable());
    }
    if let Some(p) = store::challenges::active_participation(&mut tx, row.id, user.as_uuid()).await? {
        withdraw(&mut tx, p.id, row.id, now).await?;
    }
    store::challenges::mark_deleted(&mut tx, row.id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a participation before the start and gives its stake back as the very lots it took.
async fn withdraw(tx: &mut Tx, participation: Uuid, challenge: Uuid, now: i64) -> ApiResult<()> {
    store::challenges::leave(tx, participation, now).await?;
    ledger::reverse_spend(
        tx,
        &format!("unstake:{participation}"),
        TransferKind::StakeRefund,
        &stake_key(participation),
        &challenge.to_string(),
        now,
    )
    .await?;
    Ok(())
}

/// Joins inside the caller's transaction: participation, seat, stake and the confirmation, together or nothing.
pub async fn join_in(tx: &mut Tx, challenge: Uuid, user: UserId, now: i64) -> ApiResult<()> {
    let row = take_part(tx, challenge, user, now).await?;
    let note = join_note(&row, user);
    notify::record(tx, note.user, notify::Kind::JoinConfirmed, JOIN_TITLE, &note.body, &note.data, now).await?;
    Ok(())
}

/// [`join_in`] without the confirmation, which the join writer records for a whole batch at once. Returns the
/// challenge as read before the join.
pub(crate) async fn take_part(tx: &mut Tx, challenge: Uuid, user: UserId, now: i64) -> ApiResult<ChallengeRow> {
    if store::challenges::active_participation(tx, challenge, user.as_uuid()).await?.is_some() {
        return Err(already_joined());
    }
    let Some(row) = store::challenges::get(tx, challenge).await?.filter(|c| c.deleted_at.is_none()) else {
        return Err(not_found());
    };
    if store::challenges::take_seat(tx, challenge, now).await?.is_none() {
        return Err(match status_of(&row) {
            ChallengeStatus::Recruiting | ChallengeStatus::Ready => challenge_full(),
            _ => ApiError::conflict(ErrorCode::ChallengeNotRecruiting, "This challenge is not taking participants."),
        });
    }
    let participation = Uuid::now_v7();
    store::challenges::insert_participation(tx, participation, challenge, user.as_uuid(), row.stake, now)
        .await
        .map_err(|e| if e.unique_violation().is_some() { already_joined() } else { e.into() })?;
    ledger::spend_fifo(
        tx,
        &stake_key(participation),
        TransferKind::Stake,
        user,
        &AccountId::escrow_challenge(challenge),
        Points::new(row.stake),
        &challenge.to_string(),
        now,
    )
    .await?;
    Ok(row)
}

pub(crate) const JOIN_TITLE: &str = "챌린지 참여 완료";

/// The confirmation a new participant gets.
pub(crate) fn join_note(row: &ChallengeRow, user: UserId) -> notify::Note {
    notify::Note {
        user: user.as_uuid(),
        body: format!("'{}'에 참여했어요. 참가비 {}", row.title, Points::new(row.stake).display()),
        data: vec![("challenge_id", row.id.to_string())],
    }
}

pub(crate) fn challenge_full() -> ApiError {
    ApiError::conflict(ErrorCode::ChallengeFull, "All seats are taken.")
}

pub(crate) fn already_joined() -> ApiError {
    ApiError::conflict(ErrorCode::AlreadyJoined, "You are already taking part in this challenge.")
}

pub async fn join(state: &AppState, user: UserId, id: ChallengeId) -> ApiResult<Challenge> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    join_in(&mut tx, id.as_uuid(), user, now).await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    tx.commit().await.map_err(|e| if e.unique_violation().is_some() { already_joined() } else { e.into() })?;
    Ok(view(&row, true))
}

/// Leaves before the start: the seat is freed and the stake comes back as the very lots it took.
pub async fn leave(state: &AppState, user: UserId, id: ChallengeId) -> ApiResult<Challenge> {
    leave_for(state, user, id, None).await
}

/// [`leave`], asked for by the offline intent `intent` when there is one: the intent is marked APPLIED in the
/// leave's own transaction (first, before the challenge is locked), so the two commit together or not at all, and
/// an intent another push decided first leaves nothing ([`ApiError::intent_decided`]).
pub async fn leave_for(
    state: &AppState,
    user: UserId,
    id: ChallengeId,
    intent: Option<&store::sync::IntentKey>,
) -> ApiResult<Challenge> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    if let Some(key) = intent
        && !store::sync::claim(&mut tx, key, now).await?
    {
        return Err(ApiError::intent_decided());
    }
    store::challenges::lock(&mut tx, id.as_uuid()).await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    let Some(p) = store::challenges::active_participation(&mut tx, row.id, user.as_uuid()).await? else {
        return Err(ApiError::conflict(ErrorCode::NotAParticipant, "You are not taking part in this challenge."));
    };
    if row.creator_id == user.as_uuid() {
        return Err(ApiError::conflict(
            ErrorCode::CreatorCannotLeave,
            "The creator cannot leave; delete the challenge while alone instead.",
        ));
    }
    if !rules::can_leave(status_of(&row)) || !store::challenges::free_seat(&mut tx, row.id, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::ChallengeNotRecruiting,
            "The challenge has started; leaving is closed.",
        ));
    }
    withdraw(&mut tx, p.id, row.id, now).await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    tx.commit().await?;
    Ok(view(&row, false))
}

fn participant_view(p: &ParticipationRow) -> Participant {
    let outcome = p.outcome.as_deref().and_then(Outcome::parse);
    Participant {
        user: UserSummary { id: UserId::from_uuid(p.user_id), nickname: p.nickname.clone() },
        joined_at: from_millis(p.joined_at),
        stake: Points::new(p.stake),
        accepted_days: p.accepted_days,
        payout: outcome.map(|o| match o {
            Outcome::Success => Points::new(p.stake + p.prize.unwrap_or(0)),
            Outcome::Fail => Points::ZERO,
        }),
        outcome,
    }
}

pub async fn participants(state: &AppState, id: ChallengeId) -> ApiResult<Vec<Participant>> {
    let mut tx = state.db.begin_read().await?;
    load(&mut tx, id.as_uuid()).await?;
    let rows = store::challenges::participants(&mut tx, id.as_uuid()).await?;
    Ok(rows.iter().map(participant_view).collect())
}

/// Live figures at the domain clock's now, straight from the rows.
pub async fn progress(state: &AppState, id: ChallengeId) -> ApiResult<Progress> {
    let mut tx = state.db.begin_read().await?;
    let row = load(&mut tx, id.as_uuid()).await?;
    let progress = progress_in(&mut tx, &row, state.clock.now()).await?;
    Ok(progress)
}

/// A challenge as `user` sees it and its progress, inside the caller's transaction (the app's sync pull).
pub(crate) async fn snapshot_in(
    tx: &mut Tx,
    user: UserId,
    id: Uuid,
    grace: &moderation::Grace,
) -> ApiResult<(Challenge, Progress)> {
    let row = load(tx, id).await?;
    let challenge = seen_by(tx, &row, user, grace).await?;
    let progress = progress_in(tx, &row, from_millis(grace.now_ms)).await?;
    Ok((challenge, progress))
}

/// [`progress`] of a challenge already read, inside the caller's transaction: one aggregate statement.
pub(crate) async fn progress_in(tx: &mut Tx, row: &ChallengeRow, now: DateTime<Utc>) -> ApiResult<Progress> {
    let people = store::challenges::progress_rows(tx, row.id).await?;
    Ok(progress_of(row, &people, now))
}

/// The figures from each participant's aggregated row: linear in participants × their proved days.
fn progress_of(row: &ChallengeRow, people: &[ProgressRow], now: DateTime<Utc>) -> Progress {
    let cal = calendar_of(row);
    let today = cal.today(now);
    let elapsed = cal.proof_days_through(today);
    let total = row.proof_days;
    let required = rules::required_days(row.success_threshold, total);
    let mut today_proofs = 0;
    let participants: Vec<ParticipantProgress> = people
        .iter()
        .map(|p| {
            let mut days: Vec<NaiveDate> = p
                .days
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .collect();
            days.sort_unstable();
            let today_done = days.binary_search(&today).is_ok();
            if today_done {
                today_proofs += 1;
            }
            // Days still open include today unless it is already proved.
            let left = total - elapsed + i64::from(cal.is_proof_day(today) && !today_done);
            ParticipantProgress {
                user: UserSummary { id: UserId::from_uuid(p.user_id), nickname: p.nickname.clone() },
                accepted_days: p.accepted_days,
                rejected_days: p.rejected_days,
                today_done,
                on_track: p.accepted_days + left.max(0) >= required,
                proved_days: days,
            }
        })
        .collect();
    let count = people.len() as i64;
    Progress {
        challenge_id: ChallengeId::from_uuid(row.id),
        status: status_of(row),
        today,
        today_is_proof_day: cal.is_proof_day(today),
        proof_days: total,
        proof_days_elapsed: elapsed,
        required_days: required,
        participant_count: count,
        today_proofs,
        today_rate_percent: if count > 0 { today_proofs * 100 / count } else { 0 },
        participants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(start: &str, end: &str, threshold: i64) -> ChallengeRow {
        ChallengeRow {
            id: Uuid::nil(),
            creator_id: Uuid::nil(),
            creator_nickname: String::new(),
            title: "t".into(),
            description: String::new(),
            category: "HEALTH".into(),
            proof_type: "TEXT".into(),
            start_date: start.into(),
            end_date: end.into(),
            timezone: "Asia/Seoul".into(),
            proof_weekdays: i64::from(rules::ALL_WEEKDAYS),
            proof_days: 5,
            stake: 1_000,
            capacity: 10,
            min_participants: 2,
            success_threshold: threshold,
            fee_bps: 0,
            status: "IN_PROGRESS".into(),
            participant_count: 3,
            version: 1,
            starts_at: 0,
            ends_at: 0,
            created_at: 0,
            updated_at: 0,
            settled_at: None,
            deleted_at: None,
        }
    }

    fn person(nickname: &str, accepted: i64, rejected: i64, days: Option<&str>) -> ProgressRow {
        ProgressRow {
            user_id: Uuid::now_v7(),
            nickname: nickname.into(),
            accepted_days: accepted,
            rejected_days: rejected,
            days: days.map(str::to_owned),
        }
    }

    #[test]
    fn progress_follows_each_participants_aggregated_days() {
        // Day three of five (12:00 in Seoul); 80 % of 5 days is 4.
        let row = challenge("2026-12-01", "2026-12-05", 80);
        let now = DateTime::parse_from_rfc3339("2026-12-03T03:00:00Z").unwrap().with_timezone(&Utc);
        let people = [
            // The database hands the days over in no particular order.
            person("all", 3, 0, Some("2026-12-03,2026-12-01,2026-12-02")),
            person("missed", 1, 1, Some("2026-12-02")),
            person("none", 0, 0, None),
        ];
        let p = progress_of(&row, &people, now);
        assert_eq!((p.proof_days, p.proof_days_elapsed, p.required_days), (5, 3, 4));
        assert_eq!((p.participant_count, p.today_proofs, p.today_rate_percent), (3, 1, 33));
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(p.participants[0].proved_days, vec![day("2026-12-01"), day("2026-12-02"), day("2026-12-03")]);
        assert!(p.participants[0].today_done && p.participants[0].on_track);
        // One day and today still open: 1 + 3 = 4 is still enough.
        assert!(!p.participants[1].today_done && p.participants[1].on_track);
        assert_eq!(p.participants[1].rejected_days, 1);
        // None yet, today and two more days open: 3 < 4.
        assert!(!p.participants[2].on_track && p.participants[2].proved_days.is_empty());
    }
}
