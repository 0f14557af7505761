//! Charging points through TossPayments, against a sandbox that speaks Toss's documented HTTP API: confirm,
//! double confirm, wrong amounts, card refusals, timeouts and the reconciler, restarts between payment and credit,
//! refunds of the unspent part, the webhook, idempotency keys and the ledger's invariants after each.

use std::time::Duration;

use nene_server::payments::worker;
use nene_server::sandbox::toss::{Fault, Op};
use nene_tests::{Backend, PASSWORD, Session, TestServer, WithToss, assert_ledger_ok, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    confirm_credits_once_even_when_confirmed_twice,
    a_wrong_amount_is_refused_without_calling_toss,
    a_refused_card_fails_the_order_with_its_reason,
    a_timeout_leaves_the_order_unknown_until_the_reconciler_settles_it,
    an_unknown_order_that_toss_never_completed_fails,
    points_arrive_exactly_once_after_a_restart_between_payment_and_credit,
    a_refund_pays_back_only_the_unspent_part,
    idempotency_keys_replay_the_first_answer,
    the_webhook_rereads_the_payment_and_repeats_change_nothing,
    order_rules_limits_and_switched_off_payments,
    running_workers_credit_without_help,
    a_payment_that_cannot_be_credited_is_cancelled_at_toss,
    dev_mode_charges_through_the_built_in_sandbox,
    a_refund_retried_after_a_server_error_refunds_once,
    a_refund_cut_off_by_a_disconnect_refunds_once,
    a_202_is_not_replayed_once_the_refund_is_done,
);

async fn confirm_credits_once_even_when_confirmed_twice(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("buyer@example.com", "buyer").await;
    let (order_id, key) = t.pay(&user.access, 10_000).await;
    let body = json!({"payment_key": key, "order_id": order_id, "amount": 10_000});

    let (status, order) = t.server.post("/api/v1/payments/confirm", Some(&user.access), &body).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "PAID");
    assert_eq!(order["method"], "카드");
    // The answer came before the credit: nothing in the wallet yet.
    assert_eq!(t.wallet(&user.access).await, (0, 0));

    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 1);
    assert_eq!(t.wallet(&user.access).await, (10_000, 10_000));
    assert_eq!(t.order(&user.access, &order_id).await["status"], "CREDITED");

    // Confirming again changes nothing and calls Toss no more.
    let calls = t.toss.calls(Op::Confirm);
    let (status, again) = t.server.post("/api/v1/payments/confirm", Some(&user.access), &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["status"], "CREDITED");
    assert_eq!(t.toss.calls(Op::Confirm), calls);
    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 0);
    assert_eq!(t.wallet(&user.access).await, (10_000, 10_000));

    let (_, entries) = t.server.get("/api/v1/wallet/entries", Some(&user.access)).await;
    let items = entries["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "CHARGE");
    assert_eq!(items[0]["seq"], 1);
    assert_eq!(items[0]["reference"], order_id.as_str());
    assert_eq!(items[0]["lots"][0]["source"], "CHARGE");
    assert_eq!(items[0]["lots"][0]["delta"], 10_000);

    // Another person cannot see or confirm this order.
    let other = t.server.signup("other@example.com", "other").await;
    assert_eq!(
        t.server.get(&format!("/api/v1/payments/orders/{order_id}"), Some(&other.access)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.server.post("/api/v1/payments/confirm", Some(&other.access), &body).await.0, StatusCode::NOT_FOUND);
    assert_ledger_ok(&t.server.state.db).await;
}

async fn a_wrong_amount_is_refused_without_calling_toss(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("tamper@example.com", "tamper").await;
    let (order_id, key) = t.pay(&user.access, 50_000).await;
    let (status, body) = t.confirm(&user.access, &order_id, &key, 100).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "AMOUNT_MISMATCH"));
    assert_eq!(body["fields"]["amount"], "INVALID");
    assert_eq!(t.toss.calls(Op::Confirm), 0);
    assert_eq!(t.order(&user.access, &order_id).await["status"], "READY");
    assert_eq!(t.wallet(&user.access).await, (0, 0));
    assert_ledger_ok(&t.server.state.db).await;
}

async fn a_refused_card_fails_the_order_with_its_reason(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("declined@example.com", "declined").await;
    let (order_id, key) = t.pay(&user.access, 20_000).await;
    t.toss.push_fault(
        Op::Confirm,
        Fault::Reject {
            status: 403,
            code: "REJECT_CARD_PAYMENT".into(),
            message: "한도초과 혹은 잔액부족으로 결제에 실패했습니다.".into(),
        },
    );
    let (status, body) = t.confirm(&user.access, &order_id, &key, 20_000).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "PAYMENT_FAILED"));
    assert_eq!(body["message"], "한도초과 혹은 잔액부족으로 결제에 실패했습니다.");
    let order = t.order(&user.access, &order_id).await;
    assert_eq!(order["status"], "FAILED");
    assert_eq!(order["failure"]["code"], "REJECT_CARD_PAYMENT");
    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 0);
    assert_eq!(t.wallet(&user.access).await, (0, 0));
    assert_ledger_ok(&t.server.state.db).await;
}

async fn a_timeout_leaves_the_order_unknown_until_the_reconciler_settles_it(backend: Backend) {
    let t = WithToss::start(backend, |c| c.toss.timeout = Duration::from_millis(300)).await;
    let user = t.server.signup("slow@example.com", "slowpoke").await;
    let (order_id, key) = t.pay(&user.access, 30_000).await;
    // Toss takes the payment but answers too late.
    t.toss.push_fault(Op::Confirm, Fault::DelayThenApply(Duration::from_secs(2)));
    let (status, body) = t.confirm(&user.access, &order_id, &key, 30_000).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "UNKNOWN");

    // Not due yet: the reconciler waits for its schedule (on the domain clock).
    assert_eq!(worker::reconcile_step(&t.server.state).await.unwrap(), 0);
    t.server.state.clock.advance_ms(60_000);
    assert_eq!(worker::reconcile_step(&t.server.state).await.unwrap(), 1);
    assert_eq!(t.order(&user.access, &order_id).await["status"], "PAID");
    worker::credit_step(&t.server.state).await.unwrap();
    assert_eq!(t.order(&user.access, &order_id).await["status"], "CREDITED");
    assert_eq!(t.wallet(&user.access).await, (30_000, 30_000));
    // Toss confirmed it once.
    assert_eq!(t.toss.payment(&key).unwrap()["status"], "DONE");
    assert_ledger_ok(&t.server.state.db).await;
}

async fn an_unknown_order_that_toss_never_completed_fails(backend: Backend) {
    let t = WithToss::start(backend, |c| c.toss.timeout = Duration::from_millis(300)).await;
    let user = t.server.signup("lost@example.com", "lost").await;
    let (order_id, key) = t.pay(&user.access, 5_000).await;
    // The confirm times out and Toss did nothing; then the card is refused on the reconciler's repeat.
    t.toss.push_fault(Op::Confirm, Fault::DelayThenFail(Duration::from_secs(2)));
    let (status, _) = t.confirm(&user.access, &order_id, &key, 5_000).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    t.toss.push_fault(
        Op::Confirm,
        Fault::Reject { status: 403, code: "REJECT_CARD_PAYMENT".into(), message: "거절".into() },
    );
    t.server.state.clock.advance_ms(60_000);
    assert_eq!(worker::reconcile_step(&t.server.state).await.unwrap(), 1);
    let order = t.order(&user.access, &order_id).await;
    assert_eq!(order["status"], "FAILED", "{order}");
    assert_eq!(t.wallet(&user.access).await, (0, 0));
    assert_ledger_ok(&t.server.state.db).await;
}

async fn points_arrive_exactly_once_after_a_restart_between_payment_and_credit(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("restart@example.com", "restart").await;
    let (order_id, key) = t.pay(&user.access, 40_000).await;
    let (status, body) = t.confirm(&user.access, &order_id, &key, 40_000).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("PAID")));

    // The server stops before its credit worker ran; a new one starts on the same database with its workers on.
    let db = t.server.db.clone();
    let mut config = t.server.state.config.as_ref().clone();
    t.server.stop().await;
    config.run_workers = true;
    let again = TestServer::start_on(db, config).await;
    let (_, login) =
        again.post("/api/v1/auth/login", None, &json!({"email": "restart@example.com", "password": PASSWORD})).await;
    let session = Session::from_pair(&login);
    let mut credited = false;
    for _ in 0..200 {
        let (_, order) = again.get(&format!("/api/v1/payments/orders/{order_id}"), Some(&session.access)).await;
        if order["status"] == "CREDITED" {
            credited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(credited, "the outbox worker credited the order after the restart");
    let (_, wallet) = again.get("/api/v1/wallet", Some(&session.access)).await;
    assert_eq!(wallet["balance"], 40_000);
    let (_, entries) = again.get("/api/v1/wallet/entries", Some(&session.access)).await;
    assert_eq!(entries["items"].as_array().unwrap().len(), 1);
    // A second worker pass finds nothing to do.
    assert_eq!(worker::credit_step(&again.state).await.unwrap(), 0);
    assert_ledger_ok(&again.state.db).await;
}

async fn a_refund_pays_back_only_the_unspent_part(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("refund@example.com", "refund").await;
    let order_id = t.charge(&user.access, 10_000).await;
    let key = t.order(&user.access, &order_id).await;
    assert_eq!(key["refundable_amount"], 10_000);

    // Spend 3,000 of it (a stake into a challenge's escrow).
    let state = &t.server.state;
    let escrow = nene_server::ledger::AccountId::escrow_challenge(uuid::Uuid::now_v7());
    let uid: nene_shared::UserId = user.user_id.parse().unwrap();
    let mut tx = state.db.begin_write().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    nene_server::ledger::open_system_account(&mut tx, &escrow, now).await.unwrap();
    nene_server::ledger::spend_fifo(
        &mut tx,
        "stake-x",
        nene_shared::ledger::TransferKind::Stake,
        uid,
        &escrow,
        nene_shared::Points::new(3_000),
        "challenge",
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(t.wallet(&user.access).await, (7_000, 7_000));

    // Asking for more than is unspent is refused and moves nothing.
    let (status, body) = t
        .server
        .post(&format!("/api/v1/payments/orders/{order_id}/cancel"), Some(&user.access), &json!({"amount": 7_001}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "REFUND_EXCEEDS_UNSPENT"));
    assert_eq!(t.toss.calls(Op::Cancel), 0);

    let (status, order) =
        t.server.post(&format!("/api/v1/payments/orders/{order_id}/cancel"), Some(&user.access), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["status"], "PARTIALLY_REFUNDED");
    assert_eq!(order["refunded_amount"], 7_000);
    assert_eq!(order["refundable_amount"], 0);
    let payment_key = t.toss.calls(Op::Cancel);
    assert_eq!(payment_key, 1);
    let paid_key = {
        let mut tx = state.db.begin_read().await.unwrap();
        nene_server::store::payments::order(&mut tx, &order_id).await.unwrap().unwrap().payment_key.unwrap()
    };
    assert_eq!(t.toss.cancel_amounts(&paid_key), vec![7_000]);
    assert_eq!(t.wallet(&user.access).await, (0, 0));

    // Nothing is left to refund.
    let (status, body) =
        t.server.post(&format!("/api/v1/payments/orders/{order_id}/cancel"), Some(&user.access), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "REFUND_EXCEEDS_UNSPENT"));
    let (_, entries) = t.server.get("/api/v1/wallet/entries", Some(&user.access)).await;
    assert_eq!(entries["items"][0]["kind"], "CASH_REFUND");
    assert_eq!(entries["items"][0]["amount"], -7_000);
    assert_ledger_ok(&state.db).await;
}

async fn idempotency_keys_replay_the_first_answer(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("retry@example.com", "retrier").await;
    let send = |key: &'static str, amount: i64| {
        t.server
            .http
            .post(t.server.url("/api/v1/payments/orders"))
            .bearer_auth(&user.access)
            .header("Idempotency-Key", key)
            .json(&json!({"amount": amount}))
            .send()
    };
    let first = send("order-key-1", 10_000).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let second = send("order-key-1", 10_000).await.unwrap();
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first["order_id"], second["order_id"]);
    assert_eq!(t.server.count("payment_orders").await, 1);

    let reused = send("order-key-1", 20_000).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = reused.json().await.unwrap();
    assert_eq!(code(&body), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(t.server.count("payment_orders").await, 1);

    // A confirm retried with its key after a lost answer gets the same answer, and one credit.
    let order_id = first["order_id"].as_str().unwrap();
    let pk = t.toss.create_session(order_id, 10_000, "points");
    let confirm = || {
        t.server
            .http
            .post(t.server.url("/api/v1/payments/confirm"))
            .bearer_auth(&user.access)
            .header("Idempotency-Key", "confirm-key-1")
            .json(&json!({"payment_key": pk, "order_id": order_id, "amount": 10_000}))
            .send()
    };
    let a: serde_json::Value = confirm().await.unwrap().json().await.unwrap();
    let b: serde_json::Value = confirm().await.unwrap().json().await.unwrap();
    assert_eq!(a, b);
    worker::credit_step(&t.server.state).await.unwrap();
    assert_eq!(t.wallet(&user.access).await.0, 10_000);
    // Keys are per user: another person may use the same key for their own request.
    let other = t.server.signup("other@example.com", "other").await;
    let theirs = t
        .server
        .http
        .post(t.server.url("/api/v1/payments/orders"))
        .bearer_auth(&other.access)
        .header("Idempotency-Key", "order-key-1")
        .json(&json!({"amount": 20_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert_ledger_ok(&t.server.state.db).await;
}

async fn the_webhook_rereads_the_payment_and_repeats_change_nothing(backend: Backend) {
    let t = WithToss::start(backend, |c| c.toss.timeout = Duration::from_millis(300)).await;
    let user = t.server.signup("hook@example.com", "hooked").await;
    let (order_id, key) = t.pay(&user.access, 15_000).await;

    // A forged delivery claiming DONE for a payment Toss has not confirmed changes nothing.
    let forged = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-11-28T10:00:00+09:00",
        "data": {"paymentKey": key, "orderId": order_id, "status": "DONE", "totalAmount": 15_000}});
    let (status, _) = t.server.post("/api/v1/payments/webhook", None, &forged).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.order(&user.access, &order_id).await["status"], "READY");

    // The confirm's answer is lost; Toss's webhook tells us, and we believe it after reading it back.
    t.toss.push_fault(Op::Confirm, Fault::DelayThenApply(Duration::from_secs(2)));
    let (status, _) = t.confirm(&user.access, &order_id, &key, 15_000).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let real = json!({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-11-28T10:00:01+09:00",
        "data": {"paymentKey": key, "orderId": order_id, "status": "DONE"}});
    for _ in 0..3 {
        let (status, _) = t.server.post("/api/v1/payments/webhook", None, &real).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(t.order(&user.access, &order_id).await["status"], "PAID");
    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 1);
    for _ in 0..2 {
        t.server.post("/api/v1/payments/webhook", None, &real).await;
    }
    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 0);
    assert_eq!(t.wallet(&user.access).await, (15_000, 15_000));
    // Unknown payments and other events are acknowledged and ignored.
    let unknown = json!({"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": "tsb_nope"}});
    assert_eq!(t.server.post("/api/v1/payments/webhook", None, &unknown).await.0, StatusCode::OK);
    assert_ledger_ok(&t.server.state.db).await;
}

async fn order_rules_limits_and_switched_off_payments(backend: Backend) {
    let t = WithToss::start(backend, |c| c.payment_requests_per_minute = 8).await;
    let user = t.server.signup("rules@example.com", "rules").await;
    for amount in [999, 1_000_001, 0, -5] {
        let (status, body) =
            t.server.post("/api/v1/payments/orders", Some(&user.access), &json!({"amount": amount})).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "AMOUNT_OUT_OF_RANGE"), "{amount}");
        assert_eq!(body["fields"]["amount"], "INVALID");
    }
    let (status, created) =
        t.server.post("/api/v1/payments/orders", Some(&user.access), &json!({"amount": 1_000})).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["order_id"].as_str().unwrap();
    assert!((6..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert!(created["customer_key"].as_str().unwrap().starts_with("cust_"));
    assert_eq!(created["client_key"], "test_ck_e2e_0123456789");
    let (status, _) = t.server.post("/api/v1/payments/orders", None, &json!({"amount": 1_000})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The per-user payment limit.
    let mut limited = false;
    for _ in 0..10 {
        let (status, body) =
            t.server.post("/api/v1/payments/orders", Some(&user.access), &json!({"amount": 1_000})).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "TOO_MANY_REQUESTS");
            limited = true;
            break;
        }
    }
    assert!(limited);
    // 8 requests a minute: the 4 refused amounts, the first order and 3 more went through.
    assert_eq!(t.server.count("payment_orders").await, 4);

    // Without keys, payments are off.
    let off = TestServer::start(backend).await;
    let user = off.signup("off@example.com", "offline").await;
    let (status, body) = off.post("/api/v1/payments/orders", Some(&user.access), &json!({"amount": 10_000})).await;
    assert_eq!((status, code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "PAYMENTS_DISABLED"));
}

async fn running_workers_credit_without_help(backend: Backend) {
    let t = WithToss::start(backend, |c| c.run_workers = true).await;
    let user = t.server.signup("auto@example.com", "auto").await;
    let (order_id, key) = t.pay(&user.access, 12_000).await;
    let (status, _) = t.confirm(&user.access, &order_id, &key, 12_000).await;
    assert_eq!(status, StatusCode::OK);
    let mut balance = 0;
    for _ in 0..200 {
        balance = t.wallet(&user.access).await.0;
        if balance == 12_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(balance, 12_000);

    // The admin's view of the ledger agrees.
    assert!(nene_server::accounts::grant_admin(&t.server.state.db, "auto@example.com").await.unwrap());
    let (_, login) =
        t.server.post("/api/v1/auth/login", None, &json!({"email": "auto@example.com", "password": PASSWORD})).await;
    let admin = Session::from_pair(&login);
    let (status, report) = t.server.get("/api/v1/admin/ledger/check", Some(&admin.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 6);
    let (status, _) = t.server.get("/api/v1/admin/ledger/check", Some(&user.access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn a_payment_that_cannot_be_credited_is_cancelled_at_toss(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("full@example.com", "fullwallet").await;
    let uid: nene_shared::UserId = user.user_id.parse().unwrap();
    nene_tests::credit_charge(&t.server.state.db, uid, 8_500_000, "earlier-charges").await;
    // Two orders that each fit, but not both.
    let (first, first_key) = t.pay(&user.access, 1_000_000).await;
    let (second, second_key) = t.pay(&user.access, 1_000_000).await;
    for (order_id, key) in [(&first, &first_key), (&second, &second_key)] {
        let (status, body) = t.confirm(&user.access, order_id, key, 1_000_000).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(worker::credit_step(&t.server.state).await.unwrap(), 2);
    assert_eq!(t.order(&user.access, &first).await["status"], "CREDITED");
    let cancelled = t.order(&user.access, &second).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["failure"]["code"], "WALLET_LIMIT_EXCEEDED");
    assert_eq!(t.wallet(&user.access).await.0, 9_500_000);

    // Compensation gives the money back at Toss, once.
    assert_eq!(worker::compensate_step(&t.server.state).await.unwrap(), 1);
    assert_eq!(t.toss.payment(&second_key).unwrap()["status"], "CANCELED");
    assert_eq!(t.toss.calls(Op::Cancel), 1);
    assert_eq!(worker::compensate_step(&t.server.state).await.unwrap(), 0);
    assert_ledger_ok(&t.server.state.db).await;
}

async fn dev_mode_charges_through_the_built_in_sandbox(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.dev = true;
        c.run_workers = true;
    })
    .await;
    let user = s.signup("dev@example.com", "developer").await;
    let (status, order) = s.post("/api/v1/payments/orders", Some(&user.access), &json!({"amount": 25_000})).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let checkout = order["checkout_url"].as_str().unwrap();
    assert_eq!(checkout, "/dev/toss/sandbox/pay");
    let order_id = order["order_id"].as_str().unwrap();

    // The person presses "pay" in the sandbox's window, which redirects to the UI's success page.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = no_redirects
        .get(s.url(checkout))
        .query(&[
            ("orderId", order_id),
            ("amount", "25000"),
            ("orderName", "points"),
            ("successUrl", "http://127.0.0.1/pay/success"),
            ("failUrl", "http://127.0.0.1/pay/fail"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("25,000"));
    let approve = no_redirects
        .get(s.url("/dev/toss/sandbox/pay/approve"))
        .query(&[
            ("orderId", order_id),
            ("amount", "25000"),
            ("orderName", "points"),
            ("successUrl", "http://127.0.0.1/pay/success"),
            ("failUrl", "http://127.0.0.1/pay/fail"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status(), StatusCode::SEE_OTHER);
    let location = reqwest::Url::parse(approve.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/pay/success");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["orderId"], order_id);

    let (status, body) = s
        .post(
            "/api/v1/payments/confirm",
            Some(&user.access),
            &json!({"payment_key": query["paymentKey"], "order_id": order_id, "amount": 25_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut balance = 0;
    for _ in 0..200 {
        let (_, wallet) = s.get("/api/v1/wallet", Some(&user.access)).await;
        balance = wallet["balance"].as_i64().unwrap();
        if balance == 25_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(balance, 25_000);
    assert_ledger_ok(&s.state.db).await;
}

/// Asks for a refund of `amount` with an Idempotency-Key; answers the status, the body and whether it was a replay.
async fn refund_with_key(
    t: &WithToss,
    token: &str,
    order_id: &str,
    key: &str,
    amount: i64,
) -> (StatusCode, serde_json::Value, bool) {
    let resp = t
        .server
        .http
        .post(t.server.url(&format!("/api/v1/payments/orders/{order_id}/cancel")))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({"amount": amount}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let replayed = resp.headers().contains_key("idempotent-replayed");
    (status, resp.json().await.unwrap_or_default(), replayed)
}

async fn payment_key_of(t: &WithToss, order_id: &str) -> String {
    let mut tx = t.server.state.db.begin_read().await.unwrap();
    nene_server::store::payments::order(&mut tx, order_id).await.unwrap().unwrap().payment_key.unwrap()
}

/// Makes every change to the outbox fail, in the real database, until [`heal_outbox`]: a failure on our side after
/// a refund committed (its cancel at Toss cannot be claimed).
async fn break_outbox(t: &WithToss) {
    let db = &t.server.state.db;
    let mut tx = db.begin_write().await.unwrap();
    if tx.is_postgres() {
        nene_server::on_conn!(&mut tx, c => {
            sqlx::query("CREATE FUNCTION test_injected_failure() RETURNS trigger LANGUAGE plpgsql AS \
                         $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$")
                .execute(&mut *c).await.unwrap();
            sqlx::query("CREATE TRIGGER test_outbox_broken BEFORE UPDATE ON outbox FOR EACH ROW \
                         EXECUTE FUNCTION test_injected_failure()")
                .execute(&mut *c).await.unwrap();
        });
    } else {
        nene_server::on_conn!(&mut tx, c => sqlx::query(
                "CREATE TRIGGER test_outbox_broken BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
            .execute(&mut *c).await.unwrap().rows_affected());
    }
    tx.commit().await.unwrap();
}

async fn heal_outbox(t: &WithToss) {
    let mut tx = t.server.state.db.begin_write().await.unwrap();
    let sql =
        if tx.is_postgres() { "DROP TRIGGER test_outbox_broken ON outbox" } else { "DROP TRIGGER test_outbox_broken" };
    nene_server::on_conn!(&mut tx, c => sqlx::query(sql).execute(&mut *c).await.unwrap().rows_affected());
    tx.commit().await.unwrap();
}

async fn a_refund_retried_after_a_server_error_refunds_once(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("error@example.com", "errored").await;
    let order_id = t.charge(&user.access, 10_000).await;

    // The refund commits (points out, refund recorded), then our side fails before Toss is asked: a 5xx.
    break_outbox(&t).await;
    let (status, body, _) = refund_with_key(&t, &user.access, &order_id, "refund-after-error", 3_000).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(t.toss.calls(Op::Cancel), 0);
    heal_outbox(&t).await;

    // The client retries with the same key: the refund it asked for goes through, once.
    let (status, order, replayed) = refund_with_key(&t, &user.access, &order_id, "refund-after-error", 3_000).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert!(!replayed);
    assert_eq!(order["refunded_amount"], 3_000);
    assert_eq!(order["status"], "PARTIALLY_REFUNDED");
    assert_eq!(t.toss.cancel_amounts(&payment_key_of(&t, &order_id).await), vec![3_000]);
    assert_eq!(t.server.count("payment_refunds").await, 1);
    assert_eq!(t.wallet(&user.access).await, (7_000, 7_000));
    // The final answer is kept from now on.
    let (status, again, replayed) = refund_with_key(&t, &user.access, &order_id, "refund-after-error", 3_000).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again["refunded_amount"], 3_000);
    // A refund with a new key is a new refund.
    let (status, order, _) = refund_with_key(&t, &user.access, &order_id, "another-refund", 1_000).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["refunded_amount"], 4_000);
    assert_ledger_ok(&t.server.state.db).await;
}

async fn a_refund_cut_off_by_a_disconnect_refunds_once(backend: Backend) {
    // The retries below ask every 100 ms; the per-person payment limit is not what this test is about.
    let t = WithToss::start(backend, |c| c.payment_requests_per_minute = 10_000).await;
    let user = t.server.signup("gone@example.com", "gone").await;
    let order_id = t.charge(&user.access, 10_000).await;

    // Toss takes its time; the client gives up and closes the connection before the answer.
    t.toss.push_fault(Op::Cancel, Fault::DelayThenApply(Duration::from_millis(1_500)));
    let cut = t
        .server
        .http
        .post(t.server.url(&format!("/api/v1/payments/orders/{order_id}/cancel")))
        .bearer_auth(&user.access)
        .header("Idempotency-Key", "refund-cut-off")
        .json(&json!({"amount": 4_000}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(cut.is_err(), "the client hung up before the answer");

    // It retries with the same key until it has an outcome: the refund it asked for, once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let order = loop {
        let (status, body, _) = refund_with_key(&t, &user.access, &order_id, "refund-cut-off", 4_000).await;
        match status {
            StatusCode::OK => break body,
            StatusCode::ACCEPTED | StatusCode::CONFLICT => {}
            other => panic!("unexpected answer {other}: {body}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "no outcome for the refund: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(order["refunded_amount"], 4_000);
    assert_eq!(t.toss.cancel_amounts(&payment_key_of(&t, &order_id).await), vec![4_000]);
    assert_eq!(t.server.count("payment_refunds").await, 1);
    assert_eq!(t.wallet(&user.access).await, (6_000, 6_000));
    assert_ledger_ok(&t.server.state.db).await;
}

async fn a_202_is_not_replayed_once_the_refund_is_done(backend: Backend) {
    let t = WithToss::start(backend, |_| {}).await;
    let user = t.server.signup("later@example.com", "later").await;
    let order_id = t.charge(&user.access, 10_000).await;

    // Toss is busy: the refund is under way (202), and the worker will finish it.
    t.toss.push_fault(
        Op::Cancel,
        Fault::Reject { status: 500, code: "FAILED_INTERNAL_SYSTEM_PROCESSING".into(), message: "busy".into() },
    );
    let (status, body, _) = refund_with_key(&t, &user.access, &order_id, "refund-later", 10_000).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    t.server.state.clock.advance_ms(60_000);
    assert_eq!(worker::cancel_step(&t.server.state).await.unwrap(), 1);

    // The same request again: the outcome as it is now, not the 202.
    let (status, order, replayed) = refund_with_key(&t, &user.access, &order_id, "refund-later", 10_000).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert!(!replayed);
    assert_eq!(order["status"], "REFUNDED");
    let (status, _, replayed) = refund_with_key(&t, &user.access, &order_id, "refund-later", 10_000).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(t.toss.cancel_amounts(&payment_key_of(&t, &order_id).await), vec![10_000]);
    assert_eq!(t.server.count("payment_refunds").await, 1);
    assert_ledger_ok(&t.server.state.db).await;
}
