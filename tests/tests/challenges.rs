//! Challenges end to end: creation rules, joins and leaves with the stake moving, the time-driven transitions, and
//! a storm of joins for the last seats on both databases (two server instances on PostgreSQL).

use std::sync::Arc;

use futures::future::join_all;
use nene_server::challenges::scheduler;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, balance_of, challenge_body, code, funded_user, move_clock_to,
    on_both_databases, test_config, wallet_of,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    creating_checks_every_field_and_the_creators_points,
    join_and_leave_move_the_stake_and_the_seats,
    the_creator_edits_and_deletes_only_while_alone,
    start_day_starts_or_cancels_and_gives_stakes_back,
    listing_filters_and_pages,
    five_hundred_people_double_clicking_for_twenty_seats,
    cancelling_two_hundred_participants_refunds_each_stake_exactly,
);

on_both_databases!(ranges_of_any_size_are_refused_by_their_limits);

async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.run_workers = false).await
}

async fn creating_checks_every_field_and_the_creators_points(backend: Backend) {
    let s = server(backend).await;
    let (creator, token) = funded_user(&s.state.db, "creator", 50_000).await;

    let (status, body) = s
        .post(
            "/api/v1/challenges",
            Some(&token),
            &json!({"title": "", "category": "HEALTH", "proof_type": "PHOTO",
            "start_date": "2020-01-01", "end_date": "2020-03-30", "stake": 500, "capacity": 1,
            "success_threshold": 120, "timezone": "Nowhere/City"}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
    for field in ["title", "stake", "capacity", "success_threshold", "timezone"] {
        assert!(body["fields"].get(field).is_some(), "{field} not named in {body}");
    }
    let (status, body) = s.post("/api/v1/challenges", Some(&token), &json!({"title": "x", "category": "SPORTS"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A stake the creator cannot pay creates nothing.
    let (status, body) =
        s.post("/api/v1/challenges", Some(&token), &challenge_body(&s, "Too rich", 14, 60_000, 10)).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_POINTS"));
    assert_eq!(s.count("challenges").await, 0);
    assert_eq!(s.count("participations").await, 0);
    assert_eq!(wallet_of(&s.state.db, creator).await, (50_000, 50_000));

    // Weekdays, threshold and minimum are taken as given.
    let mut body = challenge_body(&s, "Weekday gym", 14, 20_000, 4);
    body["proof_weekdays"] = json!(["MON", "WED", "FRI"]);
    body["min_participants"] = json!(3);
    let (status, ch) = s.post("/api/v1/challenges", Some(&token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    assert_eq!(ch["proof_weekdays"], json!(["MON", "WED", "FRI"]));
    assert_eq!(ch["proof_days"], 6);
    assert_eq!(ch["required_days"], 5); // ceil(80 % of 6)
    assert_eq!(ch["min_participants"], 3);
    assert_eq!(ch["timezone"], "Asia/Seoul");
    assert_eq!(ch["creator"]["nickname"], "creator");
    assert_eq!(wallet_of(&s.state.db, creator).await, (30_000, 30_000));
    assert_ledger_ok(&s.state.db).await;
}

async fn join_and_leave_move_the_stake_and_the_seats(backend: Backend) {
    let s = server(backend).await;
    let db = &s.state.db;
    let (creator, ctoken) = funded_user(db, "creator", 20_000).await;
    let (status, ch) =
        s.post("/api/v1/challenges", Some(&ctoken), &challenge_body(&s, "Run daily", 14, 10_000, 3)).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    assert_eq!(ch["status"], "RECRUITING");
    assert_eq!(ch["participant_count"], 1);
    assert_eq!(ch["seats_left"], 2);
    assert_eq!(ch["joined"], true);
    assert_eq!(ch["proof_days"], 14);
    assert_eq!(ch["required_days"], 12);
    let id = ch["id"].as_str().unwrap().to_owned();
    let escrow = format!("escrow:challenge:{id}");
    assert_eq!(wallet_of(db, creator).await, (10_000, 10_000));
    assert_eq!(balance_of(db, &escrow).await, 10_000);

    let (a, atoken) = funded_user(db, "alice", 10_000).await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&atoken), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["participant_count"], 2);
    assert_eq!(wallet_of(db, a).await, (0, 0));
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&atoken), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "ALREADY_JOINED"));

    // Not enough points.
    let (_, ptoken) = funded_user(db, "poor", 5_000).await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&ptoken), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_POINTS"));

    // The last seat makes it READY; then it is full.
    let (_, btoken) = funded_user(db, "bob", 10_000).await;
    let (_, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&btoken), &json!({})).await;
    assert_eq!(body["status"], "READY");
    assert_eq!(body["seats_left"], 0);
    let (_, ctoken2) = funded_user(db, "carol", 10_000).await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&ctoken2), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "CHALLENGE_FULL"));

    // Leaving frees the seat (READY → RECRUITING) and gives the same lots back.
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/leave"), Some(&atoken), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "RECRUITING");
    assert_eq!(body["joined"], false);
    assert_eq!(wallet_of(db, a).await, (10_000, 10_000));
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/leave"), Some(&atoken), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "NOT_A_PARTICIPANT"));
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/leave"), Some(&ctoken), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "CREATOR_CANNOT_LEAVE"));
    // … and one may join again.
    let (status, _) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&atoken), &json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let (_, people) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&atoken)).await;
    let names: Vec<&str> = people.as_array().unwrap().iter().map(|p| p["user"]["nickname"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["creator", "bob", "alice"]);
    assert_eq!(balance_of(db, &escrow).await, 30_000);
    assert_eq!(s.get("/api/v1/challenges/not-an-id", Some(&atoken)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        s.post(&format!("/api/v1/challenges/{}/join", uuid::Uuid::now_v7()), Some(&atoken), &json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_ledger_ok(db).await;
}

async fn the_creator_edits_and_deletes_only_while_alone(backend: Backend) {
    let s = server(backend).await;
    let db = &s.state.db;
    let (creator, ctoken) = funded_user(db, "creator", 30_000).await;
    let (_, ch) = s.post("/api/v1/challenges", Some(&ctoken), &challenge_body(&s, "Read", 7, 10_000, 5)).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    let (_, atoken) = funded_user(db, "alice", 10_000).await;

    let (status, body) =
        s.patch(&format!("/api/v1/challenges/{id}"), Some(&atoken), &json!({"title": "Mine now"})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (status, body) = s
        .patch(&format!("/api/v1/challenges/{id}"), Some(&ctoken), &json!({"title": "Read 20 pages", "capacity": 8}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["title"], "Read 20 pages");
    assert_eq!(body["capacity"], 8);
    let (status, body) =
        s.patch(&format!("/api/v1/challenges/{id}"), Some(&ctoken), &json!({"success_threshold": 10})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["fields"]["success_threshold"], "INVALID");

    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&atoken), &json!({})).await;
    let (status, body) =
        s.patch(&format!("/api/v1/challenges/{id}"), Some(&ctoken), &json!({"title": "Changed"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "CHALLENGE_NOT_EDITABLE"));
    let resp = s.http.delete(s.url(&format!("/api/v1/challenges/{id}"))).bearer_auth(&ctoken).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);

    // A second challenge, alone: deleting it gives the stake back.
    let (_, ch2) = s.post("/api/v1/challenges", Some(&ctoken), &challenge_body(&s, "Alone", 7, 10_000, 5)).await;
    let id2 = ch2["id"].as_str().unwrap();
    assert_eq!(wallet_of(db, creator).await.0, 10_000);
    let resp = s.http.delete(s.url(&format!("/api/v1/challenges/{id2}"))).bearer_auth(&ctoken).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(wallet_of(db, creator).await, (20_000, 20_000));
    assert_eq!(s.get(&format!("/api/v1/challenges/{id2}"), Some(&ctoken)).await.0, StatusCode::NOT_FOUND);
    assert_ledger_ok(db).await;
}

async fn start_day_starts_or_cancels_and_gives_stakes_back(backend: Backend) {
    let s = server(backend).await;
    let db = &s.state.db;
    let (creator, ctoken) = funded_user(db, "creator", 30_000).await;
    let body = challenge_body(&s, "Enough people", 3, 10_000, 5);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, full) = s.post("/api/v1/challenges", Some(&ctoken), &body).await;
    let (_, lonely) = s.post("/api/v1/challenges", Some(&ctoken), &challenge_body(&s, "Too few", 3, 10_000, 5)).await;
    let (a, atoken) = funded_user(db, "alice", 10_000).await;
    s.post(&format!("/api/v1/challenges/{}/join", full["id"].as_str().unwrap()), Some(&atoken), &json!({})).await;

    // Nothing moves before the start day, whatever anyone asks.
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 0);
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 2);
    let (_, full_now) = s.get(&format!("/api/v1/challenges/{}", full["id"].as_str().unwrap()), Some(&ctoken)).await;
    assert_eq!(full_now["status"], "IN_PROGRESS");
    let (_, lonely_now) = s.get(&format!("/api/v1/challenges/{}", lonely["id"].as_str().unwrap()), Some(&ctoken)).await;
    assert_eq!(lonely_now["status"], "CANCELLED");
    // The cancelled stake is back, as the same (refundable) lots; the running one is still held.
    assert_eq!(wallet_of(db, creator).await, (20_000, 20_000));
    assert_eq!(wallet_of(db, a).await, (0, 0));
    assert_eq!(balance_of(db, &format!("escrow:challenge:{}", lonely["id"].as_str().unwrap())).await, 0);
    // Joining or leaving after the start is refused.
    let (_, btoken) = funded_user(db, "bob", 10_000).await;
    let (status, body) =
        s.post(&format!("/api/v1/challenges/{}/join", full["id"].as_str().unwrap()), Some(&btoken), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "CHALLENGE_NOT_RECRUITING"));
    let (status, _) =
        s.post(&format!("/api/v1/challenges/{}/leave", full["id"].as_str().unwrap()), Some(&atoken), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Notifications were written with the events.
    let mut tx = db.begin_read().await.unwrap();
    let kinds = nene_server::store::notifications::kinds_of(&mut tx, creator.as_uuid()).await.unwrap();
    drop(tx);
    let kinds: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds.contains(&"JOIN_CONFIRMED")
            && kinds.contains(&"CHALLENGE_STARTING")
            && kinds.contains(&"CHALLENGE_CANCELLED"),
        "{kinds:?}"
    );
    assert_ledger_ok(db).await;
}

async fn listing_filters_and_pages(backend: Backend) {
    let s = server(backend).await;
    let db = &s.state.db;
    let (_, token) = funded_user(db, "lister", 200_000).await;
    for i in 0..5 {
        let mut body = challenge_body(&s, &format!("Morning run {i}"), 7, 1_000 * (i + 1), 10);
        if i % 2 == 1 {
            body["category"] = json!("STUDY");
            body["title"] = json!(format!("영어 공부 {i}"));
        }
        let (status, b) = s.post("/api/v1/challenges", Some(&token), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
    }
    let (_, page) = s.get("/api/v1/challenges?limit=2", Some(&token)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page2) = s.get(&format!("/api/v1/challenges?limit=2&cursor={cursor}"), Some(&token)).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    let (_, study) = s.get("/api/v1/challenges?category=STUDY", Some(&token)).await;
    assert_eq!(study["items"].as_array().unwrap().len(), 2);
    let (_, q) = s.get("/api/v1/challenges?q=%EC%98%81%EC%96%B4", Some(&token)).await; // 영어
    assert_eq!(q["items"].as_array().unwrap().len(), 2);
    let (_, stakes) = s.get("/api/v1/challenges?min_stake=2000&max_stake=4000", Some(&token)).await;
    assert_eq!(stakes["items"].as_array().unwrap().len(), 3);
    let (_, recruiting) = s.get("/api/v1/challenges?status=RECRUITING&mine=true", Some(&token)).await;
    assert_eq!(recruiting["items"].as_array().unwrap().len(), 5);
    // A bad query parameter is refused in the API's error shape, naming the parameter.
    let (status, body) = s.get("/api/v1/challenges?status=SLEEPING", Some(&token)).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"), "{body}");
    assert_eq!(body["fields"]["status"], "INVALID");
    let (status, body) = s.get("/api/v1/challenges?limit=lots", Some(&token)).await;
    assert_eq!((status, body["fields"]["limit"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID")), "{body}");
}

/// 500 people join a 20-seat challenge at the same moment, each clicking twice: exactly 20 get in.
async fn five_hundred_people_double_clicking_for_twenty_seats(backend: Backend) {
    // A thousand people, all on loopback: one address as far as the per-address connection cap can tell.
    let storm = |c: &mut nene_server::Config| {
        c.run_workers = false;
        c.max_connections_per_ip = 10_000;
    };
    let s = TestServer::start_with(backend, storm).await;
    // On PostgreSQL a second server instance shares the database and takes half the requests.
    let second = match backend {
        Backend::Postgres => {
            let mut config = test_config(&s.db);
            storm(&mut config);
            Some(TestServer::start_on(Arc::clone(&s.db), config).await)
        }
        Backend::Sqlite => None,
    };
    let db = &s.state.db;
    let stake = 5_000;
    let (_, ctoken) = funded_user(db, "host", stake).await;
    let (_, ch) = s.post("/api/v1/challenges", Some(&ctoken), &challenge_body(&s, "Storm", 7, stake, 21)).await;
    let id = ch["id"].as_str().unwrap().to_owned();

    let mut tokens = Vec::new();
    for i in 0..500 {
        tokens.push(funded_user(db, &format!("storm{i}"), stake).await.1);
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    let requests = tokens.iter().enumerate().flat_map(|(i, token)| {
        let base = match (&second, i % 2) {
            (Some(other), 1) => other.base.clone(),
            _ => s.base.clone(),
        };
        let url = format!("{base}/api/v1/challenges/{id}/join");
        (0..2).map(move |_| (url.clone(), token.clone()))
    });
    let sends = requests.map(|(url, token)| {
        let client = client.clone();
        tokio::spawn(async move {
            let resp = client.post(url).bearer_auth(token).send().await.expect("request");
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            (status, body["code"].as_str().unwrap_or_default().to_owned())
        })
    });
    let results: Vec<(StatusCode, String)> = join_all(sends).await.into_iter().map(|r| r.expect("task")).collect();
    assert_eq!(results.len(), 1_000);
    let ok = results.iter().filter(|(st, _)| *st == StatusCode::OK).count();
    let server_errors: Vec<_> = results.iter().filter(|(st, _)| st.is_server_error()).collect();
    assert!(server_errors.is_empty(), "{server_errors:?}");
    for (status, code) in &results {
        if *status != StatusCode::OK {
            assert_eq!(*status, StatusCode::CONFLICT);
            assert!(code == "CHALLENGE_FULL" || code == "ALREADY_JOINED", "{code}");
        }
    }
    assert_eq!(ok, 20);
    if backend == Backend::Sqlite {
        // One writer sees every earlier join: whoever got in is told so on their other click, even once the
        // challenge is full.
        for clicks in results.chunks(2) {
            if clicks.iter().any(|(st, _)| *st == StatusCode::OK) {
                assert!(clicks.iter().any(|(_, code)| code == "ALREADY_JOINED"), "{clicks:?}");
            }
        }
    }
    let (_, now) = s.get(&format!("/api/v1/challenges/{id}"), Some(&ctoken)).await;
    assert_eq!(now["participant_count"], 21);
    assert_eq!(now["status"], "READY");
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 21 * stake);
    let (_, people) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&ctoken)).await;
    assert_eq!(people.as_array().unwrap().len(), 21);
    assert_ledger_ok(db).await;
}

async fn cancelling_two_hundred_participants_refunds_each_stake_exactly(backend: Backend) {
    const PEOPLE: usize = 200;
    let s = server(backend).await;
    let db = &s.state.db;
    // Two challenges on the same day: one that never reaches its minimum, one that starts.
    let (_, host) = funded_user(db, "host", 10_000).await;
    let mut short = challenge_body(&s, "Needs a crowd", 3, 1_000, 1_000);
    short["min_participants"] = json!(PEOPLE + 50);
    let start: chrono::NaiveDate = short["start_date"].as_str().unwrap().parse().unwrap();
    let (status, short) = s.post("/api/v1/challenges", Some(&host), &short).await;
    assert_eq!(status, StatusCode::CREATED, "{short}");
    let (status, going) =
        s.post("/api/v1/challenges", Some(&host), &challenge_body(&s, "Goes ahead", 3, 1_500, 1_000)).await;
    assert_eq!(status, StatusCode::CREATED, "{going}");
    let (short, going) = (short["id"].as_str().unwrap().to_owned(), going["id"].as_str().unwrap().to_owned());

    let mut people = Vec::with_capacity(PEOPLE);
    for i in 0..PEOPLE {
        people.push(funded_user(db, &format!("p{i}"), 3_000).await);
    }
    let server = &s;
    for chunk in people.chunks(20) {
        let joins = chunk.iter().flat_map(|(_, token)| {
            [&short, &going].map(move |id| {
                let path = format!("/api/v1/challenges/{id}/join");
                async move { server.post(&path, Some(token), &json!({})).await.0 }
            })
        });
        assert!(join_all(joins).await.iter().all(|status| *status == StatusCode::OK));
    }
    for (user, _) in &people {
        assert_eq!(wallet_of(db, *user).await, (500, 500));
    }

    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 2);
    let (_, short_now) = s.get(&format!("/api/v1/challenges/{short}"), Some(&host)).await;
    assert_eq!(short_now["status"], "CANCELLED");
    let (_, going_now) = s.get(&format!("/api/v1/challenges/{going}"), Some(&host)).await;
    assert_eq!(going_now["status"], "IN_PROGRESS");

    // Every stake of the cancelled one is back, to the charged lots it came from (so refundable as cash again);
    // the running one's stake is still held.
    for (user, _) in &people {
        assert_eq!(wallet_of(db, *user).await, (1_500, 1_500));
    }
    assert_eq!(balance_of(db, &format!("escrow:challenge:{short}")).await, 0);
    assert_eq!(balance_of(db, &format!("escrow:challenge:{going}")).await, 1_500 * (PEOPLE as i64 + 1));
    let refunds = s.count(&format!("ledger_transfers WHERE kind = 'STAKE_REFUND' AND reference = '{short}'")).await;
    assert_eq!(refunds, PEOPLE as i64 + 1, "one refund per participant, the host included");
    // Everyone was told, once, of each.
    assert_eq!(s.count("notifications WHERE kind = 'CHALLENGE_CANCELLED'").await, PEOPLE as i64 + 1);
    assert_eq!(s.count("notifications WHERE kind = 'CHALLENGE_STARTING'").await, PEOPLE as i64 + 1);
    // A later pass finds nothing more to do.
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 0);
    assert_ledger_ok(db).await;
}

/// Dates half a million years apart, or a start centuries ahead, are refused with the field that is wrong, quickly
/// and with nothing written (the limits are arithmetic; no calendar is walked for them).
async fn ranges_of_any_size_are_refused_by_their_limits(backend: Backend) {
    let s = server(backend).await;
    let (_, token) = funded_user(&s.state.db, "planner", 50_000).await;
    let mut body = challenge_body(&s, "Forever", 7, 10_000, 10);
    body["start_date"] = json!("-262000-01-01");
    body["end_date"] = json!("+262000-12-31");
    let (status, b) = s.post("/api/v1/challenges", Some(&token), &body).await;
    assert_eq!((status, code(&b)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"), "{b}");
    assert_eq!(b["fields"]["start_date"], "TOO_SHORT");
    assert_eq!(b["fields"]["end_date"], "TOO_LONG");
    // Tomorrow to the end of time.
    let mut body = challenge_body(&s, "Forever", 7, 10_000, 10);
    body["end_date"] = json!("+262000-12-31");
    let (status, b) = s.post("/api/v1/challenges", Some(&token), &body).await;
    assert_eq!((status, b["fields"]["end_date"].as_str()), (StatusCode::BAD_REQUEST, Some("TOO_LONG")), "{b}");
    // A week, but a quarter of a million years from now; and just past the year ahead allowed.
    let today = s.state.clock.now().with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    for start in ["+262000-01-01".to_owned(), (today + chrono::Duration::days(366)).to_string()] {
        let mut body = challenge_body(&s, "Someday", 7, 10_000, 10);
        body["start_date"] = json!(start);
        body["end_date"] = json!(start);
        let (status, b) = s.post("/api/v1/challenges", Some(&token), &body).await;
        assert_eq!((status, b["fields"]["start_date"].as_str()), (StatusCode::BAD_REQUEST, Some("TOO_LONG")), "{b}");
    }
    assert_eq!(s.count("challenges").await, 0);
    // A year ahead is still fine.
    let mut body = challenge_body(&s, "Next year", 7, 10_000, 10);
    let start = today + chrono::Duration::days(365);
    body["start_date"] = json!(start.to_string());
    body["end_date"] = json!((start + chrono::Duration::days(6)).to_string());
    let (status, b) = s.post("/api/v1/challenges", Some(&token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
}
