//! Reading a wallet: its balance, the part refundable as cash, and its history with the lots each entry touched.

use nene_shared::ledger::{LotMove, LotSource, TransferKind, Wallet, WalletEntry};
use nene_shared::page::{Page, PageQuery};
use nene_shared::{Points, UserId};

use crate::error::{ApiError, ApiResult};
use crate::ledger::AccountId;
use crate::store::ledger::EntryRow;
use crate::store::{self, Db, Tx, from_millis};

pub async fn wallet(db: &Db, user: UserId) -> ApiResult<Wallet> {
    let account = AccountId::wallet(user);
    let mut tx = db.begin_read().await?;
    let balance = store::ledger::account(&mut tx, account.as_str()).await?.map(|a| a.balance).unwrap_or(0);
    let refundable = store::ledger::refundable(&mut tx, account.as_str()).await?;
    Ok(Wallet { balance: Points::new(balance), refundable_cash: Points::new(refundable) })
}

/// Newest first. The cursor is the `seq` of the last entry seen; the next page starts below it.
pub async fn entries(db: &Db, user: UserId, query: &PageQuery) -> ApiResult<Page<WalletEntry>> {
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(c.parse::<i64>().map_err(|_| {
            ApiError::validation([("cursor".to_owned(), nene_shared::FieldCode::Invalid)].into_iter().collect())
        })?),
    };
    let limit = i64::from(query.limit());
    let account = AccountId::wallet(user);
    let mut tx = db.begin_read().await?;
    let rows = store::ledger::entries(&mut tx, account.as_str(), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(limit as usize) {
        items.push(entry_view(&mut tx, &account, row).await?);
    }
    let next_cursor = if more { items.last().map(|e| e.seq.to_string()) } else { None };
    Ok(Page { items, next_cursor })
}

/// One history line with the lots it touched.
pub async fn entry_view(tx: &mut Tx, account: &AccountId, row: EntryRow) -> ApiResult<WalletEntry> {
    let lots = store::ledger::lot_moves_for_account(tx, row.transfer_id, account.as_str())
        .await?
        .into_iter()
        .map(|(lot_id, source, delta)| LotMove {
            lot_id,
            source: LotSource::parse(&source).unwrap_or(LotSource::Reward),
            delta: Points::new(delta),
        })
        .collect();
    Ok(WalletEntry {
        seq: row.seq,
        kind: TransferKind::parse(&row.kind).unwrap_or(TransferKind::Adjustment),
        amount: Points::new(row.amount),
        balance_after: Points::new(row.balance_after),
        reference: row.reference,
        lots,
        created_at: from_millis(row.created_at),
    })
}
