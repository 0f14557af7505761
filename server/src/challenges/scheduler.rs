//! Time-driven transitions, made by the server from the domain clock and never by a person's request: a challenge
//! starts at 00:00 of its start day (or is cancelled, every stake given back, when too few joined), and is settled
//! once its last proof window has closed and its proofs under review are decided (or the moderation grace time ran
//! out, see [`super::moderation`]).

use chrono::{NaiveDate, Utc};
use nene_shared::UserId;
use nene_shared::challenges::ChallengeStatus;
use nene_shared::ledger::TransferKind;
use uuid::Uuid;

use super::rules::{self, TimeTransition};
use super::{calendar_of, settle, stake_key, status_of};
use crate::app::AppState;
use crate::error::ApiResult;
use crate::ledger::batch::{BatchOutcome, StakeReturn};
use crate::ledger::{self, AccountId};
use crate::notify;
use crate::store::challenges::{ChallengeRow, ParticipationRow};
use crate::store::{self, StoreResult, Tx};

/// Participants paid per settlement transaction, across the challenges settled together. A chunk is a few
/// multi-row statements whatever its size, so a larger chunk mostly saves commits; this size keeps a transaction
/// (and, on SQLite, the time the write lock is held) in the tens of milliseconds.
pub const SETTLEMENT_CHUNK: usize = 5_000;

/// The most challenges a scheduler step looks at (and settles together).
pub const DUE_BATCH: usize = 50;

/// How long (domain time) a challenge whose transition failed `failures` times in a row waits before the next try:
/// 30 s, doubling, at most an hour. Until then the batch goes to the others.
pub fn retry_delay_ms(failures: i64) -> i64 {
    const FIRST_MS: i64 = 30_000;
    const MAX_MS: i64 = 3_600_000;
    let doublings = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
    FIRST_MS.saturating_mul(1_i64 << doublings).min(MAX_MS)
}

/// Handles every challenge whose start or end is due, and marks those whose settlement moderation holds back.
/// Returns how many it handled.
pub async fn step(state: &AppState) -> StoreResult<usize> {
    let grace = super::moderation::Grace::of(state);
    let mut tx = state.db.begin_read().await?;
    let due = store::challenges::due(&mut tx, grace.now_ms, grace.cutoff(), DUE_BATCH as i64).await?;
    let held = store::challenges::held_back_unmarked(&mut tx, grace.now_ms, grace.cutoff(), DUE_BATCH as i64).await?;
    drop(tx);
    if !held.is_empty()
        && let Err(e) = mark_held_back(state, &held).await
    {
        tracing::warn!(error = %e, "could not mark settlements held back for moderation; next pass tries again");
    }
    let mut handled = 0;
    let mut to_settle = Vec::new();
    for id in due {
        match transition(state, id).await {
            Ok(Due::Done(true)) => handled += 1,
            Ok(Due::Done(false)) => {}
            Ok(Due::Settle) => to_settle.push(id),
            Err(e) => {
                tracing::warn!(challenge = %id, error = %e, "scheduled transition failed; will retry");
                back_off(state, id).await;
            }
        }
    }
    // The challenges due for settlement are settled together: small ones share transactions.
    let results = settle::settle_many(state, &to_settle, SETTLEMENT_CHUNK).await;
    for (id, result) in to_settle.iter().zip(results) {
        match result {
            Ok(settle::Progress::Finished) => handled += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(challenge = %id, error = %e, "settlement failed; will retry");
                back_off(state, *id).await;
            }
        }
    }
    Ok(handled)
}

/// Marks, once each, challenges whose due settlement waits for moderation, bumping their versions: nothing else
/// changes when time passes a challenge's end, so without this an app's cached copy would not learn why the
/// challenge is not settled until something else about it changed. Found by a read first, so a pass with none
/// writes nothing; the mark makes it once per challenge however many passes see it waiting.
async fn mark_held_back(state: &AppState, ids: &[Uuid]) -> StoreResult<()> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    for &id in ids {
        store::challenges::lock(&mut tx, id).await?;
        if store::challenges::mark_held_back(&mut tx, id, now).await? {
            tracing::info!(challenge = %id, "settlement waits for moderation");
        }
    }
    tx.commit().await
}

/// Puts a challenge whose transition failed back by [`retry_delay_ms`], counted in `scheduler_failures_total`.
async fn back_off(state: &AppState, id: Uuid) {
    metrics::counter!("scheduler_failures_total").increment(1);
    let now = state.clock.now().timestamp_millis();
    let deferred = async {
        let mut tx = state.db.begin_write().await?;
        let failures = store::challenges::schedule_failures(&mut tx, id).await?;
        store::challenges::defer_schedule(&mut tx, id, now + retry_delay_ms(failures)).await?;
        tx.commit().await
    };
    if let Err(e) = deferred.await {
        tracing::warn!(challenge = %id, error = %e, "could not record the failure; the challenge is tried again at once");
    }
}

/// Makes the transition due for one challenge, if any. Safe to call from several instances at once: each
/// transition re-checks the status under the challenge's lock, and settlement holds a lease.
pub async fn advance(state: &AppState, id: Uuid) -> ApiResult<bool> {
    match transition(state, id).await? {
        Due::Done(done) => Ok(done),
        Due::Settle => {
            let progress = settle::settle(state, id, SETTLEMENT_CHUNK, None).await?;
            Ok(progress == settle::Progress::Finished)
        }
    }
}

/// What [`transition`] did.
enum Due {
    /// A start or a cancellation was made (true), or nothing was due (false).
    Done(bool),
    /// The challenge is due for settlement, which the caller runs.
    Settle,
}

/// Starts or cancels a challenge when that is due; says so when settlement is due instead.
async fn transition(state: &AppState, id: Uuid) -> ApiResult<Due> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    store::challenges::lock(&mut tx, id).await?;
    let Some(row) = store::challenges::get(&mut tx, id).await? else { return Ok(Due::Done(false)) };
    let cal = calendar_of(&row);
    let due = rules::due_transition(
        status_of(&row),
        cal.starts_at(),
        cal.ends_at(),
        row.participant_count,
        row.min_participants,
        now,
    );
    let real_now = Utc::now().timestamp_millis();
    match due {
        None => Ok(Due::Done(false)),
        Some(TimeTransition::Start) => {
            if !store::challenges::transition(&mut tx, id, &["RECRUITING", "READY"], "IN_PROGRESS", real_now).await? {
                return Ok(Due::Done(false));
            }
            let people = store::challenges::participants(&mut tx, id).await?;
            let body = format!("'{}'가 오늘 시작해요. 첫 인증을 남겨 보세요!", row.title);
            let notes = notes_for(people.iter().map(|p| p.user_id), &body, &[("challenge_id", id.to_string())]);
            notify::record_many(&mut tx, notify::Kind::ChallengeStarting, "챌린지 시작", &notes, real_now).await?;
            tx.commit().await?;
            tracing::info!(challenge = %id, participants = people.len(), "challenge started");
            Ok(Due::Done(true))
        }
        Some(TimeTransition::Cancel) => {
            if !store::challenges::transition(&mut tx, id, &["RECRUITING", "READY"], "CANCELLED", real_now).await? {
                return Ok(Due::Done(false));
            }
            let people = store::challenges::participants(&mut tx, id).await?;
            refund_stakes(&mut tx, id, &people, real_now).await?;
            let body = format!("'{}'는 참가자가 모자라 취소됐어요. 참가비를 돌려드렸어요.", row.title);
            let notes = notes_for(people.iter().map(|p| p.user_id), &body, &[("challenge_id", id.to_string())]);
            notify::record_many(&mut tx, notify::Kind::ChallengeCancelled, "챌린지 취소", &notes, real_now).await?;
            tx.commit().await?;
            tracing::info!(challenge = %id, participants = people.len(), "challenge cancelled: too few participants");
            Ok(Due::Done(true))
        }
        Some(TimeTransition::Settle) => Ok(Due::Settle),
    }
}

/// Gives every participant of a cancelled challenge their stake back, to the very lots it came from: all at once
/// through the ledger's batch path, or one by one when the batch cannot take the case (a refund already made, say),
/// where the general API replays or refuses each key on its own.
async fn refund_stakes(tx: &mut Tx, id: Uuid, people: &[ParticipationRow], now_ms: i64) -> ApiResult<()> {
    let reference = id.to_string();
    let returns: Vec<StakeReturn> = people
        .iter()
        .map(|p| StakeReturn {
            from: AccountId::escrow_challenge(id),
            reference: reference.clone(),
            key: cancel_refund_key(p.id),
            stake_key: stake_key(p.id),
            prize_key: String::new(),
            user: UserId::from_uuid(p.user_id),
            prize: 0,
        })
        .collect();
    if ledger::batch::return_stakes_with_prizes(tx, &returns, now_ms).await? == BatchOutcome::Applied {
        return Ok(());
    }
    for p in people {
        ledger::reverse_spend(
            tx,
            &cancel_refund_key(p.id),
            TransferKind::StakeRefund,
            &stake_key(p.id),
            &reference,
            now_ms,
        )
        .await?;
    }
    Ok(())
}

/// The key of the refund of one participation's stake when its challenge is cancelled.
fn cancel_refund_key(participation: Uuid) -> String {
    format!("cancel-refund:{participation}")
}

/// One notification per person, all saying the same.
fn notes_for(people: impl Iterator<Item = Uuid>, body: &str, data: &[(&'static str, String)]) -> Vec<notify::Note> {
    people.map(|user| notify::Note { user, body: body.to_owned(), data: data.to_vec() }).collect()
}

/// Sends the daily reminder: once per challenge and day, from `reminder_hour` in the challenge's time zone, to
/// each participant who has not proved yet that day. Returns how many challenges it reminded.
///
/// What is due is worked out from a read: the challenges in progress and the last day each was reminded on. Only a
/// challenge whose reminder is due gets a write transaction, which records the (challenge, day) first; that record
/// is unique, so of several passes (or instances) racing for one reminder exactly one sends it. A pass with nothing
/// due writes nothing, however many challenges are running.
pub async fn reminder_step(state: &AppState) -> StoreResult<usize> {
    let now = state.clock.now();
    let mut tx = state.db.begin_read().await?;
    let running = store::challenges::in_progress(&mut tx).await?;
    let reminded = store::notifications::last_reminders(&mut tx).await?;
    drop(tx);
    let due: Vec<(ChallengeRow, NaiveDate)> = running
        .into_iter()
        .filter_map(|row| {
            let cal = calendar_of(&row);
            let local = now.with_timezone(&cal.tz);
            let today = local.date_naive();
            let last = reminded.get(&row.id).and_then(|d| d.parse::<NaiveDate>().ok());
            let due = chrono::Timelike::hour(&local) >= state.config.reminder_hour
                && cal.is_proof_day(today)
                && last.is_none_or(|last| last < today);
            due.then_some((row, today))
        })
        .collect();
    let mut sent = 0;
    for (row, today) in due {
        let day = today.to_string();
        let real_now = Utc::now().timestamp_millis();
        let mut tx = state.db.begin_write().await?;
        if !store::notifications::claim_reminder(&mut tx, row.id, &day, real_now).await? {
            continue;
        }
        let waiting = store::challenges::without_proof_on(&mut tx, row.id, &day).await?;
        let body = format!("'{}' 오늘 인증이 아직이에요. 자정 전에 남겨 주세요!", row.title);
        let notes = notes_for(waiting.into_iter(), &body, &[("challenge_id", row.id.to_string()), ("day", day)]);
        notify::record_many(&mut tx, notify::Kind::ProofReminder, "오늘 인증을 잊지 마세요", &notes, real_now).await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}

/// Whether a challenge still takes proofs or rejections: in progress and before its last window closed.
pub fn proofs_open(status: ChallengeStatus) -> bool {
    status == ChallengeStatus::InProgress
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn a_failing_challenge_waits_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_delay_ms(0), 30_000);
        assert_eq!(retry_delay_ms(1), 60_000);
        assert_eq!(retry_delay_ms(3), 240_000);
        assert_eq!(retry_delay_ms(7), 3_600_000);
        assert_eq!(retry_delay_ms(i64::MAX), 3_600_000);
        assert_eq!(retry_delay_ms(-1), 30_000);
    }
}
