//! Settlement against the real databases: the right people paid the right amounts, the escrow emptied exactly, a
//! settlement interrupted half-way and run again pays each participant once, and nobody winning feeds the reserve.

use nene_server::challenges::{scheduler, settle};
use nene_server::ledger::{self, AccountId};
use nene_server::store;
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::{Points, UserId};
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, balance_of, challenge_body, credit_charge, funded_user, mint_token,
    move_clock_to, on_both_databases, wallet_of,
};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

on_both_databases!(
    an_interrupted_settlement_pays_everyone_exactly_once,
    when_nobody_succeeds_the_reserve_takes_the_pool,
    set_based_payment_writes_the_rows_one_by_one_payment_writes,
    a_chunk_whose_keys_were_already_used_pays_each_participant_once,
    many_challenges_settle_together_and_one_failing_stops_only_itself,
    a_failing_challenge_makes_a_whole_batch_give_way_to_one_at_a_time,
    a_due_batch_settled_together_writes_what_one_at_a_time_writes
);

/// Adds an accepted proof for `user` on `day` straight into the database (the proof API has its own tests).
async fn prove(s: &TestServer, challenge: Uuid, user: nene_shared::UserId, day: chrono::NaiveDate) {
    let mut tx = s.state.db.begin_write().await.unwrap();
    let p = store::challenges::active_participation(&mut tx, challenge, user.as_uuid()).await.unwrap().unwrap();
    let day = day.to_string();
    store::challenges::insert_proof(
        &mut tx,
        &store::challenges::NewProof {
            id: Uuid::now_v7(),
            challenge_id: challenge,
            participation_id: p.id,
            user_id: user.as_uuid(),
            day: &day,
            text: Some("done"),
            photo_hash: None,
            photo_mime: None,
            thumb_hash: None,
            now_ms: chrono::Utc::now().timestamp_millis(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn entries_count(s: &TestServer) -> i64 {
    s.count("ledger_entries").await
}

async fn an_interrupted_settlement_pays_everyone_exactly_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (host, htoken) = funded_user(db, "host", 10_000).await;
    let body = challenge_body(&s, "Three days", 3, 10_000, 10);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&htoken), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id: Uuid = ch["id"].as_str().unwrap().parse().unwrap();
    let mut people = vec![host];
    for i in 0..6 {
        let (u, t) = funded_user(db, &format!("p{i}"), 10_000).await;
        let (status, _) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&t), &json!({})).await;
        assert_eq!(status, StatusCode::OK);
        people.push(u);
    }
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);

    // The host and three others prove every day (3 of 3 needed at 80 %); two prove twice; one never.
    for day in 0..3 {
        let d = start + chrono::Duration::days(day);
        for u in &people[..4] {
            prove(&s, id, *u, d).await;
        }
        if day < 2 {
            for u in &people[4..6] {
                prove(&s, id, *u, d).await;
            }
        }
    }
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&htoken)).await;
    assert_eq!(progress["required_days"], 3);

    // Not due until the last day is over.
    move_clock_to(&s, start + chrono::Duration::days(2));
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 0);
    move_clock_to(&s, start + chrono::Duration::days(3));

    // While another runner (say, another server instance) holds the challenge, nobody else settles it.
    let mut tx = db.begin_write().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        store::challenges::acquire_lease(&mut tx, &format!("settle:{id}"), "other-instance", now, now + 60_000)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(settle::settle(&s.state, id, 2, None).await.unwrap(), settle::Progress::Busy);
    let mut tx = db.begin_write().await.unwrap();
    store::challenges::release_lease(&mut tx, &format!("settle:{id}"), "other-instance").await.unwrap();
    tx.commit().await.unwrap();

    // The first run dies after three participants.
    let first = settle::settle(&s.state, id, 2, Some(3)).await.unwrap();
    assert_eq!(first, settle::Progress::Stopped);
    assert_eq!(s.get(&format!("/api/v1/challenges/{id}"), Some(&htoken)).await.1["status"], "IN_PROGRESS");
    let mut tx = db.begin_read().await.unwrap();
    let runs = store::challenges::runs(&mut tx, id).await.unwrap();
    drop(tx);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1, 3);
    assert_eq!(runs[0].2, None, "the interrupted run is recorded as unfinished");
    assert_ledger_ok(db).await;

    // The scheduler runs it again and finishes.
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);
    let (_, done) = s.get(&format!("/api/v1/challenges/{id}"), Some(&htoken)).await;
    assert_eq!(done["status"], "ENDED");
    // Pool 30,000 (three failed stakes) split over four winners of equal stake: 7,500 each.
    for u in &people[..4] {
        assert_eq!(
            wallet_of(db, *u).await,
            (17_500, 10_000),
            "the stake's charged lots came back, the prize is a reward"
        );
    }
    for u in &people[4..] {
        assert_eq!(wallet_of(db, *u).await, (0, 0));
    }
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 0);
    let (_, participants) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&htoken)).await;
    let payouts: Vec<i64> = participants.as_array().unwrap().iter().map(|p| p["payout"].as_i64().unwrap()).collect();
    assert_eq!(payouts, vec![17_500, 17_500, 17_500, 17_500, 0, 0, 0]);

    // Running it once more moves nothing.
    let before = entries_count(&s).await;
    assert_eq!(settle::settle(&s.state, id, 2, None).await.unwrap(), settle::Progress::Finished);
    assert_eq!(entries_count(&s).await, before);
    let mut tx = db.begin_read().await.unwrap();
    let runs = store::challenges::runs(&mut tx, id).await.unwrap();
    let kinds = store::notifications::kinds_of(&mut tx, people[5].as_uuid()).await.unwrap();
    drop(tx);
    assert_eq!(runs.len(), 3);
    assert_eq!(runs.iter().map(|r| r.1).sum::<i64>(), 7, "each participant settled in exactly one run");
    assert!(kinds.iter().any(|(k, data)| k == "SETTLEMENT_RESULT" && data.contains("FAIL")));
    assert_ledger_ok(db).await;
}

async fn when_nobody_succeeds_the_reserve_takes_the_pool(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, htoken) = funded_user(db, "host", 10_000).await;
    let body = challenge_body(&s, "Nobody", 2, 10_000, 10);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&htoken), &body).await;
    let id = ch["id"].as_str().unwrap();
    let (_, t) = funded_user(db, "other", 10_000).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&t), &json!({})).await;
    let reserve_before = balance_of(db, "platform:reserve").await;
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();
    move_clock_to(&s, start + chrono::Duration::days(2));
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);
    assert_eq!(balance_of(db, "platform:reserve").await - reserve_before, 20_000);
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 0);
    assert_ledger_ok(db).await;
}

/// A one-day challenge created by `people[0]` and joined by the others in order, stake 10,000. Returns the
/// challenge and its start day.
async fn one_day_challenge(s: &TestServer, title: &str, people: &[UserId]) -> (uuid::Uuid, chrono::NaiveDate) {
    let body = challenge_body(s, title, 1, 10_000, 50);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&mint_token(people[0])), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id: uuid::Uuid = ch["id"].as_str().unwrap().parse().unwrap();
    for u in &people[1..] {
        let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&mint_token(*u)), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (id, start)
}

/// A user funded with two charged lots (4,000 then 10,000), so a stake of 10,000 takes from both.
async fn two_lot_user(s: &TestServer, name: &str) -> UserId {
    let (u, _) = funded_user(&s.state.db, name, 4_000).await;
    credit_charge(&s.state.db, u, 10_000, &format!("extra-{}", u.as_uuid().simple())).await;
    u
}

/// Everything settlement wrote for one challenge, with ids replaced by their place (participant i, lot j of that
/// wallet), so two challenges with the same history compare equal row for row.
async fn settlement_rows(s: &TestServer, challenge: uuid::Uuid, people: &[UserId]) -> Vec<String> {
    let mut tx = s.state.db.begin_read().await.unwrap();
    let mut out = Vec::new();
    let escrow = AccountId::escrow_challenge(challenge);
    let mut accounts = vec![("escrow".to_owned(), escrow.as_str().to_owned())];
    for (i, u) in people.iter().enumerate() {
        accounts.push((format!("wallet{i}"), AccountId::wallet(*u).as_str().to_owned()));
    }
    for (name, account) in &accounts {
        let rows: Vec<(i64, i64, i64, String, Option<uuid::Uuid>, i64)> = nene_server::on_conn!(&mut tx, c =>
            sqlx::query_as(
                "SELECT e.seq, e.amount, e.balance_after, t.kind, t.reverses, t.amount FROM ledger_entries e \
                 JOIN ledger_transfers t ON t.id = e.transfer_id WHERE e.account_id = $1 ORDER BY e.seq")
            .bind(account)
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (seq, amount, after, kind, reverses, transfer_amount) in rows {
            out.push(format!(
                "{name} entry {seq}: {amount} -> {after} ({kind} of {transfer_amount}, reversal: {})",
                reverses.is_some()
            ));
        }
        let lots: Vec<(i64, String, i64, i64, bool)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
                "SELECT id, source, original, remaining, payment_order_id IS NOT NULL FROM ledger_lots \
                 WHERE account_id = $1 ORDER BY id")
            .bind(account)
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (j, (lot, source, original, remaining, paid)) in lots.iter().enumerate() {
            out.push(format!("{name} lot {j}: {source} {original}, {remaining} left, card: {paid}"));
            let moves: Vec<(String, i64)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
                    "SELECT t.kind, m.delta FROM ledger_lot_moves m JOIN ledger_transfers t ON t.id = m.transfer_id \
                     WHERE m.lot_id = $1 ORDER BY m.id")
                .bind(*lot)
                .fetch_all(&mut *c)
                .await
                .unwrap());
            for (kind, delta) in moves {
                out.push(format!("{name} lot {j} move: {kind} {delta}"));
            }
        }
    }
    for (i, u) in people.iter().enumerate() {
        let p = store::challenges::active_participation(&mut tx, challenge, u.as_uuid()).await.unwrap().unwrap();
        out.push(format!("participant {i}: {:?} {:?} settled: {}", p.outcome, p.prize, p.settled_at.is_some()));
        // The settlement's transfers carry the participation in their keys and reverse the stake itself.
        for prefix in ["return", "prize"] {
            let t = store::ledger::transfer_by_key(&mut tx, &format!("{prefix}:{}", p.id)).await.unwrap();
            if let Some(t) = t {
                let stake = store::ledger::transfer_by_key(&mut tx, &format!("stake:{}", p.id)).await.unwrap().unwrap();
                out.push(format!(
                    "participant {i} {prefix}: {} {} from escrow: {} to own wallet: {} reverses the stake: {}",
                    t.kind,
                    t.amount,
                    t.from_account == escrow.as_str(),
                    t.to_account == AccountId::wallet(*u).as_str(),
                    t.reverses == Some(stake.id)
                ));
            }
        }
        let notes: Vec<(Option<i64>, String, String, String, String, i64)> = nene_server::on_conn!(&mut tx, c =>
            sqlx::query_as(
                "SELECT n.seq, n.kind, n.title, n.body, n.data, \
                 (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id) \
                 FROM notifications n WHERE n.user_id = $1 ORDER BY n.seq")
            .bind(u.as_uuid())
            .fetch_all(&mut *c)
            .await
            .unwrap());
        for (seq, kind, title, body, data, deliveries) in notes {
            let data = data.replace(&challenge.to_string(), "<challenge>");
            out.push(format!("participant {i} note {seq:?}: {kind} {title} {body} {data}, {deliveries} deliveries"));
        }
    }
    let unclaimed = store::ledger::transfer_by_key(&mut tx, &format!("unclaimed:{challenge}")).await.unwrap();
    out.push(format!("to the reserve: {:?}", unclaimed.map(|t| (t.kind, t.amount))));
    let runs = store::challenges::runs(&mut tx, challenge).await.unwrap();
    out.push(format!("runs: {:?}", runs.iter().map(|r| (r.1, r.2.is_some())).collect::<Vec<_>>()));
    out
}

/// The set-based path must write what the general ledger API writes: two challenges with the same history, one paid
/// one participant at a time and one set-based in several chunks, leave the same rows.
async fn set_based_payment_writes_the_rows_one_by_one_payment_writes(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let mut groups = Vec::new();
    for g in ["a", "b", "c"] {
        let mut people = Vec::new();
        for i in 0..7 {
            people.push(two_lot_user(&s, &format!("{g}{i}")).await);
        }
        // Two devices for the first participant and a muted result for the second: deliveries follow both.
        let mut tx = db.begin_write().await.unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        for token in ["one", "two"] {
            store::notifications::upsert_device(&mut tx, &format!("{g}-{token}"), people[0].as_uuid(), "ANDROID", now)
                .await
                .unwrap();
        }
        store::notifications::upsert_device(&mut tx, &format!("{g}-muted"), people[1].as_uuid(), "IOS", now)
            .await
            .unwrap();
        store::notifications::set_muted(&mut tx, people[1].as_uuid(), &["SETTLEMENT_RESULT"]).await.unwrap();
        tx.commit().await.unwrap();
        groups.push(people);
    }
    // 3 winners (one of them the creator) and 4 losers: 40,000 over 3 → 13,334, 13,333, 13,333.
    let proved = [0usize, 2, 5];
    let (a, start) = one_day_challenge(&s, "Same", &groups[0]).await;
    let (b, _) = one_day_challenge(&s, "Same", &groups[1]).await;
    let (c, _) = one_day_challenge(&s, "Same", &groups[2]).await;
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 3);
    for (id, people) in [(a, &groups[0]), (b, &groups[1]), (c, &groups[2])] {
        for i in proved {
            prove(&s, id, people[i], start).await;
        }
    }
    move_clock_to(&s, start + chrono::Duration::days(1));

    let one_by_one = settle::settle_with(&s.state, a, 100, None, settle::Method::OneByOne).await.unwrap();
    let set_based = settle::settle_with(&s.state, b, 3, None, settle::Method::SetBased).await.unwrap();
    // Whole and together with the rest of its batch (here alone): the batch path.
    let together_before = settled_together(&s).await;
    let whole = settle::settle_many(&s.state, &[c], 100).await.pop().unwrap().unwrap();
    assert_eq!(
        (one_by_one, set_based, whole),
        (settle::Progress::Finished, settle::Progress::Finished, settle::Progress::Finished)
    );
    assert!(settled_together(&s).await > together_before, "the batch path settled it");

    let reference = settlement_rows(&s, a, &groups[0]).await;
    let batched = settlement_rows(&s, b, &groups[1]).await;
    let together = settlement_rows(&s, c, &groups[2]).await;
    assert!(reference.iter().any(|r| r.contains("PAYOUT 13334")), "{reference:#?}");
    assert!(reference.iter().any(|r| r.contains("2 deliveries")), "{reference:#?}");
    assert_eq!(batched, reference);
    assert_eq!(together, reference);
    assert_eq!(wallet_of(db, groups[1][0]).await, (27_334, 14_000), "stake back as cash, the prize as a reward");
    assert_ledger_ok(db).await;
}

/// Should a chunk find movements of its own keys (an operator paid someone by hand, say), it is paid through the
/// general API, which replays those keys instead of paying twice.
async fn a_chunk_whose_keys_were_already_used_pays_each_participant_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let mut people = Vec::new();
    for i in 0..5 {
        people.push(two_lot_user(&s, &format!("p{i}")).await);
    }
    let (id, start) = one_day_challenge(&s, "Hand paid", &people).await;
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();
    for i in [0, 1, 2] {
        prove(&s, id, people[i], start).await;
    }
    move_clock_to(&s, start + chrono::Duration::days(1));
    // The plan is made and nobody paid yet.
    assert_eq!(settle::settle(&s.state, id, 10, Some(0)).await.unwrap(), settle::Progress::Stopped);
    // Participant 1 is paid by hand with the settlement's own keys, without being marked settled.
    let mut tx = db.begin_write().await.unwrap();
    let p = store::challenges::active_participation(&mut tx, id, people[1].as_uuid()).await.unwrap().unwrap();
    let prize = p.prize.unwrap();
    assert_eq!(prize, 6_667);
    let now = chrono::Utc::now().timestamp_millis();
    ledger::reverse_spend(
        &mut tx,
        &format!("return:{}", p.id),
        TransferKind::StakeRefund,
        &format!("stake:{}", p.id),
        "hand",
        now,
    )
    .await
    .unwrap();
    ledger::credit_lot(
        &mut tx,
        &format!("prize:{}", p.id),
        TransferKind::Payout,
        &AccountId::escrow_challenge(id),
        people[1],
        Points::new(prize),
        LotSource::Reward,
        None,
        "hand",
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(settle::settle(&s.state, id, 10, None).await.unwrap(), settle::Progress::Finished);
    assert_eq!(wallet_of(db, people[1]).await, (14_000 + prize, 14_000), "paid once");
    assert_eq!(wallet_of(db, people[0]).await, (14_000 + 6_667, 14_000));
    assert_eq!(wallet_of(db, people[2]).await, (14_000 + 6_666, 14_000));
    assert_eq!(wallet_of(db, people[4]).await, (4_000, 4_000));
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 0);
    assert_ledger_ok(db).await;
}

/// Several challenges settled together, in chunks that cut across them: everyone paid once, each user's
/// notifications numbered without a gap, an ENDED one left alone, a held one reported busy, and one whose escrow
/// does not add up rolled back alone (its run records the error) while the others finish.
async fn many_challenges_settle_together_and_one_failing_stops_only_itself(backend: Backend) {
    many_challenges_with_one_failing(backend, 3).await;
}

/// As above with a budget that holds the whole batch: the batch path finds the bad escrow and gives way, and the
/// challenges are settled one at a time with the same results.
async fn a_failing_challenge_makes_a_whole_batch_give_way_to_one_at_a_time(backend: Backend) {
    many_challenges_with_one_failing(backend, 100).await;
}

async fn many_challenges_with_one_failing(backend: Backend, chunk: usize) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let mut people = Vec::new();
    for i in 0..6 {
        let u = two_lot_user(&s, &format!("m{i}")).await;
        // Enough for four stakes.
        credit_charge(db, u, 40_000, &format!("more-{}", u.as_uuid().simple())).await;
        people.push(u);
    }
    // Five challenges over the same six people (each person in several): rotate who creates and who proves.
    let mut ids = Vec::new();
    let mut start = None;
    for c in 0..5 {
        let members: Vec<UserId> = (0..4).map(|k| people[(c + k) % people.len()]).collect();
        let (id, day) = one_day_challenge(&s, &format!("Together {c}"), &members).await;
        start = Some(day);
        ids.push((id, members));
    }
    let start = start.unwrap();
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 5);
    for (c, (id, members)) in ids.iter().enumerate() {
        for (k, u) in members.iter().enumerate() {
            if (k + c) % 2 == 0 {
                prove(&s, *id, *u, start).await;
            }
        }
    }
    move_clock_to(&s, start + chrono::Duration::days(1));
    // Challenge 0 is settled already; challenge 1 is held by another runner; challenge 2's escrow gets 1 point
    // too many.
    assert_eq!(settle::settle(&s.state, ids[0].0, 10, None).await.unwrap(), settle::Progress::Finished);
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = db.begin_write().await.unwrap();
    assert!(
        store::challenges::acquire_lease(&mut tx, &format!("settle:{}", ids[1].0), "other", now, now + 60_000)
            .await
            .unwrap()
    );
    ledger::transfer_between_system(
        &mut tx,
        "stray-point",
        TransferKind::Forfeit,
        &AccountId::platform_reserve(),
        &AccountId::escrow_challenge(ids[2].0),
        Points::new(1),
        "test",
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let entries_before = s.count("ledger_entries").await;

    let all: Vec<uuid::Uuid> = ids.iter().map(|(id, _)| *id).collect();
    let results = settle::settle_many(&s.state, &all, chunk).await;
    assert_eq!(results[0].as_ref().unwrap(), &settle::Progress::Finished);
    assert_eq!(results[1].as_ref().unwrap(), &settle::Progress::Busy);
    assert!(results[2].is_err(), "the escrow does not add up");
    assert_eq!(results[3].as_ref().unwrap(), &settle::Progress::Finished);
    assert_eq!(results[4].as_ref().unwrap(), &settle::Progress::Finished);
    assert!(s.count("ledger_entries").await > entries_before);

    let mut tx = db.begin_read().await.unwrap();
    let mut failed_paid = 0;
    for (c, (id, _)) in ids.iter().enumerate() {
        let row = store::challenges::get(&mut tx, *id).await.unwrap().unwrap();
        let runs = store::challenges::runs(&mut tx, *id).await.unwrap();
        match c {
            0 | 3 | 4 => assert_eq!(row.status, "ENDED", "challenge {c}"),
            _ => assert_eq!(row.status, "IN_PROGRESS", "challenge {c}"),
        }
        if c == 2 {
            // Chunks committed before the failing step stay paid (a later run goes on from there); the step that
            // found the escrow wrong was undone, and the run is closed.
            assert_eq!(runs.len(), 1);
            assert!(runs[0].2.is_some(), "the failed run is closed");
            let unsettled = store::challenges::pending(&mut tx, *id, 100).await.unwrap();
            assert_eq!(unsettled.len() as i64, 4 - runs[0].1);
            assert!(!unsettled.is_empty(), "the step that failed paid nobody");
            failed_paid = runs[0].1;
        }
        if c == 1 {
            assert!(runs.is_empty(), "a busy challenge is not touched");
        }
    }
    // Every user's notifications are numbered 1..n with no gap, and each settled participation told once.
    for u in &people {
        let seqs: Vec<Option<i64>> = nene_server::on_conn!(&mut tx, c => sqlx::query_scalar(
                "SELECT seq FROM notifications WHERE user_id = $1 ORDER BY seq")
            .bind(u.as_uuid())
            .fetch_all(&mut *c)
            .await
            .unwrap());
        let expected: Vec<Option<i64>> = (1..=seqs.len() as i64).map(Some).collect();
        assert_eq!(seqs, expected);
    }
    drop(tx);
    let results = settle::settle_many(&s.state, &all, chunk).await;
    assert!(results[0].is_ok() && results[3].is_ok() && results[4].is_ok());
    let settled: i64 = s.count("participations WHERE settled_at IS NOT NULL").await;
    assert_eq!(settled, 4 * 3 + failed_paid, "challenges 0, 3 and 4, four people each, and challenge 2's first chunks");
    let told: i64 = s.count("notifications WHERE kind = 'SETTLEMENT_RESULT'").await;
    assert_eq!(told, settled);
    assert_ledger_ok(db).await;
}

/// How many challenges the batch path has finished in this process (the server's own counter).
async fn settled_together(s: &TestServer) -> u64 {
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("settlement_challenges_total{") && l.contains("path=\"together\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Five challenges over the same people (each person in several), due together: settled as one batch, they leave
/// the rows that settling the same five one at a time through the general ledger API leaves, challenge for
/// challenge and person for person, and a second run moves nothing.
async fn a_due_batch_settled_together_writes_what_one_at_a_time_writes(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let mut sides = Vec::new();
    for side in ["x", "y"] {
        let mut people = Vec::new();
        for i in 0..6 {
            let u = two_lot_user(&s, &format!("{side}{i}")).await;
            credit_charge(db, u, 40_000, &format!("more-{}", u.as_uuid().simple())).await;
            people.push(u);
        }
        sides.push(people);
    }
    let mut challenges: Vec<Vec<(uuid::Uuid, Vec<UserId>)>> = vec![Vec::new(), Vec::new()];
    let mut start = None;
    for c in 0..5 {
        for (side, people) in sides.iter().enumerate() {
            let members: Vec<UserId> = (0..4).map(|k| people[(c + k) % people.len()]).collect();
            let (id, day) = one_day_challenge(&s, &format!("Batch {c}"), &members).await;
            start = Some(day);
            challenges[side].push((id, members));
        }
    }
    let start = start.unwrap();
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 10);
    for side in &challenges {
        for (c, (id, members)) in side.iter().enumerate() {
            for (k, u) in members.iter().enumerate() {
                if (k + c) % 3 != 1 {
                    prove(&s, *id, *u, start).await;
                }
            }
        }
    }
    move_clock_to(&s, start + chrono::Duration::days(1));

    for (id, _) in &challenges[0] {
        let done = settle::settle_with(&s.state, *id, 100, None, settle::Method::OneByOne).await.unwrap();
        assert_eq!(done, settle::Progress::Finished);
    }
    let together_before = settled_together(&s).await;
    let batch: Vec<uuid::Uuid> = challenges[1].iter().map(|(id, _)| *id).collect();
    let results = settle::settle_many(&s.state, &batch, 100).await;
    assert!(results.iter().all(|r| matches!(r, Ok(settle::Progress::Finished))), "{results:?}");
    assert!(settled_together(&s).await >= together_before + 5, "all five went the batch path");

    // Row for row, with each side's challenge ids replaced by their place. The start notices are left out: the
    // scheduler starts a batch in id order, which differs between the sides.
    let mut rows = Vec::new();
    for side in &challenges {
        let mut all = Vec::new();
        for (id, members) in side {
            let mut these = settlement_rows(&s, *id, members).await;
            these.retain(|line| !line.contains("CHALLENGE_STARTING"));
            for line in &mut these {
                for (c, (other, _)) in side.iter().enumerate() {
                    *line = line.replace(&other.to_string(), &format!("<challenge {c}>"));
                }
            }
            all.extend(these);
        }
        rows.push(all);
    }
    assert!(rows[0].iter().any(|r| r.contains("PAYOUT")), "{:#?}", rows[0]);
    assert_eq!(rows[1], rows[0]);

    let entries = s.count("ledger_entries").await;
    let again = settle::settle_many(&s.state, &batch, 100).await;
    assert!(again.iter().all(|r| matches!(r, Ok(settle::Progress::Finished))), "{again:?}");
    assert_eq!(s.count("ledger_entries").await, entries, "a second run moves nothing");
    let leases: i64 = s.count("leases").await;
    assert_eq!(leases, 0, "every lease released");
    assert_ledger_ok(db).await;
}
