//! A batch of joins decided together: the batch's challenges, its people's participations and their wallets are
//! read once, every join is decided in memory in arrival order (already in, no such challenge, not recruiting,
//! full, not enough points), and the accepted ones are written with one statement per kind of row: seats,
//! participations, the stakes' transfers, entries, balances, lots and lot moves, and the confirmations.
//!
//! The decisions are the ones [`super::super::take_part`] makes join after join, and the rows the same: the
//! challenges are locked first and the accounts next (ascending ids, the order every writer follows), so what was
//! read cannot change before the commit. Anything unexpected (a key already used, a count that does not match) is an
//! error or `None`, and the caller then undoes this attempt and goes through the joins one at a time.

use std::collections::{BTreeSet, HashMap, HashSet};

use nene_shared::challenges::ChallengeStatus;
use nene_shared::ledger::TransferKind;
use nene_shared::{ErrorCode, Points, UserId};
use uuid::Uuid;

use super::super::{JOIN_TITLE, already_joined, challenge_full, join_note, not_found, stake_key, status_of};
use crate::error::{ApiError, ApiResult};
use crate::ledger::AccountId;
use crate::ledger::batch::BatchOutcome;
use crate::ledger::spends::Spends;
use crate::notify;
use crate::store::challenges::{ChallengeRow, NewParticipation};
use crate::store::{self, Tx};

/// One join asked for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ask {
    pub challenge: Uuid,
    pub user: UserId,
}

/// Decides and writes the joins. `Ok(None)` when the batch cannot be taken together (the caller rolls back to
/// before the call and goes one by one); otherwise each join's outcome, in order.
pub(super) async fn join(tx: &mut Tx, asks: &[Ask], now: i64) -> ApiResult<Option<Vec<ApiResult<Uuid>>>> {
    let ids: Vec<Uuid> = asks.iter().map(|a| a.challenge).collect::<BTreeSet<_>>().into_iter().collect();
    let pairs: Vec<(Uuid, Uuid)> =
        asks.iter().map(|a| (a.challenge, a.user.as_uuid())).collect::<BTreeSet<_>>().into_iter().collect();
    // On PostgreSQL a row lock is a write, paid for with a flush at commit. A batch of refusals only (the challenge
    // is full, they are in already) needs none: it is answered from what was committed when it was read, as any
    // read is. Only when someone may get in are the challenges locked and read again, with the participations
    // read after the lock.
    let mut seen = Seen::read(tx, &ids, &pairs, !tx.is_postgres()).await?;
    if !seen.locked && asks.iter().any(|a| seen.hopeful(a)) {
        seen = Seen::read(tx, &ids, &pairs, true).await?;
    }

    // Only the wallets and escrows of those who may get in are locked.
    let users: Vec<UserId> = asks.iter().filter(|a| seen.hopeful(a)).map(|a| a.user).collect();
    let escrows: Vec<AccountId> = asks
        .iter()
        .filter(|a| seen.hopeful(a))
        .map(|a| a.challenge)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(AccountId::escrow_challenge)
        .collect();
    let Seen { rows, mut inside, mut seats, .. } = seen;
    let mut spends = if users.is_empty() { None } else { Some(Spends::lock(tx, &users, &escrows).await?) };

    let mut outcomes = Vec::with_capacity(asks.len());
    let mut taken: HashMap<Uuid, i64> = HashMap::new();
    let mut joined = Vec::new();
    let mut notes = Vec::new();
    for a in asks {
        let pair = (a.challenge, a.user.as_uuid());
        if inside.contains(&pair) {
            outcomes.push(Err(already_joined()));
            continue;
        }
        let Some(row) = rows.get(&a.challenge).filter(|r| r.deleted_at.is_none()) else {
            outcomes.push(Err(not_found()));
            continue;
        };
        let free = seats.get_mut(&a.challenge).filter(|n| **n > 0);
        let (Some(free), Some(spends)) = (free, spends.as_mut()) else {
            outcomes.push(Err(match status_of(row) {
                ChallengeStatus::Recruiting | ChallengeStatus::Ready => challenge_full(),
                _ => {
                    ApiError::conflict(ErrorCode::ChallengeNotRecruiting, "This challenge is not taking participants.")
                }
            }));
            continue;
        };
        let participation = Uuid::now_v7();
        let escrow = AccountId::escrow_challenge(a.challenge);
        let stake = Points::new(row.stake);
        let spent = spends.spend(
            &stake_key(participation),
            TransferKind::Stake,
            a.user,
            &escrow,
            stake,
            &a.challenge.to_string(),
            now,
        );
        if let Err(e) = spent {
            outcomes.push(Err(e.into()));
            continue;
        }
        *free -= 1;
        *taken.entry(a.challenge).or_default() += 1;
        inside.insert(pair);
        joined.push(NewParticipation {
            id: participation,
            challenge: a.challenge,
            user: a.user.as_uuid(),
            stake: row.stake,
        });
        notes.push(join_note(row, a.user));
        outcomes.push(Ok(a.challenge));
    }

    if joined.is_empty() {
        return Ok(Some(outcomes));
    }
    let taken: Vec<(Uuid, i64)> = taken.into_iter().collect();
    if store::challenges::take_seats(tx, &taken, now).await? != taken.len() as u64 {
        return Ok(None);
    }
    store::challenges::insert_participations(tx, &joined, now).await?;
    let Some(spends) = spends else { return Ok(None) };
    if spends.write(tx).await? == BatchOutcome::NeedsOneByOne {
        return Ok(None);
    }
    notify::record_many(tx, notify::Kind::JoinConfirmed, JOIN_TITLE, &notes, now).await?;
    Ok(Some(outcomes))
}

/// The batch's challenges and who of its people is in them already.
struct Seen {
    rows: HashMap<Uuid, ChallengeRow>,
    inside: HashSet<(Uuid, Uuid)>,
    /// Free seats of the challenges a join can still land in.
    seats: HashMap<Uuid, i64>,
    locked: bool,
}

impl Seen {
    async fn read(tx: &mut Tx, ids: &[Uuid], pairs: &[(Uuid, Uuid)], lock: bool) -> ApiResult<Seen> {
        let rows = if lock {
            store::challenges::lock_many(tx, ids).await?
        } else {
            store::challenges::get_many(tx, ids).await?
        };
        let rows: HashMap<Uuid, ChallengeRow> = rows.into_iter().map(|r| (r.id, r)).collect();
        let inside = store::challenges::active_pairs(tx, pairs).await?.into_iter().collect();
        let seats = rows
            .values()
            .filter(|r| r.deleted_at.is_none() && status_of(r) == ChallengeStatus::Recruiting)
            .map(|r| (r.id, (r.capacity - r.participant_count).max(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Ok(Seen { rows, inside, seats, locked: lock })
    }

    /// Whether this join may get in (a seat is free and the person is not in yet).
    fn hopeful(&self, a: &Ask) -> bool {
        self.seats.contains_key(&a.challenge) && !self.inside.contains(&(a.challenge, a.user.as_uuid()))
    }
}
