//! Fast set-up for large scenarios: many users, wallets and challenges written in big transactions straight through
//! the server's own store and ledger code (the same rows the API would write, without paying for each request).

use nene_server::ledger::{self, AccountId};
use nene_server::store::{self, Db};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};
use uuid::Uuid;

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `n` users, each with `points` charged points, and a token each.
pub async fn users(db: &Db, n: usize, points: i64) -> Vec<(UserId, String)> {
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin_write().await.expect("write");
        for _ in chunk {
            let id = Uuid::now_v7();
            let email = format!("{}@bench.test", id.simple());
            let nickname = format!("b{}", &id.simple().to_string()[20..]);
            let new = store::users::NewUser {
                id,
                email: &email,
                nickname: &nickname,
                nickname_key: &nickname,
                password_hash: "unusable",
                now_ms: now(),
            };
            store::users::insert(&mut tx, &new).await.expect("user");
            let user = UserId::from_uuid(id);
            ledger::open_wallet(&mut tx, user, now()).await.expect("wallet");
            if points > 0 {
                let order = format!("bench-{}", id.simple());
                ledger::credit_lot(
                    &mut tx,
                    &format!("charge:{order}"),
                    TransferKind::Charge,
                    &AccountId::payments_toss(),
                    user,
                    Points::new(points),
                    LotSource::Charge,
                    Some(&order),
                    &order,
                    now(),
                )
                .await
                .expect("credit");
            }
            out.push((user, nene_tests::mint_token(user)));
        }
        tx.commit().await.expect("commit");
    }
    out
}
