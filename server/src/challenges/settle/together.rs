//! The common case of a due batch, settled whole: challenges that fit in one transaction, none begun before, are
//! leased, planned, paid and ended together, with one statement per kind of row for all of them instead of one
//! set per challenge. A batch of 50 small challenges thus costs about twenty statements rather than two thousand,
//! which is what bounds settlement on PostgreSQL (each statement a round trip) and much of it on SQLite.
//!
//! The rows are those the per-challenge path writes, in the same order (challenges in the order given, each one's
//! participants in join order). Anything out of the ordinary (a challenge in an unexpected state, ledger keys
//! already used, an escrow that does not add up) makes the whole attempt give way: the caller rolls its savepoint
//! back and settles the same challenges one at a time, where each problem is recorded against its own challenge.

use std::collections::{HashMap, HashSet};

use nene_shared::challenges::ChallengeStatus;
use nene_shared::ledger::TransferKind;
use uuid::Uuid;

use super::{LEASE_MS, Progress, lease_name, outcomes_of, result_note, stake_return, won};
use crate::challenges::moderation::{self, Gate, Grace};
use crate::challenges::status_of;
use crate::error::{ApiError, ApiResult};
use crate::ledger::AccountId;
use crate::ledger::batch::{self, BatchOutcome, SystemTransfer};
use crate::notify;
use crate::store::Tx;
use crate::store::challenges::{self as sql, ChallengeRow, PendingRow, PlanRow};

/// What happened to one challenge of the batch.
#[derive(Clone, Copy, Debug)]
pub(super) struct Done {
    /// The challenge's position in the slice given to [`settle`].
    pub index: usize,
    pub progress: Progress,
    /// Participants paid.
    pub paid: usize,
    /// What it took of the transaction's participant budget.
    pub cost: usize,
}

/// Settles, whole, the leading challenges of `challenges` whose unpaid participants fit in `budget` (at least one
/// unit each). `None` when the batch must go the per-challenge way instead; the caller then rolls back whatever this
/// wrote. Challenges that did not fit are left untouched and absent from the answer.
pub(super) async fn settle(
    tx: &mut Tx,
    challenges: &[Uuid],
    budget: usize,
    holder: &str,
    grace: &Grace,
    now: i64,
) -> ApiResult<Option<Vec<Done>>> {
    // Which ones fit, by a first look at their sizes (taken again under the locks).
    let sizes: HashMap<Uuid, i64> =
        sql::settlement_counts(tx, challenges).await?.into_iter().map(|(id, pending, _)| (id, pending)).collect();
    let mut left = budget;
    let mut chosen = Vec::new();
    for (i, id) in challenges.iter().enumerate() {
        let cost = usize::try_from(sizes.get(id).copied().unwrap_or(0)).unwrap_or(usize::MAX).max(1);
        if cost > left {
            break;
        }
        left -= cost;
        chosen.push(i);
    }
    if chosen.is_empty() {
        return Ok(Some(Vec::new()));
    }

    // Leases: those another runner holds are busy, as in the per-challenge path.
    let names: Vec<String> = chosen.iter().map(|&i| lease_name(challenges[i])).collect();
    let held: HashSet<String> =
        sql::acquire_leases(tx, &names, holder, now, now + LEASE_MS).await?.into_iter().collect();
    let mut done = Vec::with_capacity(chosen.len());
    let mut mine = Vec::with_capacity(chosen.len());
    for &i in &chosen {
        if held.contains(&lease_name(challenges[i])) {
            mine.push(i);
        } else {
            done.push(Done { index: i, progress: Progress::Busy, paid: 0, cost: 0 });
        }
    }
    if mine.is_empty() {
        return Ok(Some(done));
    }
    let ids: Vec<Uuid> = mine.iter().map(|&i| challenges[i]).collect();
    let runs: HashMap<Uuid, i64> = sql::start_runs(tx, &ids, now).await?.into_iter().collect();
    let rows: HashMap<Uuid, ChallengeRow> =
        sql::lock_many(tx, &ids).await?.into_iter().map(|row| (row.id, row)).collect();

    let mut active: Vec<&ChallengeRow> = Vec::with_capacity(ids.len());
    for id in &ids {
        let Some(row) = rows.get(id) else { return Ok(None) };
        match status_of(row) {
            ChallengeStatus::InProgress => active.push(row),
            ChallengeStatus::Ended => {}
            _ => return Ok(None),
        }
    }
    let active_ids: Vec<Uuid> = active.iter().map(|r| r.id).collect();

    // The plan, for those that have none yet (counted again now that the challenges are locked and leased).
    // Their unpaid participants come straight from the plan; the others' are read back.
    let planned: HashMap<Uuid, i64> =
        sql::settlement_counts(tx, &active_ids).await?.into_iter().map(|(id, _, with)| (id, with)).collect();
    let unplanned: Vec<Uuid> =
        active_ids.iter().copied().filter(|id| planned.get(id).copied().unwrap_or(0) == 0).collect();
    // Proofs under review are decided before a plan; one still waiting (a report that came in since the batch was
    // picked) sends the batch the per-challenge way, where it waits on its own.
    let to_plan: Vec<&ChallengeRow> = active.iter().copied().filter(|r| unplanned.contains(&r.id)).collect();
    if moderation::before_settlement_of_many(tx, &to_plan, grace, now).await? == Gate::Wait {
        return Ok(None);
    }
    let mut pending: HashMap<Uuid, Vec<PendingRow>> = HashMap::with_capacity(active.len());
    if !unplanned.is_empty() {
        let people = group(sql::plan_rows_of_many(tx, &unplanned).await?, |p: &PlanRow| p.challenge_id);
        // Those not paid yet are paid in this transaction, so their plan and their settled mark are one write.
        let mut settling = Vec::new();
        let mut rows_to_write = Vec::new();
        for row in active.iter().filter(|r| unplanned.contains(&r.id)) {
            let Some(people) = people.get(&row.id) else { continue };
            let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
            let entrants: Vec<(i64, i64)> = people.iter().map(|p| (p.stake, p.accepted_days)).collect();
            let plan = outcomes_of(row, &ids, &entrants);
            let unpaid = people
                .iter()
                .zip(&plan)
                .filter(|(p, _)| p.settled_at.is_none())
                .map(|(p, (_, outcome, prize))| PendingRow {
                    id: p.id,
                    challenge_id: p.challenge_id,
                    user_id: p.user_id,
                    stake: p.stake,
                    outcome: Some((*outcome).to_owned()),
                    prize: Some(*prize),
                })
                .collect();
            pending.insert(row.id, unpaid);
            for (p, planned) in people.iter().zip(plan) {
                if p.settled_at.is_none() { settling.push(planned) } else { rows_to_write.push(planned) }
            }
        }
        sql::set_outcomes(tx, &rows_to_write).await?;
        if sql::set_outcomes_settled(tx, &settling, now).await? != settling.len() as u64 {
            return Ok(None);
        }
    }
    let planned_before: Vec<Uuid> = active_ids.iter().copied().filter(|id| !unplanned.contains(id)).collect();
    if !planned_before.is_empty() {
        for (id, rows) in group(sql::pending_of_many(tx, &planned_before).await?, |p: &PendingRow| p.challenge_id) {
            pending.insert(id, rows);
        }
    }

    // Everyone unpaid, challenge by challenge in the order given.
    let mut paying: Vec<PendingRow> = Vec::new();
    let mut paid: HashMap<Uuid, usize> = HashMap::with_capacity(active.len());
    for row in &active {
        let people = pending.remove(&row.id).unwrap_or_default();
        paid.insert(row.id, people.len());
        paying.extend(people);
    }
    let returns: Vec<_> = paying.iter().filter(|p| won(p)).map(stake_return).collect();
    if batch::return_stakes_with_prizes(tx, &returns, now).await? == BatchOutcome::NeedsOneByOne {
        return Ok(None);
    }
    // Those planned in an earlier run are marked paid now (the others were, with their plan).
    let before: HashSet<Uuid> = planned_before.iter().copied().collect();
    let paying_ids: Vec<Uuid> = paying.iter().filter(|p| before.contains(&p.challenge_id)).map(|p| p.id).collect();
    if sql::mark_settled_many(tx, &paying_ids, now).await? != paying_ids.len() as u64 {
        return Ok(None);
    }
    let notes: Vec<notify::Note> =
        paying.iter().filter_map(|p| rows.get(&p.challenge_id).map(|row| result_note(row, p))).collect();
    notify::record_many(tx, notify::Kind::SettlementResult, super::RESULT_TITLE, &notes, now).await?;

    // The rest of each escrow to the reserve; it must be exactly the failed stakes less the prizes.
    let totals: HashMap<Uuid, (i64, i64, i64, i64)> = sql::settlement_totals_of_many(tx, &active_ids)
        .await?
        .into_iter()
        .map(|(id, n, winners, pool, prizes)| (id, (n, winners, pool, prizes)))
        .collect();
    let escrows: Vec<String> = active.iter().map(|r| AccountId::escrow_challenge(r.id).as_str().to_owned()).collect();
    let mut sorted: Vec<&str> = escrows.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let balances: HashMap<String, i64> =
        crate::store::ledger::lock_accounts(tx, &sorted).await?.into_iter().map(|a| (a.id, a.balance)).collect();
    let mut forfeits = Vec::new();
    for (row, escrow) in active.iter().zip(&escrows) {
        let (_, _, pool, prizes) = totals.get(&row.id).copied().unwrap_or_default();
        let to_reserve = pool - prizes;
        if balances.get(escrow).copied().unwrap_or(0) != to_reserve {
            // The per-challenge path stops this one for an operator and goes on with the others.
            return Ok(None);
        }
        if to_reserve > 0 {
            forfeits.push(SystemTransfer {
                key: format!("unclaimed:{}", row.id),
                kind: TransferKind::Forfeit,
                from: AccountId::escrow_challenge(row.id),
                to: AccountId::platform_reserve(),
                amount: to_reserve,
                reference: row.id.to_string(),
            });
        }
    }
    if batch::transfers_between_system(tx, &forfeits, now).await? == BatchOutcome::NeedsOneByOne {
        return Ok(None);
    }
    if sql::end_many(tx, &active_ids, now).await? != active_ids.len() as u64 {
        return Ok(None);
    }

    // Every run closed, every lease released.
    let mut closing = Vec::with_capacity(ids.len());
    for (&i, id) in mine.iter().zip(&ids) {
        let run = runs.get(id).copied().ok_or_else(|| ApiError::internal(&"settlement run not recorded"))?;
        let settled = paid.get(id).copied();
        let winners = settled.map(|_| totals.get(id).map_or(0, |t| t.1));
        let n = settled.unwrap_or(0);
        closing.push((run, n as i64, winners));
        if let (Some(_), Some((participants, winners, _, _))) = (settled, totals.get(id)) {
            tracing::info!(challenge = %id, winners, participants, "challenge settled");
        }
        done.push(Done { index: i, progress: Progress::Finished, paid: n, cost: n.max(1) });
    }
    sql::finish_runs(tx, &closing, now).await?;
    let names: Vec<String> = ids.iter().map(|id| lease_name(*id)).collect();
    sql::release_leases(tx, &names, holder).await?;
    Ok(Some(done))
}

/// Rows grouped by challenge, each group in the order read.
fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}
