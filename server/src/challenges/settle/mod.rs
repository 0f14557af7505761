//! Settlement of challenges: chunked, restartable, idempotent, and run by one runner per challenge at a time.
//!
//! 1. Under a lease (so one runner works on a challenge at a time, across instances), the outcomes are computed
//!    once from the accepted proofs and stored on the participations; a later run reuses them. Before that, a
//!    challenge with proofs under review waits (nothing is written) until they are decided or the moderation
//!    grace time has run out, when the system decides them for the person who proved.
//! 2. Participants are paid in chunks: a winner's stake is returned as the very lots it took (reversal), the prize
//!    share arrives as a REWARD lot, the participation is marked settled and everyone is told the result. Every
//!    movement has a ledger key per participation, so a run killed at any point and started again pays nobody
//!    twice.
//! 3. The rest of the escrow (the fee, or the whole pool when nobody won) goes to the platform reserve; the escrow
//!    ends at exactly 0 and the challenge is ENDED. Every run is recorded in `settlement_runs`.
//!
//! A chunk is paid set-based: one statement per kind of row for the whole chunk (transfers, entries, each account's
//! balance once, restored lots, reward lots, lot moves, settled marks, notifications and their deliveries), through
//! [`ledger::batch`], which writes the rows the general ledger API would. Should a chunk find movements of its own
//! keys already in the ledger (which a transaction-per-chunk settlement never leaves behind, but an operator might),
//! that chunk goes through the general API one participant at a time, which replays or refuses each key exactly.
//!
//! Each transaction pays up to `chunk` participants, taken from as many of the given challenges as fit, so a batch
//! of small challenges settles in one commit. Each challenge works inside its own savepoint: one that fails is rolled
//! back, its run recorded with the error, and the others go on. A transaction that does not commit leaves nothing
//! behind, so a restart simply does its work again.

use chrono::Utc;
use nene_shared::Points;
use nene_shared::UserId;
use nene_shared::challenges::{ChallengeStatus, Outcome};
use nene_shared::ledger::{LotSource, TransferKind};
use uuid::Uuid;

use super::moderation::{self, Gate, Grace};
use super::rules;
use super::settlement::{self, Entrant};
use super::{stake_key, status_of};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::ledger::batch::{BatchOutcome, StakeReturn};
use crate::ledger::{self, AccountId};
use crate::notify;
use crate::store::challenges::{ChallengeRow, ParticipationRow, PendingRow};
use crate::store::{self, Tx};

mod together;

const LEASE_MS: i64 = 120_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Everyone is paid and the challenge is ENDED (also when it already was).
    Finished,
    /// Stopped early on purpose (`stop_after`), as if the process had died.
    Stopped,
    /// Another runner holds the challenge.
    Busy,
    /// Proofs of the challenge are under review and the moderation grace time lasts; nothing was done.
    Waiting,
}

/// How a chunk's participants are paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// A handful of multi-row statements per chunk, whatever its size (the default).
    SetBased,
    /// One participant at a time through the general ledger API: the reference the set-based path must match row
    /// for row, and what it falls back to when a chunk's keys were already used.
    OneByOne,
}

/// Settles `challenge` in chunks of `chunk` participants. `stop_after` stops after paying that many participants
/// in this run without finishing (tests use it to interrupt a settlement).
pub async fn settle(state: &AppState, challenge: Uuid, chunk: usize, stop_after: Option<usize>) -> ApiResult<Progress> {
    settle_with(state, challenge, chunk, stop_after, Method::SetBased).await
}

/// [`settle`], paying by the given method.
pub async fn settle_with(
    state: &AppState,
    challenge: Uuid,
    chunk: usize,
    stop_after: Option<usize>,
    method: Method,
) -> ApiResult<Progress> {
    let settings = Settings {
        holder: Uuid::new_v4().to_string(),
        chunk: chunk.max(1),
        stop_after,
        method,
        grace: Grace::of(state),
    };
    run(state, &[challenge], &settings)
        .await
        .pop()
        .unwrap_or_else(|| Err(ApiError::internal(&"settlement returned no result")))
}

/// Settles several challenges together: each transaction pays up to `chunk` participants across them, so many
/// small challenges share a commit. Returns each challenge's result, in the order given.
pub async fn settle_many(state: &AppState, challenges: &[Uuid], chunk: usize) -> Vec<ApiResult<Progress>> {
    let settings = Settings {
        holder: Uuid::new_v4().to_string(),
        chunk: chunk.max(1),
        stop_after: None,
        method: Method::SetBased,
        grace: Grace::of(state),
    };
    run(state, challenges, &settings).await
}

struct Settings {
    /// This runner's name on the leases it holds.
    holder: String,
    chunk: usize,
    stop_after: Option<usize>,
    method: Method,
    /// The domain clock's now and the moderation grace time: whether a challenge still waits for its reviews.
    grace: Grace,
}

/// A challenge's committed progress within this runner.
#[derive(Clone, Copy, Debug, Default)]
struct Job {
    /// The `settlement_runs` row, once its first transaction committed (the lease is held from then on).
    run: Option<i64>,
    /// Participants marked settled by this run.
    paid: usize,
}

fn lease_name(challenge: Uuid) -> String {
    format!("settle:{challenge}")
}

async fn run(state: &AppState, challenges: &[Uuid], settings: &Settings) -> Vec<ApiResult<Progress>> {
    let mut jobs = vec![Job::default(); challenges.len()];
    let mut results: Vec<Option<ApiResult<Progress>>> = challenges.iter().map(|_| None).collect();
    // Once the batch has given way to the per-challenge path, the rest of this run stays on it.
    let mut together = settings.method == Method::SetBased && settings.stop_after.is_none();
    while results.iter().any(Option::is_none) {
        if let Err(e) = one_transaction(state, challenges, &mut jobs, &mut results, &mut together, settings).await {
            // Nothing of that transaction happened. Runs begun in earlier ones are closed with the error and their
            // leases released, as a crash would be cleaned up by the next run.
            give_up(state, challenges, &jobs, &results, settings, &e).await;
            for r in results.iter_mut().filter(|r| r.is_none()) {
                *r = Some(Err(copy_error(&e)));
            }
        }
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(ApiError::internal(&"settlement left unfinished")))).collect()
}

/// One transaction: steps every unfinished challenge, in order, while the chunk budget lasts. What each step did is
/// kept only once the commit succeeded.
async fn one_transaction(
    state: &AppState,
    challenges: &[Uuid],
    jobs: &mut [Job],
    results: &mut [Option<ApiResult<Progress>>],
    together: &mut bool,
    settings: &Settings,
) -> ApiResult<()> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let mut budget = settings.chunk;
    let mut staged: Vec<(usize, Job, Option<ApiResult<Progress>>)> = Vec::new();
    let mut together_finished = 0u64;
    let mut taken = vec![false; challenges.len()];
    if *together {
        // The common case first: challenges not begun yet, settled whole and together. One begun in an earlier
        // transaction (too big for one) goes on below with what is left of the budget.
        let fresh: Vec<usize> =
            (0..challenges.len()).filter(|&i| results[i].is_none() && jobs[i].run.is_none()).collect();
        if !fresh.is_empty() {
            let ids: Vec<Uuid> = fresh.iter().map(|&i| challenges[i]).collect();
            savepoint(&mut tx, "SAVEPOINT settle_together").await?;
            match together::settle(&mut tx, &ids, budget, &settings.holder, &settings.grace, now).await {
                Ok(Some(done)) => {
                    savepoint(&mut tx, "RELEASE SAVEPOINT settle_together").await?;
                    for d in done {
                        let i = fresh[d.index];
                        taken[i] = true;
                        budget = budget.saturating_sub(d.cost);
                        let job = Job { run: None, paid: jobs[i].paid + d.paid };
                        together_finished += u64::from(d.progress == Progress::Finished);
                        staged.push((i, job, Some(Ok(d.progress))));
                    }
                }
                outcome => {
                    match outcome {
                        Err(e) => tracing::debug!(error = %e, "settling the batch together failed; one by one"),
                        _ => tracing::debug!("the batch cannot be settled together; one by one"),
                    }
                    *together = false;
                    savepoint(&mut tx, "ROLLBACK TO SAVEPOINT settle_together").await?;
                    savepoint(&mut tx, "RELEASE SAVEPOINT settle_together").await?;
                }
            }
        }
    }
    for (i, &challenge) in challenges.iter().enumerate() {
        if results[i].is_some() || taken[i] {
            continue;
        }
        if budget == 0 {
            break;
        }
        let mut job = jobs[i];
        savepoint(&mut tx, "SAVEPOINT settle_one").await?;
        match step(&mut tx, challenge, &mut job, &mut budget, settings, now).await {
            Ok(progress) => {
                savepoint(&mut tx, "RELEASE SAVEPOINT settle_one").await?;
                staged.push((i, job, progress.map(Ok)));
            }
            Err(e) => {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT settle_one").await?;
                savepoint(&mut tx, "RELEASE SAVEPOINT settle_one").await?;
                record_failure(&mut tx, challenge, jobs[i].run, settings, &e, now).await?;
                let closed = Job { run: None, ..jobs[i] };
                staged.push((i, closed, Some(Err(e))));
            }
        }
    }
    tx.commit().await?;
    // How often the batch settles together, and how often it gives way to the per-challenge path.
    let finished = staged.iter().filter(|(_, _, r)| matches!(r, Some(Ok(Progress::Finished)))).count() as u64;
    metrics::counter!("settlement_challenges_total", "path" => "together").increment(together_finished);
    metrics::counter!("settlement_challenges_total", "path" => "one_at_a_time").increment(finished - together_finished);
    for (i, job, result) in staged {
        jobs[i] = job;
        if result.is_some() {
            results[i] = result;
        }
    }
    Ok(())
}

/// Moves one challenge forward inside the caller's transaction: pays at most `budget` participants (and
/// `stop_after` in all), finishing the challenge when nobody is left. `None` means more is to be paid.
async fn step(
    tx: &mut Tx,
    challenge: Uuid,
    job: &mut Job,
    budget: &mut usize,
    settings: &Settings,
    now: i64,
) -> ApiResult<Option<Progress>> {
    let lease = lease_name(challenge);
    let holder = settings.holder.as_str();
    let held = store::challenges::acquire_lease(tx, &lease, holder, now, now + LEASE_MS).await?;
    match job.run {
        Some(_) if !held => return Err(ApiError::internal(&"settlement lease lost")),
        None if !held => return Ok(Some(Progress::Busy)),
        _ => {}
    }

    store::challenges::lock(tx, challenge).await?;
    let Some(row) = store::challenges::get(tx, challenge).await? else {
        return Err(ApiError::not_found("No such challenge."));
    };
    // Before the plan, under the challenge's lock: proofs under review are decided first, by an administrator
    // within the grace time or by the system after it.
    let unplanned = status_of(&row) == ChallengeStatus::InProgress
        && store::challenges::outcomes_recorded(tx, challenge).await? == 0;
    if unplanned && moderation::before_settlement(tx, &row, &settings.grace, now).await? == Gate::Wait {
        store::challenges::release_lease(tx, &lease, holder).await?;
        *budget = budget.saturating_sub(1);
        return Ok(Some(Progress::Waiting));
    }
    let run = match job.run {
        Some(run) => run,
        None => {
            let run = store::challenges::start_run(tx, challenge, now).await?;
            job.run = Some(run);
            run
        }
    };
    match status_of(&row) {
        ChallengeStatus::InProgress => {}
        ChallengeStatus::Ended => {
            store::challenges::finish_run(tx, run, None, None, now).await?;
            store::challenges::release_lease(tx, &lease, holder).await?;
            *budget = budget.saturating_sub(1);
            return Ok(Some(Progress::Finished));
        }
        other => return Err(ApiError::internal(&format!("cannot settle a challenge in {}", other.as_str()))),
    }

    // 1. The plan, once.
    if unplanned {
        plan(tx, &row).await?;
    }

    // 2. Pay what this transaction may; one row more than that tells whether anyone is left after it.
    let allowed = (*budget).min(settings.stop_after.map_or(usize::MAX, |n| n.saturating_sub(job.paid)));
    let limit = i64::try_from(allowed.saturating_add(1)).unwrap_or(i64::MAX);
    let pending = store::challenges::pending(tx, challenge, limit).await?;
    let paying = &pending[..pending.len().min(allowed)];
    if !paying.is_empty() {
        let settled = pay(tx, &row, paying, settings.method, now).await?;
        store::challenges::add_to_run(tx, run, settled).await?;
        job.paid += usize::try_from(settled).unwrap_or(0);
    }
    *budget = budget.saturating_sub(paying.len().max(1));
    if pending.len() > paying.len() {
        if settings.stop_after.is_some_and(|n| job.paid >= n) {
            // An interrupted run stays unfinished in the record, as a crash would leave it.
            store::challenges::release_lease(tx, &lease, holder).await?;
            return Ok(Some(Progress::Stopped));
        }
        return Ok(None);
    }

    // 3. Everyone is paid: the remainder to the reserve.
    finish(tx, &row, run, now).await?;
    store::challenges::release_lease(tx, &lease, holder).await?;
    Ok(Some(Progress::Finished))
}

/// Computes every participant's outcome and prize from the accepted proofs and stores them.
async fn plan(tx: &mut Tx, row: &ChallengeRow) -> ApiResult<()> {
    let people = store::challenges::participants(tx, row.id).await?;
    store::challenges::set_outcomes(tx, &outcomes(row, &people)).await?;
    Ok(())
}

/// (participation, outcome, prize) of each of the challenge's active participants, in join order.
fn outcomes(row: &ChallengeRow, people: &[ParticipationRow]) -> Vec<(Uuid, &'static str, i64)> {
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let entrants: Vec<(i64, i64)> = people.iter().map(|p| (p.stake, p.accepted_days)).collect();
    outcomes_of(row, &ids, &entrants)
}

/// The plan for participants given as ids and (stake, accepted days), in join order.
fn outcomes_of(row: &ChallengeRow, ids: &[Uuid], people: &[(i64, i64)]) -> Vec<(Uuid, &'static str, i64)> {
    let required = rules::required_days(row.success_threshold, row.proof_days);
    let entrants: Vec<Entrant> =
        people.iter().map(|&(stake, accepted)| Entrant { stake, success: accepted >= required }).collect();
    let plan = settlement::plan(&entrants, row.fee_bps);
    ids.iter()
        .zip(&entrants)
        .zip(&plan.prizes)
        .map(|((id, e), prize)| {
            let outcome = if e.success { Outcome::Success } else { Outcome::Fail };
            (*id, outcome.as_str(), *prize)
        })
        .collect()
}

fn won(p: &PendingRow) -> bool {
    p.outcome.as_deref() == Some(Outcome::Success.as_str())
}

/// Pays `people` (none of them settled yet); returns how many were marked settled.
async fn pay(tx: &mut Tx, row: &ChallengeRow, people: &[PendingRow], method: Method, now: i64) -> ApiResult<i64> {
    if method == Method::SetBased {
        if let Some(settled) = pay_set_based(tx, row, people, now).await? {
            return Ok(settled);
        }
        tracing::warn!(challenge = %row.id, "a chunk's ledger keys were already used; paying it one by one");
    }
    pay_one_by_one(tx, row, people, now).await
}

/// The whole chunk in a fixed number of statements. `None` (nothing written) when the ledger found earlier
/// movements of the chunk's keys.
async fn pay_set_based(tx: &mut Tx, row: &ChallengeRow, people: &[PendingRow], now: i64) -> ApiResult<Option<i64>> {
    let returns: Vec<StakeReturn> = people.iter().filter(|p| won(p)).map(stake_return).collect();
    let outcome = ledger::batch::return_stakes_with_prizes(tx, &returns, now).await?;
    if outcome == BatchOutcome::NeedsOneByOne {
        return Ok(None);
    }
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let marked = store::challenges::mark_settled_many(tx, &ids, now).await?;
    if marked != ids.len() as u64 {
        // They were read as unsettled under the challenge's lock and our lease: another writer ignored both.
        return Err(ApiError::internal(&format!(
            "{} of {} participants of {} were settled by someone else",
            ids.len() as u64 - marked,
            ids.len(),
            row.id
        )));
    }
    let notes: Vec<notify::Note> = people.iter().map(|p| result_note(row, p)).collect();
    notify::record_many(tx, notify::Kind::SettlementResult, RESULT_TITLE, &notes, now).await?;
    Ok(Some(marked as i64))
}

/// What a winner gets back: the stake's reversal and the prize, both out of the challenge's escrow.
fn stake_return(p: &PendingRow) -> StakeReturn {
    StakeReturn {
        from: AccountId::escrow_challenge(p.challenge_id),
        reference: p.challenge_id.to_string(),
        key: return_key(p.id),
        stake_key: stake_key(p.id),
        prize_key: prize_key(p.id),
        user: UserId::from_uuid(p.user_id),
        prize: p.prize.unwrap_or(0),
    }
}

/// One participant at a time through the general ledger API.
async fn pay_one_by_one(tx: &mut Tx, row: &ChallengeRow, people: &[PendingRow], now: i64) -> ApiResult<i64> {
    let escrow = AccountId::escrow_challenge(row.id);
    let mut settled = 0;
    for p in people {
        let prize = p.prize.unwrap_or(0);
        if won(p) {
            ledger::reverse_spend(
                tx,
                &return_key(p.id),
                TransferKind::StakeRefund,
                &stake_key(p.id),
                &row.id.to_string(),
                now,
            )
            .await?;
            if prize > 0 {
                ledger::credit_lot(
                    tx,
                    &prize_key(p.id),
                    TransferKind::Payout,
                    &escrow,
                    UserId::from_uuid(p.user_id),
                    Points::new(prize),
                    LotSource::Reward,
                    None,
                    &row.id.to_string(),
                    now,
                )
                .await?;
            }
        }
        if store::challenges::mark_settled(tx, p.id, now).await? {
            settled += 1;
            let note = result_note(row, p);
            notify::record(tx, p.user_id, notify::Kind::SettlementResult, RESULT_TITLE, &note.body, &note.data, now)
                .await?;
        }
    }
    Ok(settled)
}

const RESULT_TITLE: &str = "챌린지 정산";

fn return_key(participation: Uuid) -> String {
    format!("return:{participation}")
}

fn prize_key(participation: Uuid) -> String {
    format!("prize:{participation}")
}

/// The result notification for one participant.
fn result_note(row: &ChallengeRow, p: &PendingRow) -> notify::Note {
    let prize = p.prize.unwrap_or(0);
    let body = if won(p) {
        format!(
            "'{}' 성공! 참가비 {}와 상금 {}을 받았어요.",
            row.title,
            Points::new(p.stake).display(),
            Points::new(prize).display()
        )
    } else {
        format!("'{}'는 아쉽게 실패했어요. 다음 챌린지에서 만나요.", row.title)
    };
    notify::Note {
        user: p.user_id,
        body,
        data: vec![
            ("challenge_id", row.id.to_string()),
            ("outcome", p.outcome.clone().unwrap_or_default()),
            ("prize", prize.to_string()),
        ],
    }
}

/// Everyone is paid: the rest of the escrow goes to the reserve (it must be exactly the failed stakes less the
/// prizes), and the challenge ends.
async fn finish(tx: &mut Tx, row: &ChallengeRow, run: i64, now: i64) -> ApiResult<()> {
    let challenge = row.id;
    let escrow = AccountId::escrow_challenge(challenge);
    let (participants, winners, pool, prizes) = store::challenges::settlement_totals(tx, challenge).await?;
    let to_reserve = pool - prizes;
    let left = store::ledger::account(tx, escrow.as_str()).await?.map(|a| a.balance).unwrap_or(0);
    if left != to_reserve {
        return Err(ApiError::internal(&format!(
            "escrow of {challenge} holds {left}, expected {to_reserve}; settlement stopped for an operator"
        )));
    }
    if to_reserve > 0 {
        ledger::transfer_between_system(
            tx,
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
    store::challenges::transition(tx, challenge, &["IN_PROGRESS"], "ENDED", now).await?;
    store::challenges::finish_run(tx, run, Some(winners), None, now).await?;
    tracing::info!(challenge = %challenge, winners, participants, "challenge settled");
    Ok(())
}

/// After a challenge's step failed and was rolled back: its run is recorded as failed (a run begun in this very
/// transaction is recorded anew) and a lease held from earlier transactions is released. Recording is best effort:
/// should it fail too, it is rolled back and only logged, so the other challenges of the transaction go on.
async fn record_failure(
    tx: &mut Tx,
    challenge: Uuid,
    committed_run: Option<i64>,
    settings: &Settings,
    error: &ApiError,
    now: i64,
) -> ApiResult<()> {
    savepoint(tx, "SAVEPOINT settle_failure").await?;
    let recorded: ApiResult<()> = async {
        let run = match committed_run {
            Some(run) => run,
            None => store::challenges::start_run(tx, challenge, now).await?,
        };
        store::challenges::finish_run(tx, run, None, Some(&error.to_string()), now).await?;
        store::challenges::release_lease(tx, &lease_name(challenge), &settings.holder).await?;
        Ok(())
    }
    .await;
    if let Err(e) = recorded {
        tracing::warn!(challenge = %challenge, error = %e, "could not record a failed settlement run");
        savepoint(tx, "ROLLBACK TO SAVEPOINT settle_failure").await?;
    }
    savepoint(tx, "RELEASE SAVEPOINT settle_failure").await?;
    Ok(())
}

/// After a transaction failed to commit: closes the runs that earlier transactions began and releases their
/// leases, best effort (an unreleased lease expires after [`LEASE_MS`]).
async fn give_up(
    state: &AppState,
    challenges: &[Uuid],
    jobs: &[Job],
    results: &[Option<ApiResult<Progress>>],
    settings: &Settings,
    error: &ApiError,
) {
    let open: Vec<(Uuid, i64)> = challenges
        .iter()
        .zip(jobs)
        .zip(results)
        .filter(|(_, r)| r.is_none())
        .filter_map(|((c, j), _)| j.run.map(|run| (*c, run)))
        .collect();
    if open.is_empty() {
        return;
    }
    let closed: ApiResult<()> = async {
        let now = Utc::now().timestamp_millis();
        let mut tx = state.db.begin_write().await?;
        for (challenge, run) in &open {
            store::challenges::finish_run(&mut tx, *run, None, Some(&error.to_string()), now).await?;
            store::challenges::release_lease(&mut tx, &lease_name(*challenge), &settings.holder).await?;
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    if let Err(e) = closed {
        tracing::warn!(error = %e, "could not close interrupted settlement runs; their leases will expire");
    }
}

fn copy_error(e: &ApiError) -> ApiError {
    let mut copy = ApiError::new(e.status, e.code, e.message.clone());
    copy.fields = e.fields.clone();
    copy.retry_after = e.retry_after;
    copy
}

async fn savepoint(tx: &mut Tx, sql: &str) -> ApiResult<()> {
    crate::on_conn!(tx, c => sqlx::query(sql).execute(&mut *c).await.map_err(store::StoreError::from)?.rows_affected());
    Ok(())
}
