//! Settlement of one challenge: chunked, restartable, idempotent, and run by one runner at a time.
//!
//! 1. Under a lease (so one runner works on a challenge at a time, across instances), the outcomes are computed
//!    once from the accepted proofs and stored on the participations; a later run reuses them.
//! 2. Participants are paid in chunks, each its own transaction: a winner's stake is returned as the very lots it
//!    took (reversal), the prize share arrives as a REWARD lot, and the participation is marked settled. Every
//!    movement has a ledger key per participation, so a run killed at any point and started again pays nobody
//!    twice.
//! 3. The rest of the escrow (the fee, or the whole pool when nobody won) goes to the platform reserve; the escrow
//!    ends at exactly 0 and the challenge is ENDED. Every run is recorded in `settlement_runs`.

use chrono::Utc;
use nene_shared::Points;
use nene_shared::UserId;
use nene_shared::challenges::{ChallengeStatus, Outcome};
use nene_shared::ledger::{LotSource, TransferKind};
use uuid::Uuid;

use super::rules;
use super::settlement::{self, Entrant};
use super::{stake_key, status_of};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, AccountId};
use crate::notify;
use crate::store;

const LEASE_MS: i64 = 120_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Everyone is paid and the challenge is ENDED (also when it already was).
    Finished,
    /// Stopped early on purpose (`stop_after`), as if the process had died.
    Stopped,
    /// Another runner holds the challenge.
    Busy,
}

/// Settles `challenge` in chunks of `chunk` participants. `stop_after` stops after paying that many participants
/// in this run without finishing (tests use it to interrupt a settlement).
pub async fn settle(state: &AppState, challenge: Uuid, chunk: usize, stop_after: Option<usize>) -> ApiResult<Progress> {
    let lease = format!("settle:{challenge}");
    let holder = Uuid::new_v4().to_string();
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    if !store::challenges::acquire_lease(&mut tx, &lease, &holder, now, now + LEASE_MS).await? {
        return Ok(Progress::Busy);
    }
    let run = store::challenges::start_run(&mut tx, challenge, now).await?;
    tx.commit().await?;

    let result = run_settlement(state, challenge, run, &lease, &holder, chunk.max(1), stop_after).await;
    let mut tx = state.db.begin_write().await?;
    match &result {
        Ok(Progress::Finished) => {}
        Ok(_) => {
            // An interrupted run stays unfinished in the record, as a crash would leave it.
        }
        Err(e) => {
            store::challenges::finish_run(&mut tx, run, None, Some(&e.to_string()), Utc::now().timestamp_millis())
                .await?;
        }
    }
    store::challenges::release_lease(&mut tx, &lease, &holder).await?;
    tx.commit().await?;
    result
}

async fn run_settlement(
    state: &AppState,
    challenge: Uuid,
    run: i64,
    lease: &str,
    holder: &str,
    chunk: usize,
    stop_after: Option<usize>,
) -> ApiResult<Progress> {
    // 1. The plan.
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    store::challenges::lock(&mut tx, challenge).await?;
    let Some(row) = store::challenges::get(&mut tx, challenge).await? else {
        return Err(ApiError::not_found("No such challenge."));
    };
    match status_of(&row) {
        ChallengeStatus::InProgress => {}
        ChallengeStatus::Ended => {
            store::challenges::finish_run(&mut tx, run, None, None, now).await?;
            tx.commit().await?;
            return Ok(Progress::Finished);
        }
        other => return Err(ApiError::internal(&format!("cannot settle a challenge in {}", other.as_str()))),
    }
    let people = store::challenges::participants(&mut tx, challenge).await?;
    if people.iter().all(|p| p.outcome.is_none()) {
        let required = rules::required_days(row.success_threshold, row.proof_days);
        let entrants: Vec<Entrant> =
            people.iter().map(|p| Entrant { stake: p.stake, success: p.accepted_days >= required }).collect();
        let plan = settlement::plan(&entrants, row.fee_bps);
        for ((p, e), prize) in people.iter().zip(&entrants).zip(&plan.prizes) {
            let outcome = if e.success { Outcome::Success } else { Outcome::Fail };
            store::challenges::set_outcome(&mut tx, p.id, outcome.as_str(), *prize).await?;
        }
    }
    tx.commit().await?;

    // 2. Pay in chunks.
    let escrow = AccountId::escrow_challenge(challenge);
    let mut paid_this_run = 0usize;
    loop {
        let now = Utc::now().timestamp_millis();
        let mut tx = state.db.begin_write().await?;
        if !store::challenges::acquire_lease(&mut tx, lease, holder, now, now + LEASE_MS).await? {
            return Err(ApiError::internal(&"settlement lease lost"));
        }
        let people = store::challenges::participants(&mut tx, challenge).await?;
        let pending: Vec<_> = people.into_iter().filter(|p| p.settled_at.is_none()).take(chunk).collect();
        if pending.is_empty() {
            tx.commit().await?;
            break;
        }
        let budget = stop_after.map(|n| n.saturating_sub(paid_this_run));
        if budget == Some(0) {
            tx.commit().await?;
            return Ok(Progress::Stopped);
        }
        let mut settled = 0;
        for p in pending.iter().take(budget.unwrap_or(usize::MAX)) {
            let user = UserId::from_uuid(p.user_id);
            let won = p.outcome.as_deref() == Some(Outcome::Success.as_str());
            let prize = p.prize.unwrap_or(0);
            if won {
                ledger::reverse_spend(
                    &mut tx,
                    &format!("return:{}", p.id),
                    TransferKind::StakeRefund,
                    &stake_key(p.id),
                    &challenge.to_string(),
                    now,
                )
                .await?;
                if prize > 0 {
                    ledger::credit_lot(
                        &mut tx,
                        &format!("prize:{}", p.id),
                        TransferKind::Payout,
                        &escrow,
                        user,
                        Points::new(prize),
                        LotSource::Reward,
                        None,
                        &challenge.to_string(),
                        now,
                    )
                    .await?;
                }
            }
            if store::challenges::mark_settled(&mut tx, p.id, now).await? {
                settled += 1;
                let body = if won {
                    format!(
                        "'{}' 성공! 참가비 {}와 상금 {}을 받았어요.",
                        row.title,
                        Points::new(p.stake).display(),
                        Points::new(prize).display()
                    )
                } else {
                    format!("'{}'는 아쉽게 실패했어요. 다음 챌린지에서 만나요.", row.title)
                };
                notify::record(
                    &mut tx,
                    p.user_id,
                    notify::Kind::SettlementResult,
                    "챌린지 정산",
                    &body,
                    &[
                        ("challenge_id", challenge.to_string()),
                        ("outcome", p.outcome.clone().unwrap_or_default()),
                        ("prize", prize.to_string()),
                    ],
                    now,
                )
                .await?;
            }
        }
        store::challenges::add_to_run(&mut tx, run, settled).await?;
        tx.commit().await?;
        paid_this_run += settled as usize;
    }

    // 3. The remainder to the reserve; the escrow must end at exactly zero.
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    store::challenges::lock(&mut tx, challenge).await?;
    let people = store::challenges::participants(&mut tx, challenge).await?;
    let winners = people.iter().filter(|p| p.outcome.as_deref() == Some(Outcome::Success.as_str())).count() as i64;
    let pool: i64 =
        people.iter().filter(|p| p.outcome.as_deref() == Some(Outcome::Fail.as_str())).map(|p| p.stake).sum();
    let prizes: i64 = people.iter().map(|p| p.prize.unwrap_or(0)).sum();
    let to_reserve = pool - prizes;
    let left = store::ledger::account(&mut tx, escrow.as_str()).await?.map(|a| a.balance).unwrap_or(0);
    if left != to_reserve {
        return Err(ApiError::internal(&format!(
            "escrow of {challenge} holds {left}, expected {to_reserve}; settlement stopped for an operator"
        )));
    }
    if to_reserve > 0 {
        ledger::transfer_between_system(
            &mut tx,
            &format!("unclaimed:{challenge}"),
            TransferKind::Forfeit,
            &escrow,
            &AccountId::platform_reserve(),
            Points::new(to_reserve),
            &challenge.to_string(),
            now,
        )
        .await?;
    }
    store::challenges::transition(&mut tx, challenge, &["IN_PROGRESS"], "ENDED", now).await?;
    store::challenges::finish_run(&mut tx, run, Some(winners), None, now).await?;
    tx.commit().await?;
    tracing::info!(challenge = %challenge, winners, participants = people.len(), "challenge settled");
    Ok(Progress::Finished)
}
