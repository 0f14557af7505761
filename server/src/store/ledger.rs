//! The ledger's tables: accounts, transfers, entries, lots and lot moves. The rules live in `crate::ledger`; this
//! module only reads and writes rows.

use uuid::Uuid;

use super::bulk::{self, Col};
use super::{StoreResult, Tx, rows_for_ids};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub kind: String,
    pub balance: i64,
    pub entry_count: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TransferRow {
    pub id: Uuid,
    pub key: String,
    pub kind: String,
    pub from_account: String,
    pub to_account: String,
    pub amount: i64,
    pub reference: String,
    pub reverses: Option<Uuid>,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LotRow {
    pub id: i64,
    pub account_id: String,
    pub source: String,
    pub payment_order_id: Option<String>,
    pub original: i64,
    pub remaining: i64,
}

pub async fn ensure_account(tx: &mut Tx, id: &str, kind: &str, user_id: Option<Uuid>, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO ledger_accounts (id, kind, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING")
        .bind(id)
        .bind(kind)
        .bind(user_id)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Reads an account and, on PostgreSQL, locks its row until the transaction ends. (On SQLite the transaction
/// already holds the database's write lock.) Callers lock several accounts in ascending id order, so two
/// transactions can never wait on each other in a cycle.
pub async fn lock_account(tx: &mut Tx, id: &str) -> StoreResult<Option<AccountRow>> {
    let sql = if tx.is_postgres() {
        "SELECT id, kind, balance, entry_count FROM ledger_accounts WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT id, kind, balance, entry_count FROM ledger_accounts WHERE id = $1"
    };
    Ok(on_conn!(tx, c => sqlx::query_as::<_, AccountRow>(sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn account(tx: &mut Tx, id: &str) -> StoreResult<Option<AccountRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, AccountRow>(
            "SELECT id, kind, balance, entry_count FROM ledger_accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

const TRANSFER_COLUMNS: &str = "id, key, kind, from_account, to_account, amount, reference, reverses, created_at";

pub async fn transfer_by_key(tx: &mut Tx, key: &str) -> StoreResult<Option<TransferRow>> {
    let sql = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE key = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, TransferRow>(&sql).bind(key).fetch_optional(&mut *c).await?))
}

pub async fn transfer_reversing(tx: &mut Tx, original: Uuid) -> StoreResult<Option<TransferRow>> {
    let sql = format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE reverses = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, TransferRow>(&sql).bind(original).fetch_optional(&mut *c).await?))
}

pub async fn insert_transfer(tx: &mut Tx, t: &TransferRow) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO ledger_transfers (id, key, kind, from_account, to_account, amount, reference, reverses, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(t.id)
        .bind(&t.key)
        .bind(&t.kind)
        .bind(&t.from_account)
        .bind(&t.to_account)
        .bind(t.amount)
        .bind(&t.reference)
        .bind(t.reverses)
        .bind(t.created_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Adds `delta` to an account's balance and writes the entry with the next sequence number. A wallet is never
/// taken below zero: the update is conditional, and `None` means it would have been.
pub async fn apply_entry(
    tx: &mut Tx,
    account: &str,
    delta: i64,
    transfer_id: Uuid,
    now_ms: i64,
) -> StoreResult<Option<(i64, i64)>> {
    let updated: Option<(i64, i64)> = on_conn!(tx, c => sqlx::query_as(
            "UPDATE ledger_accounts SET balance = balance + $2, entry_count = entry_count + 1 \
             WHERE id = $1 AND (kind <> 'WALLET' OR balance + $2 >= 0) RETURNING balance, entry_count")
        .bind(account)
        .bind(delta)
        .fetch_optional(&mut *c)
        .await?);
    let Some((balance_after, seq)) = updated else { return Ok(None) };
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO ledger_entries (account_id, seq, transfer_id, amount, balance_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(account)
        .bind(seq)
        .bind(transfer_id)
        .bind(delta)
        .bind(balance_after)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(Some((balance_after, seq)))
}

/// A wallet's lots that still hold points, oldest first.
pub async fn open_lots(tx: &mut Tx, account: &str) -> StoreResult<Vec<(i64, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT id, remaining FROM ledger_lots WHERE account_id = $1 AND remaining > 0 ORDER BY id")
        .bind(account)
        .fetch_all(&mut *c)
        .await?))
}

/// [`open_lots`] of many accounts: (account, lot, remaining), each account's oldest first.
pub async fn open_lots_of_many(tx: &mut Tx, accounts: &[String]) -> StoreResult<Vec<(String, i64, i64)>> {
    rows_for_ids(tx, accounts, |list| {
        format!(
            "SELECT account_id, id, remaining FROM ledger_lots WHERE account_id IN ({list}) AND remaining > 0 \
             ORDER BY account_id, id"
        )
    })
    .await
}

pub struct NewLot<'a> {
    pub account_id: &'a str,
    pub source: &'a str,
    pub payment_order_id: Option<&'a str>,
    pub transfer_id: Uuid,
    pub amount: i64,
    pub now_ms: i64,
}

pub async fn insert_lot(tx: &mut Tx, lot: &NewLot<'_>) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => sqlx::query_scalar(
            "INSERT INTO ledger_lots (account_id, source, payment_order_id, transfer_id, original, remaining, \
             created_at) VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id")
        .bind(lot.account_id)
        .bind(lot.source)
        .bind(lot.payment_order_id)
        .bind(lot.transfer_id)
        .bind(lot.amount)
        .bind(lot.now_ms)
        .fetch_one(&mut *c)
        .await?))
}

/// Changes what is left of a lot by `delta`, refusing to go below zero or above its original amount.
pub async fn move_lot(tx: &mut Tx, lot_id: i64, delta: i64, transfer_id: Uuid) -> StoreResult<bool> {
    let done = on_conn!(tx, c => sqlx::query(
            "UPDATE ledger_lots SET remaining = remaining + $2 \
             WHERE id = $1 AND remaining + $2 >= 0 AND remaining + $2 <= original")
        .bind(lot_id)
        .bind(delta)
        .execute(&mut *c)
        .await?
        .rows_affected());
    if done != 1 {
        return Ok(false);
    }
    record_lot_move(tx, lot_id, delta, transfer_id).await?;
    Ok(true)
}

pub async fn record_lot_move(tx: &mut Tx, lot_id: i64, delta: i64, transfer_id: Uuid) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("INSERT INTO ledger_lot_moves (transfer_id, lot_id, delta) VALUES ($1, $2, $3)")
        .bind(transfer_id)
        .bind(lot_id)
        .bind(delta)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn lot_moves_of(tx: &mut Tx, transfer_id: Uuid) -> StoreResult<Vec<(i64, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT lot_id, delta FROM ledger_lot_moves WHERE transfer_id = $1 ORDER BY id")
        .bind(transfer_id)
        .fetch_all(&mut *c)
        .await?))
}

const LOT_COLUMNS: &str = "id, account_id, source, payment_order_id, original, remaining";

pub async fn lot(tx: &mut Tx, lot_id: i64) -> StoreResult<Option<LotRow>> {
    let sql = format!("SELECT {LOT_COLUMNS} FROM ledger_lots WHERE id = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, LotRow>(&sql).bind(lot_id).fetch_optional(&mut *c).await?))
}

pub async fn lot_of_order(tx: &mut Tx, order_id: &str) -> StoreResult<Option<LotRow>> {
    let sql = format!("SELECT {LOT_COLUMNS} FROM ledger_lots WHERE payment_order_id = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, LotRow>(&sql).bind(order_id).fetch_optional(&mut *c).await?))
}

/// A wallet's unspent charged points (what could go back to cards).
pub async fn refundable(tx: &mut Tx, account: &str) -> StoreResult<i64> {
    let n: Option<i64> = on_conn!(tx, c => sqlx::query_scalar(
            "SELECT CAST(SUM(remaining) AS BIGINT) FROM ledger_lots WHERE account_id = $1 AND source = 'CHARGE'")
        .bind(account)
        .fetch_one(&mut *c)
        .await?);
    Ok(n.unwrap_or(0))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EntryRow {
    pub seq: i64,
    pub transfer_id: Uuid,
    pub amount: i64,
    pub balance_after: i64,
    pub created_at: i64,
    pub kind: String,
    pub reference: String,
}

/// A page of an account's entries, newest first, starting below `before_seq`.
pub async fn entries(tx: &mut Tx, account: &str, before_seq: Option<i64>, limit: i64) -> StoreResult<Vec<EntryRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, EntryRow>(
            "SELECT e.seq, e.transfer_id, e.amount, e.balance_after, e.created_at, t.kind, t.reference \
             FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id \
             WHERE e.account_id = $1 AND ($2 IS NULL OR e.seq < $2) ORDER BY e.seq DESC LIMIT $3")
        .bind(account)
        .bind(before_seq)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// An account's entries after `after_seq`, oldest first (the app's pull).
pub async fn entries_after(tx: &mut Tx, account: &str, after_seq: i64, limit: i64) -> StoreResult<Vec<EntryRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, EntryRow>(
            "SELECT e.seq, e.transfer_id, e.amount, e.balance_after, e.created_at, t.kind, t.reference \
             FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id \
             WHERE e.account_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3")
        .bind(account)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// The lot moves of one transfer that touch lots of `account`, with each lot's source.
pub async fn lot_moves_for_account(
    tx: &mut Tx,
    transfer_id: Uuid,
    account: &str,
) -> StoreResult<Vec<(i64, String, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT m.lot_id, l.source, m.delta FROM ledger_lot_moves m JOIN ledger_lots l ON l.id = m.lot_id \
             WHERE m.transfer_id = $1 AND l.account_id = $2 ORDER BY m.id")
        .bind(transfer_id)
        .bind(account)
        .fetch_all(&mut *c)
        .await?))
}

// ---- many rows at once (settlement) ---------------------------------------------------------------------------

/// The transfers with these keys (any order).
pub async fn transfers_by_keys(tx: &mut Tx, keys: &[String]) -> StoreResult<Vec<TransferRow>> {
    rows_for_ids(tx, keys, |list| format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE key IN ({list})"))
        .await
}

/// Keys among `keys` that already name a transfer, and transfers already reversing one of `originals`.
pub async fn transfers_taken(tx: &mut Tx, keys: &[String], originals: &[Uuid]) -> StoreResult<Vec<String>> {
    let mut out: Vec<(String,)> =
        rows_for_ids(tx, keys, |list| format!("SELECT key FROM ledger_transfers WHERE key IN ({list})")).await?;
    out.extend(
        rows_for_ids::<_, (String,)>(tx, originals, |list| {
            format!("SELECT key FROM ledger_transfers WHERE reverses IN ({list})")
        })
        .await?,
    );
    Ok(out.into_iter().map(|(k,)| k).collect())
}

/// (transfer, lot, delta) of the lot moves of these transfers; each transfer's moves in the order they were written.
pub async fn lot_moves_of_many(tx: &mut Tx, transfers: &[Uuid]) -> StoreResult<Vec<(Uuid, i64, i64)>> {
    rows_for_ids(tx, transfers, |list| {
        format!("SELECT transfer_id, lot_id, delta FROM ledger_lot_moves WHERE transfer_id IN ({list}) ORDER BY id")
    })
    .await
}

/// Reads accounts and, on PostgreSQL, locks their rows in ascending id order (the order every transfer locks in,
/// so two transactions never wait on each other in a cycle over accounts). `ids` must be sorted and distinct.
pub async fn lock_accounts(tx: &mut Tx, ids: &[&str]) -> StoreResult<Vec<AccountRow>> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    rows_for_ids(tx, &ids, |list| {
        format!("SELECT id, kind, balance, entry_count FROM ledger_accounts WHERE id IN ({list}) ORDER BY id{lock}")
    })
    .await
}

pub async fn insert_transfers(tx: &mut Tx, rows: &[TransferRow]) -> StoreResult<()> {
    let cols = [
        Col::Uuid(rows.iter().map(|t| t.id).collect()),
        Col::Text(rows.iter().map(|t| t.key.as_str()).collect()),
        Col::Text(rows.iter().map(|t| t.kind.as_str()).collect()),
        Col::Text(rows.iter().map(|t| t.from_account.as_str()).collect()),
        Col::Text(rows.iter().map(|t| t.to_account.as_str()).collect()),
        Col::Int(rows.iter().map(|t| t.amount).collect()),
        Col::Text(rows.iter().map(|t| t.reference.as_str()).collect()),
        Col::OptUuid(rows.iter().map(|t| t.reverses).collect()),
        Col::Int(rows.iter().map(|t| t.created_at).collect()),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "INSERT INTO ledger_transfers (id, key, kind, from_account, to_account, amount, reference, reverses, \
             created_at) {rows}"
        )
    })
    .await?;
    Ok(())
}

/// One ledger entry, numbered and with its running balance already worked out under the account's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEntry {
    pub account_id: String,
    pub seq: i64,
    pub transfer_id: Uuid,
    pub amount: i64,
    pub balance_after: i64,
    pub created_at: i64,
}

pub async fn insert_entries(tx: &mut Tx, rows: &[NewEntry]) -> StoreResult<()> {
    let cols = [
        Col::Text(rows.iter().map(|e| e.account_id.as_str()).collect()),
        Col::Int(rows.iter().map(|e| e.seq).collect()),
        Col::Uuid(rows.iter().map(|e| e.transfer_id).collect()),
        Col::Int(rows.iter().map(|e| e.amount).collect()),
        Col::Int(rows.iter().map(|e| e.balance_after).collect()),
        Col::Int(rows.iter().map(|e| e.created_at).collect()),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!("INSERT INTO ledger_entries (account_id, seq, transfer_id, amount, balance_after, created_at) {rows}")
    })
    .await?;
    Ok(())
}

/// An account's balance and entry count before and after a batch of entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceChange {
    pub account_id: String,
    pub balance_before: i64,
    pub count_before: i64,
    pub balance_after: i64,
    pub count_after: i64,
}

/// Sets each account's balance and entry count once for a whole batch. Each row changes only if it still holds the
/// values the batch was computed from (the caller holds the lock, so anything else is a bug, refused by the count);
/// wallets never go below zero. Returns how many accounts changed.
pub async fn set_balances(tx: &mut Tx, rows: &[BalanceChange]) -> StoreResult<u64> {
    let cols = [
        Col::Text(rows.iter().map(|b| b.account_id.as_str()).collect()),
        Col::Int(rows.iter().map(|b| b.balance_before).collect()),
        Col::Int(rows.iter().map(|b| b.count_before).collect()),
        Col::Int(rows.iter().map(|b| b.balance_after).collect()),
        Col::Int(rows.iter().map(|b| b.count_after).collect()),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, balance_before, count_before, balance_after, count_after) AS ({rows}) \
             UPDATE ledger_accounts SET balance = v.balance_after, entry_count = v.count_after FROM v \
             WHERE ledger_accounts.id = v.id AND ledger_accounts.balance = v.balance_before \
             AND ledger_accounts.entry_count = v.count_before \
             AND (ledger_accounts.kind <> 'WALLET' OR v.balance_after >= 0)"
        )
    })
    .await
}

/// Adds `delta` to each lot (each lot at most once), refusing any that would go below zero or above its original
/// amount. Returns how many lots changed; the lot moves are recorded separately.
pub async fn move_lots(tx: &mut Tx, deltas: &[(i64, i64)]) -> StoreResult<u64> {
    let cols = [Col::Int(deltas.iter().map(|d| d.0).collect()), Col::Int(deltas.iter().map(|d| d.1).collect())];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id, delta) AS ({rows}) \
             UPDATE ledger_lots SET remaining = ledger_lots.remaining + v.delta FROM v \
             WHERE ledger_lots.id = v.id AND ledger_lots.remaining + v.delta >= 0 \
             AND ledger_lots.remaining + v.delta <= ledger_lots.original"
        )
    })
    .await
}

/// New lots, in the order given (so their ids, which FIFO spends follow, grow in that order). Returns
/// (transfer id, lot id) pairs; each lot comes from its own transfer.
pub async fn insert_lots(tx: &mut Tx, lots: &[NewLot<'_>]) -> StoreResult<Vec<(Uuid, i64)>> {
    let cols = [
        Col::Text(lots.iter().map(|l| l.account_id).collect()),
        Col::Text(lots.iter().map(|l| l.source).collect()),
        Col::OptText(lots.iter().map(|l| l.payment_order_id).collect()),
        Col::Uuid(lots.iter().map(|l| l.transfer_id).collect()),
        Col::Int(lots.iter().map(|l| l.amount).collect()),
        Col::Int(lots.iter().map(|l| l.amount).collect()),
        Col::Int(lots.iter().map(|l| l.now_ms).collect()),
    ];
    bulk::fetch(tx, &cols, |rows| {
        format!(
            "INSERT INTO ledger_lots (account_id, source, payment_order_id, transfer_id, original, remaining, \
             created_at) {rows} RETURNING transfer_id, id"
        )
    })
    .await
}

/// Records (transfer, lot, delta) lot moves in the order given.
pub async fn record_lot_moves(tx: &mut Tx, moves: &[(Uuid, i64, i64)]) -> StoreResult<()> {
    let cols = [
        Col::Uuid(moves.iter().map(|m| m.0).collect()),
        Col::Int(moves.iter().map(|m| m.1).collect()),
        Col::Int(moves.iter().map(|m| m.2).collect()),
    ];
    bulk::execute(tx, &cols, |rows| format!("INSERT INTO ledger_lot_moves (transfer_id, lot_id, delta) {rows}"))
        .await?;
    Ok(())
}

// ---- invariants ----------------------------------------------------------------------------------------------

pub async fn sum_of_balances(tx: &mut Tx) -> StoreResult<(i64, i64)> {
    let (sum, n): (Option<i64>, i64) = on_conn!(tx, c => sqlx::query_as(
            "SELECT CAST(SUM(balance) AS BIGINT), COUNT(*) FROM ledger_accounts")
        .fetch_one(&mut *c)
        .await?);
    Ok((sum.unwrap_or(0), n))
}

pub async fn negative_wallets(tx: &mut Tx) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT id, balance FROM ledger_accounts WHERE kind = 'WALLET' AND balance < 0 ORDER BY id LIMIT 5")
        .fetch_all(&mut *c)
        .await?))
}

/// Accounts whose balance differs from the sum of their entries, or whose entries are not numbered 1..n.
pub async fn accounts_disagreeing_with_entries(tx: &mut Tx) -> StoreResult<Vec<(String, i64, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT a.id, a.balance, CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) \
             FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id \
             GROUP BY a.id, a.balance, a.entry_count \
             HAVING a.balance <> COALESCE(SUM(e.amount), 0) OR a.entry_count <> COUNT(e.seq) \
                 OR a.entry_count <> COALESCE(MAX(e.seq), 0) \
             ORDER BY a.id LIMIT 5")
        .fetch_all(&mut *c)
        .await?))
}

/// Transfers that do not have exactly two entries (−amount from its source, +amount to its destination).
pub async fn transfers_not_applied_once(tx: &mut Tx) -> StoreResult<(i64, Vec<String>)> {
    let total: i64 = on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM ledger_transfers")
        .fetch_one(&mut *c)
        .await?);
    let bad: Vec<String> = on_conn!(tx, c => sqlx::query_scalar(
            "SELECT t.key FROM ledger_transfers t LEFT JOIN ledger_entries e ON e.transfer_id = t.id \
             GROUP BY t.id, t.key, t.amount, t.from_account, t.to_account \
             HAVING COUNT(e.seq) <> 2 \
                 OR SUM(CASE WHEN e.account_id = t.from_account AND e.amount = -t.amount THEN 1 ELSE 0 END) <> 1 \
                 OR SUM(CASE WHEN e.account_id = t.to_account AND e.amount = t.amount THEN 1 ELSE 0 END) <> 1 \
             ORDER BY t.key LIMIT 5")
        .fetch_all(&mut *c)
        .await?);
    Ok((total, bad))
}

/// Lots whose remaining amount is not the sum of their moves. The moves are summed in one pass (no index by lot:
/// nothing else reads them that way).
pub async fn lots_disagreeing_with_moves(tx: &mut Tx) -> StoreResult<(i64, Vec<(i64, i64, i64)>)> {
    let total: i64 = on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM ledger_lots")
        .fetch_one(&mut *c)
        .await?);
    let bad: Vec<(i64, i64, i64)> = on_conn!(tx, c => sqlx::query_as(
            "SELECT l.id, l.remaining, CAST(COALESCE(m.total, 0) AS BIGINT) \
             FROM ledger_lots l LEFT JOIN (SELECT lot_id, SUM(delta) AS total FROM ledger_lot_moves GROUP BY lot_id) m \
             ON m.lot_id = l.id WHERE l.remaining <> COALESCE(m.total, 0) ORDER BY l.id LIMIT 5")
        .fetch_all(&mut *c)
        .await?);
    Ok((total, bad))
}

/// Wallets whose balance differs from what their lots still hold.
pub async fn wallets_disagreeing_with_lots(tx: &mut Tx) -> StoreResult<Vec<(String, i64, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT a.id, a.balance, CAST(COALESCE(SUM(l.remaining), 0) AS BIGINT) \
             FROM ledger_accounts a LEFT JOIN ledger_lots l ON l.account_id = a.id \
             WHERE a.kind = 'WALLET' GROUP BY a.id, a.balance \
             HAVING a.balance <> COALESCE(SUM(l.remaining), 0) ORDER BY a.id LIMIT 5")
        .fetch_all(&mut *c)
        .await?))
}
