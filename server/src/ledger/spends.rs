//! Many wallet spends decided in memory and written together: what a batch of joins needs, where every join
//! stakes points from its own wallet into its challenge's escrow.
//!
//! [`Spends::lock`] locks every account the batch may touch (ascending id order, as every transfer locks) and reads
//! the wallets' open lots once. [`Spends::spend`] then decides one spend at a time, in the caller's order, against
//! the balances and lots the earlier spends of the batch left, so a refusal (not enough points) is known before
//! anything is written and costs nothing. [`Spends::write`] writes the rows [`super::spend_fifo`] would have written
//! for each, called in the same order: transfers, entries numbered per account with running balances, each account's
//! balance once, each lot once and every lot move.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use nene_shared::ledger::TransferKind;
use nene_shared::{Points, UserId};
use uuid::Uuid;

use super::batch::{BatchOutcome, Running, lock, post, write_postings};
use super::fifo::{self, OpenLot};
use super::{AccountId, LedgerError, LedgerResult};
use crate::store::Tx;
use crate::store::ledger::{self as sql, NewEntry, TransferRow};

/// Spends planned under the accounts' locks, not yet written.
pub struct Spends {
    accounts: HashMap<String, Running>,
    /// Each wallet's open lots, oldest first, as the spends planned so far leave them.
    lots: HashMap<String, Vec<OpenLot>>,
    transfers: Vec<TransferRow>,
    entries: Vec<NewEntry>,
    /// Each lot's change over the whole batch (a lot is updated once).
    lot_deltas: BTreeMap<i64, i64>,
    /// (transfer, lot, delta) in the order one-by-one spends would record them.
    moves: Vec<(Uuid, i64, i64)>,
}

impl Spends {
    /// Locks the wallets of `users` and the accounts of `to`, and reads the wallets' open lots. Every account must
    /// exist.
    pub async fn lock(tx: &mut Tx, users: &[UserId], to: &[AccountId]) -> LedgerResult<Self> {
        let wallets: BTreeSet<String> = users.iter().map(|u| AccountId::wallet(*u).as_str().to_owned()).collect();
        let mut ids = wallets.clone();
        ids.extend(to.iter().map(|a| a.as_str().to_owned()));
        let accounts = lock(tx, &ids).await?;
        let wallets: Vec<String> = wallets.into_iter().collect();
        let mut lots: HashMap<String, Vec<OpenLot>> = HashMap::with_capacity(wallets.len());
        for (account, id, remaining) in sql::open_lots_of_many(tx, &wallets).await? {
            lots.entry(account).or_default().push(OpenLot { id, remaining: Points::new(remaining) });
        }
        Ok(Spends {
            accounts,
            lots,
            transfers: Vec::new(),
            entries: Vec::new(),
            lot_deltas: BTreeMap::new(),
            moves: Vec::new(),
        })
    }

    /// Plans a spend from `from_user`'s wallet to `to` (locked by [`Spends::lock`]), oldest lots first. On an
    /// error nothing is planned and the batch goes on without it.
    #[allow(clippy::too_many_arguments)]
    pub fn spend(
        &mut self,
        key: &str,
        kind: TransferKind,
        from_user: UserId,
        to: &AccountId,
        amount: Points,
        reference: &str,
        now_ms: i64,
    ) -> LedgerResult<Uuid> {
        if amount.get() <= 0 {
            return Err(LedgerError::InvalidAmount);
        }
        let from = AccountId::wallet(from_user);
        for account in [&from, to] {
            if !self.accounts.contains_key(account.as_str()) {
                return Err(LedgerError::NoAccount(account.to_string()));
            }
        }
        let lots = self.lots.entry(from.as_str().to_owned()).or_default();
        let taken = fifo::allocate(lots, amount)
            .map_err(|short| LedgerError::InsufficientPoints { available: short.available, needed: amount })?;
        let id = Uuid::now_v7();
        // Checks the balance itself (a wallet never below zero) before it changes anything.
        post(&mut self.accounts, &mut self.entries, from.as_str(), to.as_str(), amount.get(), id, now_ms)?;
        for (lot, take) in &taken {
            if let Some(open) = lots.iter_mut().find(|l| l.id == *lot) {
                open.remaining = Points::new(open.remaining.get() - take.get());
            }
            *self.lot_deltas.entry(*lot).or_default() -= take.get();
            self.moves.push((id, *lot, -take.get()));
        }
        lots.retain(|l| l.remaining.get() > 0);
        self.transfers.push(TransferRow {
            id,
            key: key.to_owned(),
            kind: kind.as_str().to_owned(),
            from_account: from.as_str().to_owned(),
            to_account: to.as_str().to_owned(),
            amount: amount.get(),
            reference: reference.to_owned(),
            reverses: None,
            created_at: now_ms,
        });
        Ok(id)
    }

    /// Writes every planned spend, or nothing when one of their keys already names a transfer
    /// ([`BatchOutcome::NeedsOneByOne`]: the general API replays or refuses it).
    pub async fn write(self, tx: &mut Tx) -> LedgerResult<BatchOutcome> {
        if self.transfers.is_empty() {
            return Ok(BatchOutcome::Applied);
        }
        let keys: Vec<String> = self.transfers.iter().map(|t| t.key.clone()).collect();
        if !sql::transfers_taken(tx, &keys, &[]).await?.is_empty() {
            return Ok(BatchOutcome::NeedsOneByOne);
        }
        write_postings(tx, &self.transfers, &self.entries, &self.accounts).await?;
        let deltas: Vec<(i64, i64)> = self.lot_deltas.into_iter().collect();
        if sql::move_lots(tx, &deltas).await? != deltas.len() as u64 {
            return Err(LedgerError::ChangedUnderLock(keys[0].clone()));
        }
        sql::record_lot_moves(tx, &self.moves).await?;
        Ok(BatchOutcome::Applied)
    }
}
