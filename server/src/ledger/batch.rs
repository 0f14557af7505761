//! Many stake returns and prize credits, and many transfers between platform accounts, written with one statement
//! per kind of row.
//!
//! Settling a challenge gives every winner their stake back (a reversal restoring the very lots the stake took) and
//! a prize share (a REWARD lot), then sends the rest of the escrow to the reserve. Through the general API that is about a dozen statements per winner; here the same
//! rows are worked out in memory under the accounts' locks and written together: transfers, entries (numbered per
//! account and with running balances exactly as one-by-one posting would number them), each account's balance once,
//! the restored lots, the new reward lots and every lot move. The rows are the ones [`super::reverse_spend`] and
//! [`super::credit_lot`] would write, called in the order given.
//!
//! The batch only takes the clean case: no key of the batch may exist yet and no stake may have been reversed.
//! Otherwise nothing is written and the caller goes through the general API, which knows how to replay a key, refuse
//! a conflicting one or a second reversal.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nene_shared::UserId;
use nene_shared::ledger::{LotSource, TransferKind};
use uuid::Uuid;

use super::{AccountId, LedgerError, LedgerResult};
use crate::store::Tx;
use crate::store::ledger::{self as sql, BalanceChange, NewEntry, NewLot, TransferRow};

/// One winner: the stake (a wallet spend into `from`) to give back, and a prize from `from` on top.
#[derive(Clone, Debug)]
pub struct StakeReturn {
    /// The account holding the stake (the challenge's escrow), which also pays the prize.
    pub from: AccountId,
    /// The transfers' reference (the challenge).
    pub reference: String,
    /// The reversal's transfer key.
    pub key: String,
    /// The key of the stake transfer to reverse.
    pub stake_key: String,
    /// The prize transfer's key (unused when `prize` is 0).
    pub prize_key: String,
    /// Whose wallet the prize goes to.
    pub user: UserId,
    pub prize: i64,
}

/// What [`return_stakes_with_prizes`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Every return and prize was written.
    Applied,
    /// Nothing was written: some key already exists, a stake was already reversed, or a stake did not go into
    /// its `from`. The general API must handle these one by one.
    NeedsOneByOne,
}

/// For each entry of `returns`, in order: reverses its stake (kind STAKE_REFUND, the stake's lots restored) and,
/// when the prize is positive, credits the prize as a REWARD lot (kind PAYOUT) from its `from`. Same rows as
/// `reverse_spend` followed by `credit_lot` for each, or nothing at all (see [`BatchOutcome`]).
pub async fn return_stakes_with_prizes(
    tx: &mut Tx,
    returns: &[StakeReturn],
    now_ms: i64,
) -> LedgerResult<BatchOutcome> {
    if returns.is_empty() {
        return Ok(BatchOutcome::Applied);
    }
    if returns.iter().any(|r| r.prize < 0) {
        return Err(LedgerError::InvalidAmount);
    }

    // The stakes are immutable rows, so they can be read before the locks.
    let stake_keys: Vec<String> = returns.iter().map(|r| r.stake_key.clone()).collect();
    let stakes: HashMap<String, TransferRow> =
        sql::transfers_by_keys(tx, &stake_keys).await?.into_iter().map(|t| (t.key.clone(), t)).collect();
    let mut originals = Vec::with_capacity(returns.len());
    for r in returns {
        let stake = stakes.get(&r.stake_key).ok_or_else(|| LedgerError::TransferNotFound(r.stake_key.clone()))?;
        if !stake.from_account.starts_with("wallet:") || stake.reverses.is_some() {
            return Err(LedgerError::NotReversible(r.stake_key.clone()));
        }
        if stake.to_account != r.from.as_str() {
            return Ok(BatchOutcome::NeedsOneByOne);
        }
        originals.push(stake);
    }

    // Lock every account (ascending id order), then look at the keys: as in the general API, a concurrent attempt
    // either committed before the lock (and is seen) or waits behind it.
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (r, stake) in returns.iter().zip(&originals) {
        ids.insert(r.from.as_str().to_owned());
        ids.insert(stake.from_account.clone());
        if r.prize > 0 {
            ids.insert(AccountId::wallet(r.user).as_str().to_owned());
        }
    }
    let mut accounts = lock(tx, &ids).await?;

    let mut new_keys = Vec::with_capacity(returns.len() * 2);
    for r in returns {
        new_keys.push(r.key.clone());
        if r.prize > 0 {
            new_keys.push(r.prize_key.clone());
        }
    }
    let original_ids: Vec<Uuid> = originals.iter().map(|t| t.id).collect();
    if !sql::transfers_taken(tx, &new_keys, &original_ids).await?.is_empty() {
        return Ok(BatchOutcome::NeedsOneByOne);
    }
    let mut consumed: HashMap<Uuid, Vec<(i64, i64)>> = HashMap::new();
    for (transfer, lot, delta) in sql::lot_moves_of_many(tx, &original_ids).await? {
        consumed.entry(transfer).or_default().push((lot, delta));
    }

    // Work out every row in the order one-by-one posting would write them.
    let mut transfers = Vec::with_capacity(new_keys.len());
    let mut entries = Vec::with_capacity(new_keys.len() * 2);
    let mut restored: BTreeMap<i64, i64> = BTreeMap::new();
    let mut moves: Vec<Move> = Vec::new();
    let mut new_lots: Vec<(String, Uuid, i64)> = Vec::new();
    for (r, stake) in returns.iter().zip(&originals) {
        let wallet = stake.from_account.clone();
        let id = Uuid::now_v7();
        let from = &r.from;
        transfers.push(TransferRow {
            id,
            key: r.key.clone(),
            kind: TransferKind::StakeRefund.as_str().to_owned(),
            from_account: from.as_str().to_owned(),
            to_account: wallet.clone(),
            amount: stake.amount,
            reference: r.reference.clone(),
            reverses: Some(stake.id),
            created_at: now_ms,
        });
        post(&mut accounts, &mut entries, from.as_str(), &wallet, stake.amount, id, now_ms)?;
        for (lot, delta) in consumed.get(&stake.id).map(Vec::as_slice).unwrap_or_default() {
            // A spend's moves take points out of lots (negative). Anything else is not a plain spend: leave it to
            // the general API rather than restore it in aggregate.
            if *delta >= 0 {
                return Ok(BatchOutcome::NeedsOneByOne);
            }
            *restored.entry(*lot).or_default() -= delta;
            moves.push(Move::Existing { transfer: id, lot: *lot, delta: -delta });
        }
        if r.prize > 0 {
            let to = AccountId::wallet(r.user);
            let id = Uuid::now_v7();
            transfers.push(TransferRow {
                id,
                key: r.prize_key.clone(),
                kind: TransferKind::Payout.as_str().to_owned(),
                from_account: from.as_str().to_owned(),
                to_account: to.as_str().to_owned(),
                amount: r.prize,
                reference: r.reference.clone(),
                reverses: None,
                created_at: now_ms,
            });
            post(&mut accounts, &mut entries, from.as_str(), to.as_str(), r.prize, id, now_ms)?;
            new_lots.push((to.as_str().to_owned(), id, r.prize));
            moves.push(Move::NewLot { transfer: id, amount: r.prize });
        }
    }

    // Write them: one statement per kind of row (more only past the engines' parameter limits).
    write_postings(tx, &transfers, &entries, &accounts).await?;
    let restored: Vec<(i64, i64)> = restored.into_iter().collect();
    if sql::move_lots(tx, &restored).await? != restored.len() as u64 {
        return Err(LedgerError::NotReversible(returns[0].stake_key.clone()));
    }
    let lots: Vec<NewLot<'_>> = new_lots
        .iter()
        .map(|(account, transfer, amount)| NewLot {
            account_id: account,
            source: LotSource::Reward.as_str(),
            payment_order_id: None,
            transfer_id: *transfer,
            amount: *amount,
            now_ms,
        })
        .collect();
    let lot_ids: HashMap<Uuid, i64> = sql::insert_lots(tx, &lots).await?.into_iter().collect();
    let mut rows = Vec::with_capacity(moves.len());
    for m in moves {
        rows.push(match m {
            Move::Existing { transfer, lot, delta } => (transfer, lot, delta),
            Move::NewLot { transfer, amount } => {
                let lot = lot_ids.get(&transfer).ok_or_else(|| LedgerError::ChangedUnderLock(transfer.to_string()))?;
                (transfer, *lot, amount)
            }
        });
    }
    sql::record_lot_moves(tx, &rows).await?;
    Ok(BatchOutcome::Applied)
}

/// One movement between platform accounts (escrow → reserve, …), as [`super::transfer_between_system`] makes it.
#[derive(Clone, Debug)]
pub struct SystemTransfer {
    pub key: String,
    pub kind: TransferKind,
    pub from: AccountId,
    pub to: AccountId,
    pub amount: i64,
    pub reference: String,
}

/// Applies every transfer, in order, with the rows `transfer_between_system` would write for each; or nothing at
/// all when a key already exists ([`BatchOutcome::NeedsOneByOne`]: the general API replays or refuses it).
pub async fn transfers_between_system(
    tx: &mut Tx,
    items: &[SystemTransfer],
    now_ms: i64,
) -> LedgerResult<BatchOutcome> {
    if items.is_empty() {
        return Ok(BatchOutcome::Applied);
    }
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for t in items {
        if t.amount <= 0 {
            return Err(LedgerError::InvalidAmount);
        }
        if t.from.is_wallet() || t.to.is_wallet() {
            return Err(LedgerError::NotReversible(t.key.clone()));
        }
        ids.insert(t.from.as_str().to_owned());
        ids.insert(t.to.as_str().to_owned());
    }
    let mut accounts = lock(tx, &ids).await?;
    let keys: Vec<String> = items.iter().map(|t| t.key.clone()).collect();
    if !sql::transfers_taken(tx, &keys, &[]).await?.is_empty() {
        return Ok(BatchOutcome::NeedsOneByOne);
    }
    let mut transfers = Vec::with_capacity(items.len());
    let mut entries = Vec::with_capacity(items.len() * 2);
    for t in items {
        let id = Uuid::now_v7();
        transfers.push(TransferRow {
            id,
            key: t.key.clone(),
            kind: t.kind.as_str().to_owned(),
            from_account: t.from.as_str().to_owned(),
            to_account: t.to.as_str().to_owned(),
            amount: t.amount,
            reference: t.reference.clone(),
            reverses: None,
            created_at: now_ms,
        });
        post(&mut accounts, &mut entries, t.from.as_str(), t.to.as_str(), t.amount, id, now_ms)?;
    }
    write_postings(tx, &transfers, &entries, &accounts).await?;
    Ok(BatchOutcome::Applied)
}

/// Locks the accounts (ascending id order, as every transfer locks) and returns their state; every one must exist.
pub(super) async fn lock(tx: &mut Tx, ids: &BTreeSet<String>) -> LedgerResult<HashMap<String, Running>> {
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let locked = sql::lock_accounts(tx, &id_refs).await?;
    let accounts: HashMap<String, Running> = locked
        .into_iter()
        .map(|a| {
            let running = Running {
                wallet: a.kind == "WALLET",
                balance_before: a.balance,
                count_before: a.entry_count,
                balance: a.balance,
                count: a.entry_count,
            };
            (a.id, running)
        })
        .collect();
    if let Some(missing) = ids.iter().find(|id| !accounts.contains_key(*id)) {
        return Err(LedgerError::NoAccount(missing.clone()));
    }
    Ok(accounts)
}

/// Writes the transfers, their entries and each changed account's balance once.
pub(super) async fn write_postings(
    tx: &mut Tx,
    transfers: &[TransferRow],
    entries: &[NewEntry],
    accounts: &HashMap<String, Running>,
) -> LedgerResult<()> {
    sql::insert_transfers(tx, transfers).await?;
    sql::insert_entries(tx, entries).await?;
    let changes: Vec<BalanceChange> = accounts
        .iter()
        .filter(|(_, a)| a.count != a.count_before)
        .map(|(id, a)| BalanceChange {
            account_id: id.clone(),
            balance_before: a.balance_before,
            count_before: a.count_before,
            balance_after: a.balance,
            count_after: a.count,
        })
        .collect();
    if sql::set_balances(tx, &changes).await? != changes.len() as u64 {
        // The accounts are locked, so this means a row changed under the lock: refuse rather than guess.
        let first = changes.first().map(|c| c.account_id.clone()).unwrap_or_default();
        return Err(LedgerError::ChangedUnderLock(first));
    }
    Ok(())
}

/// An account's state while a batch is worked out.
pub(super) struct Running {
    wallet: bool,
    balance_before: i64,
    count_before: i64,
    balance: i64,
    count: i64,
}

enum Move {
    /// A lot that exists: restored by `delta`.
    Existing { transfer: Uuid, lot: i64, delta: i64 },
    /// The lot the transfer creates (its id is known once inserted).
    NewLot { transfer: Uuid, amount: i64 },
}

/// The two entries of one transfer, numbered after the account's last entry, as `apply_entry` numbers them.
pub(super) fn post(
    accounts: &mut HashMap<String, Running>,
    entries: &mut Vec<NewEntry>,
    from: &str,
    to: &str,
    amount: i64,
    transfer: Uuid,
    now_ms: i64,
) -> LedgerResult<()> {
    for (account, delta) in [(from, -amount), (to, amount)] {
        let a = accounts.get_mut(account).ok_or_else(|| LedgerError::NoAccount(account.to_owned()))?;
        if a.wallet && a.balance + delta < 0 {
            return Err(LedgerError::InsufficientPoints {
                available: nene_shared::Points::new(a.balance),
                needed: nene_shared::Points::new(amount),
            });
        }
        a.balance += delta;
        a.count += 1;
        entries.push(NewEntry {
            account_id: account.to_owned(),
            seq: a.count,
            transfer_id: transfer,
            amount: delta,
            balance_after: a.balance,
            created_at: now_ms,
        });
    }
    Ok(())
}
