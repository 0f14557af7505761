//! The ledger's rules against the real databases: concurrency, idempotency, FIFO lots, reversals, cash refunds,
//! and random sequences of all of them.

use futures::future::join_all;
use nene_server::ledger::{self, AccountId, LedgerError};
use nene_server::store::Db;
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};
use nene_tests::{Backend, TestDatabase, assert_ledger_ok, credit_charge, direct_user, on_both_databases};

on_both_databases!(
    two_hundred_concurrent_spends_from_five_thousand_exactly_fifty_succeed,
    one_key_moves_money_once,
    reversal_restores_the_very_lots_a_spend_consumed,
    cash_refunds_only_from_unspent_charged_lots,
    the_database_refuses_dangling_references_and_changes_to_the_ledger,
    the_database_refuses_notifications_for_nobody_and_removing_people,
);

async fn db_for(backend: Backend) -> (TestDatabase, Db) {
    let test_db = TestDatabase::create(backend).await;
    let db = Db::connect(&test_db.config, 8).await.expect("database");
    (test_db, db)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn open_escrow(db: &Db, id: uuid::Uuid) -> AccountId {
    let account = AccountId::escrow_challenge(id);
    let mut tx = db.begin_write().await.unwrap();
    ledger::open_system_account(&mut tx, &account, now()).await.unwrap();
    tx.commit().await.unwrap();
    account
}

async fn spend(db: &Db, key: &str, user: UserId, to: &AccountId, amount: i64) -> Result<ledger::Applied, LedgerError> {
    let mut tx = db.begin_write().await?;
    let applied =
        ledger::spend_fifo(&mut tx, key, TransferKind::Stake, user, to, Points::new(amount), "test", now()).await?;
    tx.commit().await?;
    Ok(applied)
}

async fn balance(db: &Db, user: UserId) -> (i64, i64) {
    let mut tx = db.begin_read().await.unwrap();
    let account = AccountId::wallet(user);
    let b = nene_server::store::ledger::account(&mut tx, account.as_str()).await.unwrap().unwrap().balance;
    let r = nene_server::store::ledger::refundable(&mut tx, account.as_str()).await.unwrap();
    (b, r)
}

async fn two_hundred_concurrent_spends_from_five_thousand_exactly_fifty_succeed(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "spender").await;
    credit_charge(&db, user, 5_000, "order-5000").await;
    let escrow = open_escrow(&db, uuid::Uuid::now_v7()).await;

    let attempts = (0..200).map(|i| {
        let db = db.clone();
        let escrow = escrow.clone();
        tokio::spawn(async move { spend(&db, &format!("spend-{i}"), user, &escrow, 100).await })
    });
    let results: Vec<_> = join_all(attempts).await.into_iter().map(|r| r.expect("task")).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let refused = results.iter().filter(|r| matches!(r, Err(LedgerError::InsufficientPoints { .. }))).count();
    assert_eq!(ok, 50, "{:?}", results.iter().find(|r| r.is_err()));
    assert_eq!(refused, 150);
    assert_eq!(balance(&db, user).await, (0, 0));
    assert_ledger_ok(&db).await;
}

async fn one_key_moves_money_once(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "clicker").await;
    credit_charge(&db, user, 1_000, "order-1000").await;
    let escrow = open_escrow(&db, uuid::Uuid::now_v7()).await;

    let first = spend(&db, "stake-once", user, &escrow, 300).await.unwrap();
    let again = spend(&db, "stake-once", user, &escrow, 300).await.unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.transfer_id, first.transfer_id);
    // Concurrent duplicates too.
    let dupes = (0..10).map(|_| {
        let (db, escrow) = (db.clone(), escrow.clone());
        tokio::spawn(async move { spend(&db, "stake-twice", user, &escrow, 200).await })
    });
    let results: Vec<_> = join_all(dupes).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(results.iter().filter(|a| !a.replayed).count(), 1);
    assert_eq!(balance(&db, user).await.0, 500);

    // The same key for a different movement is refused and moves nothing.
    let conflict = spend(&db, "stake-once", user, &escrow, 999).await;
    assert!(matches!(conflict, Err(LedgerError::KeyConflict(_))), "{conflict:?}");
    assert_eq!(balance(&db, user).await.0, 500);
    assert_ledger_ok(&db).await;
}

async fn reversal_restores_the_very_lots_a_spend_consumed(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "reverser").await;
    credit_charge(&db, user, 1_000, "order-a").await;
    let mut tx = db.begin_write().await.unwrap();
    ledger::credit_lot(
        &mut tx,
        "reward-1",
        TransferKind::Payout,
        &AccountId::platform_reserve(),
        user,
        Points::new(500),
        LotSource::Reward,
        None,
        "prize",
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    credit_charge(&db, user, 1_000, "order-b").await;
    assert_eq!(balance(&db, user).await, (2_500, 2_000));

    let escrow = open_escrow(&db, uuid::Uuid::now_v7()).await;
    // FIFO: all of order-a, then 200 of the reward; order-b untouched.
    spend(&db, "stake-1", user, &escrow, 1_200).await.unwrap();
    assert_eq!(balance(&db, user).await, (1_300, 1_000));

    let mut tx = db.begin_write().await.unwrap();
    let back =
        ledger::reverse_spend(&mut tx, "refund-1", TransferKind::StakeRefund, "stake-1", "left", now()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!back.replayed);
    // Exactly the same lots came back, so the charged part is refundable as cash again.
    assert_eq!(balance(&db, user).await, (2_500, 2_000));

    let mut tx = db.begin_write().await.unwrap();
    let replay =
        ledger::reverse_spend(&mut tx, "refund-1", TransferKind::StakeRefund, "stake-1", "left", now()).await.unwrap();
    assert!(replay.replayed);
    let twice = ledger::reverse_spend(&mut tx, "refund-2", TransferKind::StakeRefund, "stake-1", "left", now()).await;
    assert!(matches!(twice, Err(LedgerError::AlreadyReversed(_))), "{twice:?}");
    drop(tx);
    assert_eq!(balance(&db, user).await, (2_500, 2_000));
    assert_ledger_ok(&db).await;
}

async fn cash_refunds_only_from_unspent_charged_lots(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "refunder").await;
    credit_charge(&db, user, 10_000, "order-r").await;
    let escrow = open_escrow(&db, uuid::Uuid::now_v7()).await;
    spend(&db, "stake-r", user, &escrow, 4_000).await.unwrap();

    let mut tx = db.begin_read().await.unwrap();
    let lot = nene_server::store::ledger::lot_of_order(&mut tx, "order-r").await.unwrap().unwrap();
    drop(tx);
    assert_eq!(lot.remaining, 6_000);

    let mut tx = db.begin_write().await.unwrap();
    let too_much = ledger::refund_lot(&mut tx, "cash-1", user, lot.id, Points::new(6_001), "order-r", now()).await;
    assert!(matches!(too_much, Err(LedgerError::RefundExceedsUnspent { remaining }) if remaining.get() == 6_000));
    drop(tx);

    let mut tx = db.begin_write().await.unwrap();
    ledger::refund_lot(&mut tx, "cash-1", user, lot.id, Points::new(6_000), "order-r", now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(balance(&db, user).await, (0, 0));

    // A reward lot is never cash.
    let mut tx = db.begin_write().await.unwrap();
    ledger::credit_lot(
        &mut tx,
        "reward-r",
        TransferKind::Payout,
        &AccountId::platform_reserve(),
        user,
        Points::new(700),
        LotSource::Reward,
        None,
        "prize",
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin_read().await.unwrap();
    let reward_lot: i64 = nene_server::on_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>(
        "SELECT id FROM ledger_lots WHERE source = 'REWARD'").fetch_one(&mut *c).await.unwrap());
    drop(tx);
    let mut tx = db.begin_write().await.unwrap();
    let refused = ledger::refund_lot(&mut tx, "cash-2", user, reward_lot, Points::new(100), "x", now()).await;
    assert!(matches!(refused, Err(LedgerError::LotNotRefundable(_))), "{refused:?}");
    drop(tx);
    assert_ledger_ok(&db).await;
}

/// A value bound to a statement of [`refused`].
#[derive(Clone)]
enum Val {
    U(uuid::Uuid),
    T(String),
    I(i64),
}

/// Runs one statement in its own transaction and says whether the database refused it; a refused statement leaves
/// nothing behind (the transaction is rolled back).
async fn refused(db: &Db, sql: &str, args: &[Val]) -> bool {
    let mut tx = db.begin_write().await.unwrap();
    let result = nene_server::on_conn!(&mut tx, c => {
        let mut q = sqlx::query(sql);
        for a in args {
            q = match a {
                Val::U(u) => q.bind(*u),
                Val::T(t) => q.bind(t.clone()),
                Val::I(i) => q.bind(*i),
            };
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    });
    match result {
        Ok(_) => {
            tx.commit().await.unwrap();
            false
        }
        Err(_) => true,
    }
}

/// Whatever the code does, the database itself keeps every ledger row pointing at rows that exist, and keeps
/// transfers, entries and lot moves as written (PostgreSQL checks the references once per statement, SQLite with
/// foreign keys).
async fn the_database_refuses_dangling_references_and_changes_to_the_ledger(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "keeper").await;
    credit_charge(&db, user, 1_000, "order-kept").await;
    let wallet = AccountId::wallet(user);
    let w = Val::T(wallet.as_str().to_owned());
    let nobody = Val::T("wallet:nobody".to_owned());
    let mut tx = db.begin_read().await.unwrap();
    let (transfer, lot): (uuid::Uuid, i64) = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
            "SELECT transfer_id, id FROM ledger_lots WHERE account_id = $1")
        .bind(wallet.as_str()).fetch_one(&mut *c).await.unwrap());
    drop(tx);
    let (t, l) = (Val::U(transfer), Val::I(lot));
    let ghost = Val::U(uuid::Uuid::now_v7());

    // Dangling references, one kind at a time (beside a good row where a statement takes several): the whole
    // statement is refused.
    let transfer_sql = "INSERT INTO ledger_transfers (id, key, kind, from_account, to_account, amount, reference, \
                        reverses, created_at) VALUES ($1, 'k', 'PAYOUT', 'payments:toss', $2, 1, 'r', $3, 0)";
    let entries_sql = "INSERT INTO ledger_entries (account_id, seq, transfer_id, amount, balance_after, created_at) \
                       VALUES ($1, 100, $2, 1, 1, 0), ($3, 101, $4, 1, 1, 0)";
    let lot_sql = "INSERT INTO ledger_lots (account_id, source, transfer_id, original, remaining, created_at) \
                   VALUES ($1, 'REWARD', $2, 1, 1, 0)";
    let move_sql = "INSERT INTO ledger_lot_moves (transfer_id, lot_id, delta) VALUES ($1, $2, 1)";
    let new_id = || Val::U(uuid::Uuid::now_v7());
    let dangling: Vec<(&str, Vec<Val>)> = vec![
        (transfer_sql, vec![new_id(), nobody.clone(), Val::U(transfer)]),
        (transfer_sql, vec![new_id(), w.clone(), ghost.clone()]),
        (entries_sql, vec![w.clone(), t.clone(), nobody.clone(), t.clone()]),
        (entries_sql, vec![w.clone(), t.clone(), w.clone(), ghost.clone()]),
        (lot_sql, vec![nobody.clone(), t.clone()]),
        (lot_sql, vec![w.clone(), ghost.clone()]),
        (move_sql, vec![ghost.clone(), l.clone()]),
        (move_sql, vec![t.clone(), Val::I(lot + 1_000)]),
    ];
    for (sql, args) in &dangling {
        assert!(refused(&db, sql, args).await, "accepted: {sql}");
    }

    // Rows once written stay as written; accounts and lots keep their keys and are never removed.
    let changes: Vec<(&str, Vec<Val>)> = vec![
        ("UPDATE ledger_transfers SET amount = amount + 1", vec![]),
        ("DELETE FROM ledger_transfers", vec![]),
        ("UPDATE ledger_entries SET amount = amount + 1", vec![]),
        ("DELETE FROM ledger_entries", vec![]),
        ("UPDATE ledger_lot_moves SET delta = delta + 1", vec![]),
        ("DELETE FROM ledger_lot_moves", vec![]),
        ("DELETE FROM ledger_accounts WHERE id = $1", vec![w.clone()]),
        ("UPDATE ledger_accounts SET id = 'wallet:other' WHERE id = $1", vec![w.clone()]),
        ("DELETE FROM ledger_lots WHERE id = $1", vec![l.clone()]),
        ("UPDATE ledger_lots SET account_id = 'payments:toss' WHERE id = $1", vec![l.clone()]),
    ];
    for (sql, args) in &changes {
        assert!(refused(&db, sql, args).await, "accepted: {sql}");
    }

    // The same statements with good references go through (so the refusals above were the references'), and the
    // ledger's own work still does.
    let good_transfer = uuid::Uuid::now_v7();
    let ok = [
        (transfer_sql, vec![Val::U(good_transfer), w.clone(), Val::U(transfer)]),
        (lot_sql, vec![w.clone(), Val::U(good_transfer)]),
        (move_sql, vec![Val::U(good_transfer), l.clone()]),
    ];
    for (sql, args) in &ok {
        assert!(!refused(&db, sql, args).await, "refused: {sql}");
    }
    let escrow = open_escrow(&db, uuid::Uuid::now_v7()).await;
    spend(&db, "kept-spend", user, &escrow, 300).await.unwrap();
    assert_eq!(balance(&db, user).await.0, 700);

    // Those rows went around the ledger's code, and its check says so: lot `lot` got a move its remaining amount
    // does not show, and the new lot has no move at all.
    let report = ledger::check::run(&db).await.unwrap();
    let lots = report.checks.iter().find(|c| c.name == "each_lot_remaining_equals_its_moves").unwrap();
    assert!(!lots.ok && !report.ok, "{lots:?}");
    assert!(lots.detail.contains(&format!("({lot}, ")), "{lots:?}");
    assert_eq!(lots.detail.matches("), (").count(), 1, "two lots disagree: {lots:?}");
}

/// Notifications point at people who exist (PostgreSQL checks each statement's new rows once, SQLite with a foreign
/// key), and people, whom wallets and notifications point at, are never removed or renumbered.
async fn the_database_refuses_notifications_for_nobody_and_removing_people(backend: Backend) {
    let (_guard, db) = db_for(backend).await;
    let user = direct_user(&db, "notified").await;
    let me = Val::U(user.as_uuid());
    let ghost = Val::U(uuid::Uuid::now_v7());
    let note_sql = "INSERT INTO notifications (id, user_id, kind, title, body, data, created_at, seq) \
                    VALUES ($1, $2, 'SYSTEM', 't', 'b', '{}', 0, $3), ($4, $5, 'SYSTEM', 't', 'b', '{}', 0, $6)";
    let new_id = || Val::U(uuid::Uuid::now_v7());

    // One row for nobody among good ones: the whole statement is refused.
    let bad = [new_id(), me.clone(), Val::I(1), new_id(), ghost.clone(), Val::I(1)];
    assert!(refused(&db, note_sql, &bad).await, "a notification for nobody was accepted");
    let good = [new_id(), me.clone(), Val::I(1), new_id(), me.clone(), Val::I(2)];
    assert!(!refused(&db, note_sql, &good).await, "good notifications were refused");

    let changes: Vec<(&str, Vec<Val>)> = vec![
        ("DELETE FROM users WHERE id = $1", vec![me.clone()]),
        ("UPDATE users SET id = $2 WHERE id = $1", vec![me.clone(), ghost.clone()]),
        ("UPDATE notifications SET user_id = $2 WHERE user_id = $1", vec![me.clone(), ghost.clone()]),
    ];
    for (sql, args) in &changes {
        assert!(refused(&db, sql, args).await, "accepted: {sql}");
    }
    let mut tx = db.begin_read().await.unwrap();
    let (people, notes): (i64, i64) = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE id = $1), (SELECT COUNT(*) FROM notifications WHERE user_id = $1)")
        .bind(user.as_uuid()).fetch_one(&mut *c).await.unwrap());
    assert_eq!((people, notes), (1, 2));
}
