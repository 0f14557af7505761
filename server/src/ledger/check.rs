//! The ledger's invariants, checked against the rows themselves: by tests after every scenario, by admins at
//! `GET /admin/ledger/check`, and by operators with `nene-server ledger check`.

use nene_shared::ledger::{InvariantCheck, LedgerReport};

use crate::store::ledger as sql;
use crate::store::{Db, StoreResult};

fn check(name: &str, ok: bool, detail: String) -> InvariantCheck {
    InvariantCheck { name: name.to_owned(), ok, detail }
}

/// Runs every invariant in one consistent snapshot.
pub async fn run(db: &Db) -> StoreResult<LedgerReport> {
    let mut tx = db.begin_read().await?;
    let mut checks = Vec::new();

    let (sum, accounts) = sql::sum_of_balances(&mut tx).await?;
    checks.push(check("sum_of_all_accounts_is_zero", sum == 0, format!("sum {sum} over {accounts} accounts")));

    let negative = sql::negative_wallets(&mut tx).await?;
    checks.push(check(
        "no_wallet_below_zero",
        negative.is_empty(),
        if negative.is_empty() { "none".into() } else { format!("{negative:?}") },
    ));

    let disagreeing = sql::accounts_disagreeing_with_entries(&mut tx).await?;
    checks.push(check(
        "each_balance_equals_its_entries",
        disagreeing.is_empty(),
        if disagreeing.is_empty() {
            format!("{accounts} accounts agree, entries numbered 1..n")
        } else {
            format!("(account, balance, sum of entries): {disagreeing:?}")
        },
    ));

    let (transfers, bad) = sql::transfers_not_applied_once(&mut tx).await?;
    checks.push(check(
        "each_transfer_applied_once",
        bad.is_empty(),
        if bad.is_empty() { format!("{transfers} transfers, two entries each") } else { format!("{bad:?}") },
    ));

    let (lots, bad_lots) = sql::lots_disagreeing_with_moves(&mut tx).await?;
    checks.push(check(
        "each_lot_remaining_equals_its_moves",
        bad_lots.is_empty(),
        if bad_lots.is_empty() {
            format!("{lots} lots agree")
        } else {
            format!("(lot, remaining, moves): {bad_lots:?}")
        },
    ));

    let bad_wallets = sql::wallets_disagreeing_with_lots(&mut tx).await?;
    checks.push(check(
        "each_wallet_equals_its_lots",
        bad_wallets.is_empty(),
        if bad_wallets.is_empty() { "all wallets agree".into() } else { format!("{bad_wallets:?}") },
    ));

    Ok(LedgerReport { ok: checks.iter().all(|c| c.ok), checks })
}
