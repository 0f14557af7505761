//! The join writer's two ways of committing a batch: decided together (one read per kind of row, every join decided
//! in memory, one write per kind of row) and one join at a time in savepoints. Given the same requests they must
//! give the same answers and leave the same rows; and a batch the first way cannot take goes the second way.

use nene_server::challenges::batch::{self, Path};
use nene_server::ledger::AccountId;
use nene_server::store;
use nene_shared::UserId;
use nene_shared::challenges::ChallengeId;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, challenge_body, credit_charge, funded_user, on_both_databases, wallet_of,
};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

on_both_databases!(
    a_batch_decided_together_answers_and_writes_what_one_at_a_time_does,
    a_batch_that_cannot_be_decided_together_goes_one_at_a_time,
);

/// One copy of the scene: a host, six people and four challenges.
struct Scene {
    host: UserId,
    /// p0…p4 hold a 4,000 lot and a 10,000 lot; p5 only 500.
    people: Vec<UserId>,
    /// X (3 seats, stake 1,000), Y (10 seats, stake 5,000), Z (deleted), W (cancelled).
    challenges: Vec<Uuid>,
}

const NAMES: [&str; 4] = ["X", "Y", "Z", "W"];

async fn scene(s: &TestServer, tag: &str) -> Scene {
    let db = &s.state.db;
    let (host, token) = funded_user(db, &format!("{tag}host"), 20_000).await;
    let mut challenges = Vec::new();
    for (title, stake, capacity) in [("X", 1_000, 3), ("Y", 5_000, 10), ("Z", 1_000, 5), ("W", 1_000, 5)] {
        let (status, body) =
            s.post("/api/v1/challenges", Some(&token), &challenge_body(s, title, 7, stake, capacity)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        challenges.push(body["id"].as_str().unwrap().parse::<Uuid>().unwrap());
    }
    let (status, _) =
        s.call(Method::DELETE, &format!("/api/v1/challenges/{}", challenges[2]), Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut tx = db.begin_write().await.unwrap();
    nene_server::on_conn!(&mut tx, c => sqlx::query("UPDATE challenges SET status = 'CANCELLED' WHERE id = $1")
        .bind(challenges[3])
        .execute(&mut *c)
        .await
        .unwrap()
        .rows_affected());
    tx.commit().await.unwrap();
    let mut people = Vec::new();
    for i in 0..5 {
        let (u, _) = funded_user(db, &format!("{tag}p{i}"), 4_000).await;
        credit_charge(db, u, 10_000, &format!("extra-{}", u.as_uuid().simple())).await;
        people.push(u);
    }
    people.push(funded_user(db, &format!("{tag}p5"), 500).await.0);
    Scene { host, people, challenges }
}

/// Every kind of answer in one batch, in an order where earlier joins change later ones: a double click, a person
/// joining two challenges from the same lots, the last seat, a wallet too small, the host already in, a deleted, an
/// unknown and a cancelled challenge.
fn requests(sc: &Scene) -> Vec<(ChallengeId, UserId)> {
    let c = |i: usize| ChallengeId::from_uuid(sc.challenges[i]);
    let p = |i: usize| sc.people[i];
    vec![
        (c(0), p(0)),
        (c(0), p(0)),
        (c(1), p(1)),
        (c(0), p(1)),
        (c(0), p(2)),
        (c(1), p(5)),
        (c(0), sc.host),
        (c(1), p(2)),
        (c(2), p(3)),
        (ChallengeId::from_uuid(Uuid::now_v7()), p(3)),
        (c(3), p(4)),
        (c(1), p(1)),
        (c(1), p(4)),
    ]
}

/// What the requests were told: the code of each refusal, or the challenge as the answer showed it.
async fn answers(s: &TestServer, sc: &Scene, path: Path) -> Vec<String> {
    let results = batch::commit(&s.state.db, &requests(sc), path).await.expect("the batch commits");
    results
        .into_iter()
        .map(|r| match r {
            Ok(c) => format!(
                "{} {} seats left {} {:?} version {} joined {}",
                c.title, c.participant_count, c.seats_left, c.status, c.version, c.joined
            ),
            Err(e) => e.code.as_str().to_owned(),
        })
        .collect()
}

/// Every row the joins touch, with ids replaced by names, so two scenes compare row for row.
async fn rows(s: &TestServer, sc: &Scene) -> Vec<String> {
    let mut tx = s.state.db.begin_read().await.unwrap();
    let mut names: Vec<(String, String)> = vec![(sc.host.to_string(), "host".into())];
    for (i, p) in sc.people.iter().enumerate() {
        names.push((p.to_string(), format!("p{i}")));
    }
    for (i, c) in sc.challenges.iter().enumerate() {
        names.push((c.to_string(), NAMES[i].into()));
    }
    let rename = |text: String| names.iter().fold(text, |t, (id, name)| t.replace(id.as_str(), name));
    let mut out = Vec::new();
    for (i, id) in sc.challenges.iter().enumerate() {
        let c = store::challenges::get(&mut tx, *id).await.unwrap().unwrap();
        out.push(format!(
            "{}: {} {} version {} deleted {}",
            NAMES[i],
            c.status,
            c.participant_count,
            c.version,
            c.deleted_at.is_some()
        ));
        let people: Vec<(Uuid, Uuid, i64, bool)> = nene_server::on_conn!(&mut tx, conn => sqlx::query_as(
                "SELECT id, user_id, stake, left_at IS NULL FROM participations WHERE challenge_id = $1 \
                 ORDER BY joined_at, id")
            .bind(*id)
            .fetch_all(&mut *conn)
            .await
            .unwrap());
        for (participation, user, stake, active) in people {
            let t = store::ledger::transfer_by_key(&mut tx, &format!("stake:{participation}")).await.unwrap().unwrap();
            out.push(rename(format!(
                "{}: {user} staked {stake} active {active}; transfer {} {} {} -> {} ref {}",
                NAMES[i], t.kind, t.amount, t.from_account, t.to_account, t.reference
            )));
        }
    }
    let mut accounts: Vec<String> = sc.challenges.iter().map(|c| AccountId::escrow_challenge(*c).to_string()).collect();
    accounts.push(AccountId::wallet(sc.host).to_string());
    accounts.extend(sc.people.iter().map(|p| AccountId::wallet(*p).to_string()));
    for account in &accounts {
        let a = store::ledger::account(&mut tx, account).await.unwrap();
        out.push(rename(format!("{account}: {:?}", a.map(|a| (a.balance, a.entry_count)))));
        let entries: Vec<(i64, i64, i64, String)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
                "SELECT e.seq, e.amount, e.balance_after, t.kind FROM ledger_entries e \
                 JOIN ledger_transfers t ON t.id = e.transfer_id WHERE e.account_id = $1 ORDER BY e.seq")
            .bind(account)
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (seq, amount, after, kind) in entries {
            out.push(rename(format!("{account} entry {seq}: {amount} -> {after} {kind}")));
        }
        let lots: Vec<(i64, String, i64, i64)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
                "SELECT id, source, original, remaining FROM ledger_lots WHERE account_id = $1 ORDER BY id")
            .bind(account)
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (j, (lot, source, original, remaining)) in lots.into_iter().enumerate() {
            out.push(rename(format!("{account} lot {j}: {source} {original}, {remaining} left")));
            let moves: Vec<(String, i64, String)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
                    "SELECT t.kind, m.delta, t.to_account FROM ledger_lot_moves m \
                     JOIN ledger_transfers t ON t.id = m.transfer_id WHERE m.lot_id = $1 ORDER BY m.id")
                .bind(lot)
                .fetch_all(&mut *c)
                .await
                .unwrap());
            for (kind, delta, to) in moves {
                out.push(rename(format!("{account} lot {j} move: {kind} {delta} to {to}")));
            }
        }
    }
    let mut users = vec![sc.host];
    users.extend(&sc.people);
    for u in users {
        let notes: Vec<(Option<i64>, String, String, String, String)> = nene_server::on_conn!(&mut tx, c =>
            sqlx::query_as(
                "SELECT seq, kind, title, body, data FROM notifications WHERE user_id = $1 ORDER BY seq, created_at")
            .bind(u.as_uuid())
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (seq, kind, title, body, data) in notes {
            out.push(rename(format!("{u} note {seq:?}: {kind} {title} {body} {data}")));
        }
    }
    out
}

/// The server's count of join batches committed by `path` ("together" or "one_at_a_time").
async fn batches(s: &TestServer, path: &str) -> u64 {
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("join_batches_total{") && l.contains(&format!("path=\"{path}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

async fn a_batch_decided_together_answers_and_writes_what_one_at_a_time_does(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let one = scene(&s, "a").await;
    let two = scene(&s, "b").await;

    let one_at_a_time = answers(&s, &one, Path::OneAtATime).await;
    let together_before = batches(&s, "together").await;
    let together = answers(&s, &two, Path::Together).await;
    assert_eq!(batches(&s, "together").await, together_before + 1, "the batch was decided together");

    let codes: Vec<&str> = together.iter().map(|a| a.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(
        codes,
        [
            "X",
            "ALREADY_JOINED",
            "Y",
            "X",
            "CHALLENGE_FULL",
            "INSUFFICIENT_POINTS",
            "ALREADY_JOINED",
            "Y",
            "NOT_FOUND",
            "NOT_FOUND",
            "CHALLENGE_NOT_RECRUITING",
            "ALREADY_JOINED",
            "Y"
        ]
    );
    // Every answer shows its challenge as the batch's commit left it.
    assert_eq!(together[0], "X 3 seats left 0 Ready version 4 joined true");
    assert_eq!(together[2], "Y 4 seats left 6 Recruiting version 5 joined true");
    assert_eq!(together, one_at_a_time);

    let reference = rows(&s, &one).await;
    let batched = rows(&s, &two).await;
    assert!(reference.iter().any(|r| r == "wallet:p1 lot 1 move: STAKE -1000 to escrow:challenge:Y"), "{reference:#?}");
    assert!(reference.iter().any(|r| r == "wallet:p1 lot 1 move: STAKE -1000 to escrow:challenge:X"), "{reference:#?}");
    assert_eq!(batched, reference);
    // p1 staked 5,000 (the whole first lot and 1,000 of the second) and then 1,000 more.
    assert_eq!(wallet_of(&s.state.db, two.people[1]).await, (8_000, 8_000));
    assert_ledger_ok(&s.state.db).await;
}

async fn a_batch_that_cannot_be_decided_together_goes_one_at_a_time(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let sc = scene(&s, "a").await;
    // A challenge row without its escrow account: the batch cannot lock every account it needs.
    let broken = Uuid::now_v7();
    let mut tx = s.state.db.begin_write().await.unwrap();
    let mut row = store::challenges::get(&mut tx, sc.challenges[1]).await.unwrap().unwrap();
    row.id = broken;
    row.title = "Broken".into();
    store::challenges::insert(&mut tx, &row).await.unwrap();
    tx.commit().await.unwrap();

    let before = batches(&s, "one_at_a_time").await;
    let joins = [
        (ChallengeId::from_uuid(sc.challenges[1]), sc.people[0]),
        (ChallengeId::from_uuid(broken), sc.people[1]),
        (ChallengeId::from_uuid(sc.challenges[1]), sc.people[2]),
    ];
    let results = batch::commit(&s.state.db, &joins, Path::Together).await.expect("the batch commits");
    assert_eq!(batches(&s, "one_at_a_time").await, before + 1, "the batch gave way");
    assert_eq!(results[0].as_ref().map(|c| c.participant_count).ok(), Some(3));
    assert!(results[1].as_ref().is_err_and(|e| e.status.is_server_error()), "only the broken join fails");
    assert_eq!(results[2].as_ref().map(|c| c.participant_count).ok(), Some(3));
    assert_eq!(wallet_of(&s.state.db, sc.people[1]).await, (14_000, 14_000), "nothing moved for the broken join");
    assert_eq!(wallet_of(&s.state.db, sc.people[2]).await, (9_000, 9_000));
    assert_ledger_ok(&s.state.db).await;
}
