//! The points ledger: double-entry transfers between accounts, immutable entries, FIFO lots.
//!
//! Every feature that moves points (payments, challenges, the shop) calls these functions inside its own database
//! transaction, so the money moves in the same commit as the change that causes it — or not at all.
//!
//! - Each transfer has a caller-chosen unique `key` (`charge:<orderId>`, `stake:<challenge>:<user>`…). Applying a
//!   key again returns the first transfer ([`Applied::replayed`]); the same key for a different movement is refused.
//! - Accounts touched by a transfer are locked in ascending id order (PostgreSQL row locks; SQLite's write lock is
//!   already held), then the key is checked, so concurrent attempts serialise and the second one sees the first.
//! - Wallets never go below zero: the balance update is conditional and a CHECK constraint backs it up.
//! - Credits to a wallet create a lot (CHARGE with its payment, or REWARD); spends consume lots oldest first and
//!   record which; [`reverse_spend`] restores exactly the lots a spend consumed, so a returned stake is as
//!   cash-refundable as before.

pub mod batch;
pub mod check;
pub mod fifo;
pub mod spends;

use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::payments::MAX_WALLET_BALANCE;
use nene_shared::{Points, UserId};
use uuid::Uuid;

use crate::store::ledger::{self as sql, NewLot, TransferRow};
use crate::store::{StoreError, Tx};

/// A ledger account's id. Wallets belong to users; the others are the platform's own.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Money that came in by card (goes negative as points are charged: it is the outside world's side).
    pub fn payments_toss() -> Self {
        AccountId("payments:toss".into())
    }

    /// Forfeits with no winner; funds bonuses.
    pub fn platform_reserve() -> Self {
        AccountId("platform:reserve".into())
    }

    pub fn shop_revenue() -> Self {
        AccountId("shop:revenue".into())
    }

    pub fn wallet(user: UserId) -> Self {
        AccountId(format!("wallet:{user}"))
    }

    /// Stakes held for one challenge until it settles.
    pub fn escrow_challenge(challenge: Uuid) -> Self {
        AccountId(format!("escrow:challenge:{challenge}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wallet(&self) -> bool {
        self.0.starts_with("wallet:")
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("not enough points: {available} available, {needed} needed")]
    InsufficientPoints { available: Points, needed: Points },
    #[error("the wallet would hold more than {max}")]
    WalletLimit { max: Points },
    #[error("transfer key {0} was already used for a different movement")]
    KeyConflict(String),
    #[error("amounts must be positive")]
    InvalidAmount,
    #[error("no such transfer: {0}")]
    TransferNotFound(String),
    #[error("transfer {0} is not a spend from a wallet and cannot be reversed")]
    NotReversible(String),
    #[error("transfer {0} was already reversed")]
    AlreadyReversed(String),
    #[error("lot {0} cannot be paid back as cash")]
    LotNotRefundable(i64),
    #[error("only {remaining} of the lot is unspent")]
    RefundExceedsUnspent { remaining: Points },
    #[error("no such account: {0}")]
    NoAccount(String),
    #[error("account {0} changed while it was locked")]
    ChangedUnderLock(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LedgerError {
    fn from(e: sqlx::Error) -> Self {
        LedgerError::Store(StoreError::Db(e))
    }
}

pub type LedgerResult<T> = Result<T, LedgerError>;

/// A transfer that now exists in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    pub transfer_id: Uuid,
    /// True when the key had already been applied and nothing moved this time.
    pub replayed: bool,
}

/// Opens a user's wallet (at sign-up).
pub async fn open_wallet(tx: &mut Tx, user: UserId, now_ms: i64) -> LedgerResult<()> {
    sql::ensure_account(tx, AccountId::wallet(user).as_str(), "WALLET", Some(user.as_uuid()), now_ms).await?;
    Ok(())
}

/// Opens a platform-side account such as a challenge's escrow.
pub async fn open_system_account(tx: &mut Tx, account: &AccountId, now_ms: i64) -> LedgerResult<()> {
    sql::ensure_account(tx, account.as_str(), "SYSTEM", None, now_ms).await?;
    Ok(())
}

/// What a transfer is, before it is applied.
struct Movement<'a> {
    key: &'a str,
    kind: TransferKind,
    from: &'a AccountId,
    to: &'a AccountId,
    amount: Points,
    reference: &'a str,
    reverses: Option<Uuid>,
    now_ms: i64,
}

/// Locks both accounts (ascending id order) and looks the key up. `Some` when this exact movement was already
/// applied; an error when the key belongs to another movement.
async fn lock_and_check_key(tx: &mut Tx, m: &Movement<'_>) -> LedgerResult<Option<Applied>> {
    if m.amount.get() <= 0 {
        return Err(LedgerError::InvalidAmount);
    }
    let (first, second) = if m.from <= m.to { (m.from, m.to) } else { (m.to, m.from) };
    for account in [first, second] {
        if sql::lock_account(tx, account.as_str()).await?.is_none() {
            return Err(LedgerError::NoAccount(account.to_string()));
        }
    }
    match sql::transfer_by_key(tx, m.key).await? {
        None => Ok(None),
        Some(t)
            if t.kind == m.kind.as_str()
                && t.from_account == m.from.as_str()
                && t.to_account == m.to.as_str()
                && t.amount == m.amount.get() =>
        {
            Ok(Some(Applied { transfer_id: t.id, replayed: true }))
        }
        Some(_) => Err(LedgerError::KeyConflict(m.key.to_owned())),
    }
}

/// Writes the transfer and its two entries. The accounts must be locked and the key checked.
async fn post(tx: &mut Tx, m: &Movement<'_>) -> LedgerResult<Uuid> {
    let id = Uuid::now_v7();
    sql::insert_transfer(
        tx,
        &TransferRow {
            id,
            key: m.key.to_owned(),
            kind: m.kind.as_str().to_owned(),
            from_account: m.from.as_str().to_owned(),
            to_account: m.to.as_str().to_owned(),
            amount: m.amount.get(),
            reference: m.reference.to_owned(),
            reverses: m.reverses,
            created_at: m.now_ms,
        },
    )
    .await?;
    let amount = m.amount.get();
    if sql::apply_entry(tx, m.from.as_str(), -amount, id, m.now_ms).await?.is_none() {
        let available = sql::account(tx, m.from.as_str()).await?.map(|a| a.balance).unwrap_or(0);
        return Err(LedgerError::InsufficientPoints { available: Points::new(available), needed: m.amount });
    }
    if sql::apply_entry(tx, m.to.as_str(), amount, id, m.now_ms).await?.is_none() {
        return Err(LedgerError::NoAccount(m.to.to_string()));
    }
    Ok(id)
}

/// Credits a wallet from a platform account as a new lot.
#[allow(clippy::too_many_arguments)]
pub async fn credit_lot(
    tx: &mut Tx,
    key: &str,
    kind: TransferKind,
    from: &AccountId,
    to_user: UserId,
    amount: Points,
    source: LotSource,
    payment_order_id: Option<&str>,
    reference: &str,
    now_ms: i64,
) -> LedgerResult<Applied> {
    let to = AccountId::wallet(to_user);
    let m = Movement { key, kind, from, to: &to, amount, reference, reverses: None, now_ms };
    if let Some(done) = lock_and_check_key(tx, &m).await? {
        return Ok(done);
    }
    if kind == TransferKind::Charge {
        let balance = sql::account(tx, to.as_str()).await?.map(|a| a.balance).unwrap_or(0);
        if balance.saturating_add(amount.get()) > MAX_WALLET_BALANCE.get() {
            return Err(LedgerError::WalletLimit { max: MAX_WALLET_BALANCE });
        }
    }
    let transfer_id = post(tx, &m).await?;
    let lot = sql::insert_lot(
        tx,
        &NewLot {
            account_id: to.as_str(),
            source: source.as_str(),
            payment_order_id,
            transfer_id,
            amount: amount.get(),
            now_ms,
        },
    )
    .await?;
    sql::record_lot_move(tx, lot, amount.get(), transfer_id).await?;
    Ok(Applied { transfer_id, replayed: false })
}

/// Spends from a wallet, consuming its oldest lots first.
#[allow(clippy::too_many_arguments)]
pub async fn spend_fifo(
    tx: &mut Tx,
    key: &str,
    kind: TransferKind,
    from_user: UserId,
    to: &AccountId,
    amount: Points,
    reference: &str,
    now_ms: i64,
) -> LedgerResult<Applied> {
    let from = AccountId::wallet(from_user);
    let m = Movement { key, kind, from: &from, to, amount, reference, reverses: None, now_ms };
    if let Some(done) = lock_and_check_key(tx, &m).await? {
        return Ok(done);
    }
    let lots: Vec<fifo::OpenLot> = sql::open_lots(tx, from.as_str())
        .await?
        .into_iter()
        .map(|(id, remaining)| fifo::OpenLot { id, remaining: Points::new(remaining) })
        .collect();
    let taken = fifo::allocate(&lots, amount)
        .map_err(|short| LedgerError::InsufficientPoints { available: short.available, needed: amount })?;
    let transfer_id = post(tx, &m).await?;
    for (lot, take) in taken {
        if !sql::move_lot(tx, lot, -take.get(), transfer_id).await? {
            // The lot changed under us, which the account lock rules out; refuse rather than guess.
            return Err(LedgerError::InsufficientPoints { available: Points::ZERO, needed: amount });
        }
    }
    Ok(Applied { transfer_id, replayed: false })
}

/// Gives a wallet spend back in full: the points return to the very lots the spend consumed.
pub async fn reverse_spend(
    tx: &mut Tx,
    key: &str,
    kind: TransferKind,
    spend_key: &str,
    reference: &str,
    now_ms: i64,
) -> LedgerResult<Applied> {
    let original =
        sql::transfer_by_key(tx, spend_key).await?.ok_or_else(|| LedgerError::TransferNotFound(spend_key.into()))?;
    if !original.from_account.starts_with("wallet:") || original.reverses.is_some() {
        return Err(LedgerError::NotReversible(spend_key.into()));
    }
    let from = AccountId(original.to_account.clone());
    let to = AccountId(original.from_account.clone());
    let m = Movement {
        key,
        kind,
        from: &from,
        to: &to,
        amount: Points::new(original.amount),
        reference,
        reverses: Some(original.id),
        now_ms,
    };
    if let Some(done) = lock_and_check_key(tx, &m).await? {
        return Ok(done);
    }
    if sql::transfer_reversing(tx, original.id).await?.is_some() {
        return Err(LedgerError::AlreadyReversed(spend_key.into()));
    }
    let consumed = sql::lot_moves_of(tx, original.id).await?;
    let transfer_id = post(tx, &m).await?;
    for (lot, delta) in consumed {
        if !sql::move_lot(tx, lot, -delta, transfer_id).await? {
            return Err(LedgerError::NotReversible(spend_key.into()));
        }
    }
    Ok(Applied { transfer_id, replayed: false })
}

/// Pays part of a CHARGE lot back to the card: the points leave the wallet for `payments:toss`, taken from that
/// lot only. Reward lots are never cash.
pub async fn refund_lot(
    tx: &mut Tx,
    key: &str,
    user: UserId,
    lot_id: i64,
    amount: Points,
    reference: &str,
    now_ms: i64,
) -> LedgerResult<Applied> {
    let from = AccountId::wallet(user);
    let to = AccountId::payments_toss();
    let m = Movement {
        key,
        kind: TransferKind::CashRefund,
        from: &from,
        to: &to,
        amount,
        reference,
        reverses: None,
        now_ms,
    };
    if let Some(done) = lock_and_check_key(tx, &m).await? {
        return Ok(done);
    }
    let lot = sql::lot(tx, lot_id).await?.ok_or(LedgerError::LotNotRefundable(lot_id))?;
    if lot.account_id != from.as_str() || lot.source != LotSource::Charge.as_str() {
        return Err(LedgerError::LotNotRefundable(lot_id));
    }
    if lot.remaining < amount.get() {
        return Err(LedgerError::RefundExceedsUnspent { remaining: Points::new(lot.remaining) });
    }
    let transfer_id = post(tx, &m).await?;
    if !sql::move_lot(tx, lot_id, -amount.get(), transfer_id).await? {
        return Err(LedgerError::RefundExceedsUnspent { remaining: Points::new(lot.remaining) });
    }
    Ok(Applied { transfer_id, replayed: false })
}

/// Moves points between two platform accounts (escrow → reserve, …); no lots are involved.
#[allow(clippy::too_many_arguments)]
pub async fn transfer_between_system(
    tx: &mut Tx,
    key: &str,
    kind: TransferKind,
    from: &AccountId,
    to: &AccountId,
    amount: Points,
    reference: &str,
    now_ms: i64,
) -> LedgerResult<Applied> {
    if from.is_wallet() || to.is_wallet() {
        return Err(LedgerError::NotReversible(key.into()));
    }
    let m = Movement { key, kind, from, to, amount, reference, reverses: None, now_ms };
    if let Some(done) = lock_and_check_key(tx, &m).await? {
        return Ok(done);
    }
    let transfer_id = post(tx, &m).await?;
    Ok(Applied { transfer_id, replayed: false })
}
