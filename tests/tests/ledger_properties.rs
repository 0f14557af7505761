//! Property test: any random sequence of charges, rewards, spends, reversals and cash refunds, applied to the real
//! database through the ledger's API, keeps every invariant and agrees with a simple model of FIFO lots.

use std::collections::HashMap;

use nene_server::ledger::{self, AccountId, LedgerError};
use nene_server::store::Db;
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};
use nene_tests::{Backend, TestDatabase, direct_user};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Charge { user: usize, amount: i64 },
    Reward { user: usize, amount: i64 },
    Spend { user: usize, amount: i64 },
    Reverse { pick: usize },
    Refund { pick: usize, amount: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1_000i64..20_000).prop_map(|(user, amount)| Op::Charge { user, amount }),
        (0..3usize, 1i64..3_000).prop_map(|(user, amount)| Op::Reward { user, amount }),
        (0..3usize, 1i64..15_000).prop_map(|(user, amount)| Op::Spend { user, amount }),
        (0..50usize).prop_map(|pick| Op::Reverse { pick }),
        (0..50usize, 1i64..12_000).prop_map(|(pick, amount)| Op::Refund { pick, amount }),
    ]
}

/// A spend as the model remembers it: key, user, [(lot, taken)], reversed yet.
type ModelSpend = (String, usize, Vec<(i64, i64)>, bool);

/// The model: each user's lots in FIFO order as (source, remaining), and each spend's consumption.
#[derive(Default)]
struct Model {
    lots: HashMap<usize, Vec<(i64, bool, i64)>>, // user -> [(lot id, is_charge, remaining)]
    spends: Vec<ModelSpend>,
    charges: Vec<(String, usize, i64)>, // order id, user, lot id
}

impl Model {
    fn balance(&self, user: usize) -> i64 {
        self.lots.get(&user).map(|l| l.iter().map(|x| x.2).sum()).unwrap_or(0)
    }
    fn refundable(&self, user: usize) -> i64 {
        self.lots.get(&user).map(|l| l.iter().filter(|x| x.1).map(|x| x.2).sum()).unwrap_or(0)
    }
    fn lot_mut(&mut self, user: usize, lot: i64) -> &mut (i64, bool, i64) {
        self.lots.get_mut(&user).and_then(|l| l.iter_mut().find(|x| x.0 == lot)).expect("lot in model")
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn newest_lot(db: &Db) -> i64 {
    let mut tx = db.begin_read().await.unwrap();
    nene_server::on_conn!(&mut tx, c => sqlx::query_scalar::<_, i64>("SELECT MAX(id) FROM ledger_lots")
        .fetch_one(&mut *c).await.unwrap())
}

async fn run(backend: Backend, ops: Vec<Op>) {
    let guard = TestDatabase::create(backend).await;
    let db = Db::connect(&guard.config, 4).await.unwrap();
    let mut users: Vec<UserId> = Vec::new();
    for i in 0..3 {
        users.push(direct_user(&db, &format!("prop{i}")).await);
    }
    let escrow = AccountId::escrow_challenge(uuid::Uuid::now_v7());
    let mut tx = db.begin_write().await.unwrap();
    ledger::open_system_account(&mut tx, &escrow, now()).await.unwrap();
    tx.commit().await.unwrap();

    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        let mut tx = db.begin_write().await.unwrap();
        match op {
            Op::Charge { user, amount } => {
                let order = format!("order-{step}");
                ledger::credit_lot(
                    &mut tx,
                    &format!("charge:{order}"),
                    TransferKind::Charge,
                    &AccountId::payments_toss(),
                    users[user],
                    Points::new(amount),
                    LotSource::Charge,
                    Some(&order),
                    &order,
                    now(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let lot = newest_lot(&db).await;
                model.lots.entry(user).or_default().push((lot, true, amount));
                model.charges.push((order, user, lot));
            }
            Op::Reward { user, amount } => {
                ledger::credit_lot(
                    &mut tx,
                    &format!("reward-{step}"),
                    TransferKind::Payout,
                    &AccountId::platform_reserve(),
                    users[user],
                    Points::new(amount),
                    LotSource::Reward,
                    None,
                    "prize",
                    now(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let lot = newest_lot(&db).await;
                model.lots.entry(user).or_default().push((lot, false, amount));
            }
            Op::Spend { user, amount } => {
                let key = format!("spend-{step}");
                let result = ledger::spend_fifo(
                    &mut tx,
                    &key,
                    TransferKind::Stake,
                    users[user],
                    &escrow,
                    Points::new(amount),
                    "stake",
                    now(),
                )
                .await;
                if model.balance(user) >= amount {
                    result.unwrap();
                    tx.commit().await.unwrap();
                    // FIFO in the model.
                    let mut left = amount;
                    let mut taken = Vec::new();
                    for lot in model.lots.entry(user).or_default().iter_mut() {
                        let take = lot.2.min(left);
                        if take > 0 {
                            lot.2 -= take;
                            left -= take;
                            taken.push((lot.0, take));
                        }
                    }
                    model.spends.push((key, user, taken, false));
                } else {
                    assert!(matches!(result, Err(LedgerError::InsufficientPoints { .. })), "{result:?}");
                }
            }
            Op::Reverse { pick } => {
                if model.spends.is_empty() {
                    continue;
                }
                let i = pick % model.spends.len();
                let (key, user, taken, reversed) = model.spends[i].clone();
                let result = ledger::reverse_spend(
                    &mut tx,
                    &format!("reverse-{step}"),
                    TransferKind::StakeRefund,
                    &key,
                    "back",
                    now(),
                )
                .await;
                if reversed {
                    assert!(matches!(result, Err(LedgerError::AlreadyReversed(_))), "{result:?}");
                } else {
                    result.unwrap();
                    tx.commit().await.unwrap();
                    for (lot, n) in taken {
                        model.lot_mut(user, lot).2 += n;
                    }
                    model.spends[i].3 = true;
                }
            }
            Op::Refund { pick, amount } => {
                if model.charges.is_empty() {
                    continue;
                }
                let (order, user, lot) = model.charges[pick % model.charges.len()].clone();
                let remaining = model.lot_mut(user, lot).2;
                let result = ledger::refund_lot(
                    &mut tx,
                    &format!("refund-{step}"),
                    users[user],
                    lot,
                    Points::new(amount),
                    &order,
                    now(),
                )
                .await;
                if amount <= remaining {
                    result.unwrap();
                    tx.commit().await.unwrap();
                    model.lot_mut(user, lot).2 -= amount;
                } else {
                    assert!(matches!(result, Err(LedgerError::RefundExceedsUnspent { .. })), "{result:?}");
                }
            }
        }
        for (i, user) in users.iter().enumerate() {
            let mut tx = db.begin_read().await.unwrap();
            let account = AccountId::wallet(*user);
            let balance =
                nene_server::store::ledger::account(&mut tx, account.as_str()).await.unwrap().unwrap().balance;
            let refundable = nene_server::store::ledger::refundable(&mut tx, account.as_str()).await.unwrap();
            assert_eq!((balance, refundable), (model.balance(i), model.refundable(i)), "user {i} after step {step}");
        }
    }
    let report = ledger::check::run(&db).await.unwrap();
    assert!(report.ok, "{report:#?}");
    db.close().await;
}

fn check(backend: Backend, ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run(backend, ops));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn random_ledger_sequences_keep_every_invariant_on_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        check(Backend::Sqlite, ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]
    #[test]
    fn random_ledger_sequences_keep_every_invariant_on_postgres(ops in proptest::collection::vec(op(), 1..40)) {
        check(Backend::Postgres, ops);
    }
}
