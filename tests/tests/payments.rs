//! Taking money (issue 12): redemption codes managed by administrators and redeemed by users,
//! the top-up page's information and prices, EPay orders signed for the gateway and credited by
//! its notification, Stripe Checkout Sessions credited by signed webhooks; each credit exactly
//! once whatever the repetition and concurrency, and every forged, tampered or mismatched
//! callback refused with nothing changed. Mock gateways check what they receive.

use futures::future::join_all;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, set_option};
use pylon_tests::payment_gateways::{EpayGateway, StripeApi};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::collections::BTreeMap;

async fn text_of(pool: &AnyPool, sql: &'static str, key: &str) -> String {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn count(pool: &AnyPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

async fn int(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn quota_of(pool: &AnyPool, user_id: i64) -> i64 {
    int(pool, "SELECT quota FROM users WHERE id = ?", user_id).await
}

async fn put(console: &Console, path: &str, body: Value) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

async fn delete(console: &Console, path: &str) -> Answer {
    console.send(Method::DELETE, path, None).await
}

/// Creates `count` codes of `quota` named `name`; answers their keys.
async fn create_codes(
    admin: &Console,
    name: &str,
    quota: i64,
    count: i64,
    expired_time: i64,
) -> Vec<String> {
    let answer = admin
        .post(
            "/api/redemption/",
            json!({ "name": name, "quota": quota, "count": count, "expired_time": expired_time }),
        )
        .await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.body["keys"], answer.body["data"]);
    answer
        .data()
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k.as_str().expect("key").to_string())
        .collect()
}

async fn redemption_codes_are_managed_by_administrators(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let admin = console_with_role(&pylon, &pool, "admin", 10).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;

    // Bad input: refused with a reason, nothing created.
    for (body, reason) in [
        (json!({"name": "", "quota": 10, "count": 1}), "name"),
        (
            json!({"name": "x".repeat(21), "quota": 10, "count": 1}),
            "name",
        ),
        (json!({"name": "ok", "quota": 0, "count": 1}), "quota"),
        (json!({"name": "ok", "quota": 10, "count": 0}), "count"),
        (json!({"name": "ok", "quota": 10, "count": 101}), "100"),
        (
            json!({"name": "ok", "quota": 10, "count": 1, "expired_time": 1000}),
            "expiry",
        ),
        (
            json!({"name": "ok", "quota_min": 5, "count": 1}),
            "quota_max",
        ),
        (
            json!({"name": "ok", "quota_min": 9, "quota_max": 5, "count": 1}),
            "quota_min",
        ),
    ] {
        let answer = admin.post("/api/redemption/", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
        assert!(answer.message().contains(reason), "{body}: {answer:?}");
    }
    let malformed = admin.post_raw("/api/redemption/", "{not json").await;
    assert!(!malformed.success());
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM redemptions").await, 0);

    // A common user is refused on every administrator route, and changes nothing.
    for (method, path) in [
        (Method::GET, "/api/redemption/"),
        (Method::GET, "/api/redemption/search?keyword=a"),
        (Method::GET, "/api/redemption/1"),
        (Method::POST, "/api/redemption/"),
        (Method::PUT, "/api/redemption/"),
        (Method::DELETE, "/api/redemption/1"),
        (Method::DELETE, "/api/redemption/invalid"),
    ] {
        let body = json!({"name": "mine", "quota": 1_000_000, "count": 5}).to_string();
        let answer = alice.send(method.clone(), path, Some(body)).await;
        assert!(!answer.success(), "{method} {path}: {answer:?}");
        assert!(
            answer.message().contains("insufficient privileges"),
            "{answer:?}"
        );
    }
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM redemptions").await, 0);

    // A batch, then another one; random quotas stay in their range.
    let keys = create_codes(&admin, "spring", 50_000, 3, 0).await;
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter()
            .all(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit()))
    );
    let random = root
        .post(
            "/api/redemption/",
            json!({"name": "lucky", "quota_min": 100, "quota_max": 200, "count": 4, "key_prefix": "PY-"}),
        )
        .await;
    assert!(random.success(), "{random:?}");
    assert!(random.data()[0].as_str().unwrap().starts_with("PY-"));
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM redemptions WHERE name = 'lucky' AND quota BETWEEN 100 AND 200"
        )
        .await,
        4
    );

    // Listing, paged, newest first.
    let list = admin.get("/api/redemption/?p=1&page_size=5").await;
    assert!(list.success(), "{list:?}");
    assert_eq!(list.data()["total"], 7);
    assert_eq!(list.data()["items"].as_array().unwrap().len(), 5);
    assert_eq!(list.data()["items"][0]["name"], "lucky");
    let page2 = admin.get("/api/redemption/?p=2&page_size=5").await;
    assert_eq!(page2.data()["items"].as_array().unwrap().len(), 2);

    // Search: by name prefix, by whole key, by id, by status.
    let by_name = admin.get("/api/redemption/search?keyword=spr").await;
    assert_eq!(by_name.data()["total"], 3);
    let by_key = admin
        .get(&format!("/api/redemption/search?keyword={}", keys[1]))
        .await;
    assert_eq!(by_key.data()["total"], 1);
    assert_eq!(by_key.data()["items"][0]["key"], keys[1].as_str());
    let id = by_key.data()["items"][0]["id"].as_i64().unwrap();
    let by_id = admin
        .get(&format!("/api/redemption/search?keyword={id}"))
        .await;
    assert!(
        by_id.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id)
    );
    let wildcard = admin.get("/api/redemption/search?keyword=%25").await;
    assert_eq!(wildcard.data()["total"], 0, "LIKE wildcards are literal");

    // Get, update, disable and re-enable.
    let one = admin.get(&format!("/api/redemption/{id}")).await;
    assert_eq!(one.data()["quota"], 50_000);
    assert_eq!(one.data()["status"], 1);
    let updated = put(
        &admin,
        "/api/redemption/",
        json!({"id": id, "name": "summer", "quota": 70_000, "expired_time": 0}),
    )
    .await;
    assert!(updated.success(), "{updated:?}");
    assert_eq!(updated.data()["name"], "summer");
    assert_eq!(updated.data()["quota"], 70_000);
    let bad_update = put(
        &admin,
        "/api/redemption/",
        json!({"id": id, "name": "", "quota": 5}),
    )
    .await;
    assert!(!bad_update.success());
    let missing = put(
        &admin,
        "/api/redemption/",
        json!({"id": 999_999, "name": "x", "quota": 5}),
    )
    .await;
    assert!(missing.message().contains("does not exist"), "{missing:?}");
    let disabled = put(
        &admin,
        "/api/redemption/?status_only=1",
        json!({"id": id, "status": 2}),
    )
    .await;
    assert_eq!(disabled.data()["status"], 2);
    assert_eq!(disabled.data()["name"], "summer");
    let by_status = admin.get("/api/redemption/search?status=2").await;
    assert_eq!(by_status.data()["total"], 1);
    let enabled = admin.get("/api/redemption/search?status=1").await;
    assert_eq!(enabled.data()["total"], 6);
    let bad_status = put(
        &admin,
        "/api/redemption/?status_only=1",
        json!({"id": id, "status": 3}),
    )
    .await;
    assert!(!bad_status.success());

    // Delete one; delete every invalid one (the disabled code).
    let victim = admin
        .get(&format!("/api/redemption/search?keyword={}", keys[0]))
        .await;
    let victim = victim.data()["items"][0]["id"].as_i64().unwrap();
    assert!(
        delete(&admin, &format!("/api/redemption/{victim}"))
            .await
            .success()
    );
    assert!(
        !delete(&admin, &format!("/api/redemption/{victim}"))
            .await
            .success()
    );
    assert!(
        !admin
            .get(&format!("/api/redemption/{victim}"))
            .await
            .success()
    );
    let invalid = delete(&admin, "/api/redemption/invalid").await;
    assert!(invalid.success(), "{invalid:?}");
    assert_eq!(invalid.data(), &json!(1));
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM redemptions").await, 5);
}
on_every_backend!(redemption_codes_are_managed_by_administrators);

async fn top_up_page_shows_settings_and_prices_exactly(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;

    let info = alice.get("/api/user/topup/info").await;
    assert!(info.success(), "{info:?}");
    assert_eq!(info.data()["enable_online_topup"], false);
    assert_eq!(info.data()["enable_stripe_topup"], false);
    assert_eq!(info.data()["enable_redemption"], true);
    assert_eq!(info.data()["pay_methods"], json!([]));
    assert_eq!(info.data()["min_topup"], 1);

    set_option(&root, "PayAddress", "https://pay.example").await;
    set_option(&root, "EpayId", "1001").await;
    set_option(&root, "EpayKey", "epay-secret-key").await;
    set_option(&root, "Price", "7.3").await;
    set_option(&root, "MinTopUp", "2").await;
    set_option(&root, "payment_setting.amount_options", "[10, 20, 100]").await;
    set_option(&root, "payment_setting.amount_discount", r#"{"100": 0.95}"#).await;
    set_option(&root, "TopupGroupRatio", r#"{"default": 1.5}"#).await;

    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_online_topup"], true);
    assert_eq!(info.data()["min_topup"], 2);
    assert_eq!(info.data()["amount_options"], json!([10, 20, 100]));
    assert_eq!(info.data()["discount"], json!({"100": 0.95}));
    let types: Vec<&str> = info.data()["pay_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["alipay", "wxpay"]);
    // The key never shows, neither here nor in the options.
    assert!(!info.body.to_string().contains("epay-secret-key"));
    let options = root.get("/api/option/").await;
    assert!(!options.body.to_string().contains("epay-secret-key"));

    // 10 × 7.3 × 1.5 = 109.50; 100 × 7.3 × 1.5 × 0.95 = 1040.25 (exact, no float drift).
    for (amount, price) in [(10, "109.50"), (100, "1040.25"), (3, "32.85")] {
        let answer = alice
            .post("/api/user/amount", json!({ "amount": amount }))
            .await;
        assert_eq!(answer.body["message"], "success", "{answer:?}");
        assert_eq!(answer.data(), &json!(price));
    }
    let too_small = alice.post("/api/user/amount", json!({ "amount": 1 })).await;
    assert_eq!(too_small.body["message"], "error");
    assert!(too_small.data().as_str().unwrap().contains("less than 2"));
    let malformed = alice
        .post_raw("/api/user/amount", "{\"amount\": \"x\"}")
        .await;
    assert_eq!(malformed.body["message"], "error");
    let anonymous = Console::new(&pylon.base_url)
        .post("/api/user/amount", json!({"amount": 10}))
        .await;
    assert_eq!(anonymous.status, 401);
}
on_every_backend!(top_up_page_shows_settings_and_prices_exactly);

const EPAY_MERCHANT: &str = "1001";
const EPAY_KEY: &str = "epay-merchant-key";

/// Points Pylon at a mock EPay gateway.
async fn configure_epay(pylon: &Pylon, root: &Console) -> EpayGateway {
    EpayGateway::configured(pylon, root, EPAY_MERCHANT, EPAY_KEY).await
}

/// Orders `amount` units through EPay and posts the answered form to the gateway, as a
/// browser does; answers the gateway's order and Pylon's `data`.
async fn order_through_epay(
    user: &Console,
    gateway: &EpayGateway,
    amount: i64,
) -> (pylon_tests::payment_gateways::EpayOrder, Value) {
    let answer = user
        .post(
            "/api/user/pay",
            json!({ "amount": amount, "payment_method": "alipay" }),
        )
        .await;
    assert_eq!(answer.body["message"], "success", "{answer:?}");
    let url = answer.body["url"].as_str().expect("gateway url");
    assert_eq!(url, format!("{}/submit.php", gateway.base_url));
    let before = gateway.orders().len();
    let (status, _) = gateway.submit(url, answer.data()).await;
    assert_eq!(status, 200, "gateway refused: {:?}", gateway.refusals());
    let orders = gateway.orders();
    assert_eq!(orders.len(), before + 1);
    (orders[before].clone(), answer.data().clone())
}

async fn epay_orders_are_signed_for_the_gateway(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();

    // Not configured yet: refused, no order.
    let answer = alice
        .post(
            "/api/user/pay",
            json!({ "amount": 10, "payment_method": "alipay" }),
        )
        .await;
    assert_eq!(answer.body["message"], "error");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    let gateway = configure_epay(&pylon, &root).await;
    for (body, reason) in [
        (
            json!({"amount": 0, "payment_method": "alipay"}),
            "less than",
        ),
        (
            json!({"amount": 10, "payment_method": "bitcoin"}),
            "payment method",
        ),
    ] {
        let answer = alice.post("/api/user/pay", body.clone()).await;
        assert_eq!(answer.body["message"], "error", "{body}");
        assert!(
            answer.data().as_str().unwrap().contains(reason),
            "{answer:?}"
        );
    }
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    let (order, params) = order_through_epay(&alice, &gateway, 10).await;
    assert_eq!(params["pid"], EPAY_MERCHANT);
    assert_eq!(params["money"], "73.00");
    assert_eq!(params["type"], "alipay");
    assert_eq!(params["sign_type"], "MD5");
    assert_eq!(
        params["notify_url"],
        format!("{}/api/user/epay/notify", pylon.base_url)
    );
    let trade_no = order.trade_no().to_string();
    assert!(trade_no.starts_with(&format!("USR{alice_id}NO")));
    assert_eq!(
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            &trade_no
        )
        .await,
        "pending"
    );
    let own = alice.get("/api/user/topup/self").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["total"], 1);
    assert_eq!(own.data()["items"][0]["trade_no"], trade_no.as_str());
    assert_eq!(own.data()["items"][0]["money_cents"], 7300);
    assert_eq!(own.data()["items"][0]["quota"], 5_000_000);
    assert_eq!(own.data()["items"][0]["status"], "pending");

    // A tampered form is refused by the gateway: the signature covers the amount.
    let mut tampered = params.clone();
    tampered["money"] = json!("0.01");
    let (status, _) = gateway
        .submit(&format!("{}/submit.php", gateway.base_url), &tampered)
        .await;
    assert_eq!(status, 400);
    assert_eq!(gateway.refusals(), ["signature"]);
}
on_every_backend!(epay_orders_are_signed_for_the_gateway);

const STRIPE_SECRET: &str = "sk_test_pylon";
const STRIPE_PRICE: &str = "price_pylon_unit";

async fn stripe_checkout_sessions_are_created_through_the_api(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let stripe = StripeApi::start(STRIPE_SECRET, STRIPE_PRICE).await;

    // Not configured: refused, no order.
    let answer = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "stripe"}),
        )
        .await;
    assert_eq!(answer.body["message"], "error");
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    set_option(&root, "StripeApiSecret", STRIPE_SECRET).await;
    set_option(&root, "StripeWebhookSecret", "whsec_pylon_test").await;
    set_option(&root, "StripePriceId", STRIPE_PRICE).await;
    set_option(&root, "StripeUnitPrice", "1.25").await;
    set_option(&root, "StripeApiBaseUrl", &stripe.base_url).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_stripe_topup"], true);
    assert_eq!(info.data()["pay_methods"][0]["type"], "stripe");
    assert!(!info.body.to_string().contains(STRIPE_SECRET));
    let priced = alice
        .post("/api/user/stripe/amount", json!({"amount": 10}))
        .await;
    assert_eq!(priced.data(), &json!("12.50"));

    let answer = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "stripe", "success_url": "https://evil.example/x"}),
        )
        .await;
    assert_eq!(answer.body["message"], "success", "{answer:?}");
    let sessions = stripe.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(
        answer.data()["pay_link"],
        format!("{}/pay/{}", stripe.base_url, session.id)
    );
    assert_eq!(session.quantity(), 10);
    // A redirect off the site is replaced by the site's own page.
    assert_eq!(
        session.form["success_url"],
        format!("{}/console/log", pylon.base_url)
    );
    let reference = session.reference().to_string();
    assert_eq!(
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            &reference
        )
        .await,
        "pending"
    );
    assert_eq!(
        text_of(
            &pool,
            "SELECT CAST(money_cents AS CHAR) FROM top_ups WHERE trade_no = ?",
            &reference
        )
        .await,
        "1250"
    );

    // Stripe refusing the key: a clear error, the order stays unpaid.
    set_option(&root, "StripeApiSecret", "sk_test_wrong").await;
    let refused = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "stripe"}),
        )
        .await;
    assert_eq!(refused.body["message"], "error", "{refused:?}");
    assert_eq!(stripe.sessions().len(), 1);
    let wrong_method = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "alipay"}),
        )
        .await;
    assert_eq!(wrong_method.body["message"], "error");
}
on_every_backend!(stripe_checkout_sessions_are_created_through_the_api);

async fn a_code_credits_once_whoever_redeems_it_concurrently(backend: Backend) {
    // Twenty-one accounts log in from one address: more than the default per-IP budget.
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "100")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(console_with_role(&pylon, &pool, &format!("user{i}"), 1).await);
    }
    let key = create_codes(&root, "once", 123_456, 1, 0).await.remove(0);

    // Twenty users at once: one is credited.
    let answers: Vec<Answer> = join_all(
        users
            .iter()
            .map(|user| user.post("/api/user/topup", json!({ "key": key }))),
    )
    .await;
    let winners: Vec<usize> = (0..20).filter(|i| answers[*i].success()).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for loser in answers.iter().filter(|a| !a.success()) {
        assert!(loser.message().contains("already been used"), "{loser:?}");
    }
    let winner = &users[winners[0]];
    let winner_id = winner.user_id.unwrap();
    assert_eq!(answers[winners[0]].data(), &json!(123_456));
    assert_eq!(
        count(
            &pool,
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM users WHERE role = 1"
        )
        .await,
        123_456
    );
    assert_eq!(quota_of(&pool, winner_id).await, 123_456);
    assert_eq!(winner.get("/api/user/self").await.data()["quota"], 123_456);
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE kind = 'redemption'"
        )
        .await,
        1
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 1",
            winner_id
        )
        .await,
        1
    );
    let code = root
        .get(&format!("/api/redemption/search?keyword={key}"))
        .await;
    assert_eq!(code.data()["items"][0]["status"], 3);
    assert_eq!(code.data()["items"][0]["used_user_id"], winner_id);

    // The record shows in the winner's top-ups, found by payment method.
    let own = winner.get("/api/user/topup/self?keyword=REDEMPTION").await;
    assert_eq!(own.data()["total"], 1, "{own:?}");
    assert_eq!(own.data()["items"][0]["payment_method"], "redemption");
    assert_eq!(own.data()["items"][0]["quota"], 123_456);
    assert_eq!(own.data()["items"][0]["status"], "success");

    // Used, expired, disabled, unknown, empty: a clear reason, nothing changes.
    let alice = &users[(winners[0] + 1) % 20];
    let alice_id = alice.user_id.unwrap();
    let expired = create_codes(&root, "old", 1_000, 1, pylon_shared::db::now_secs() + 3600)
        .await
        .remove(0);
    let disabled = create_codes(&root, "off", 1_000, 1, 0).await.remove(0);
    let disabled_id = root
        .get(&format!("/api/redemption/search?keyword={disabled}"))
        .await
        .data()["items"][0]["id"]
        .as_i64()
        .unwrap();
    put(
        &root,
        "/api/redemption/?status_only=1",
        json!({"id": disabled_id, "status": 2}),
    )
    .await;
    // Its expiry passes (set in the database: the API refuses past expiry times).
    sqlx::query("UPDATE redemptions SET expired_time = ? WHERE `key` = ?")
        .bind(pylon_shared::db::now_secs() - 1)
        .bind(&expired)
        .execute(&pool)
        .await
        .unwrap();
    for (key, reason) in [
        (key.as_str(), "already been used"),
        (expired.as_str(), "expired"),
        (disabled.as_str(), "disabled"),
        (
            "0123456789abcdef0123456789abcdef",
            "Invalid redemption code",
        ),
        ("", "enter a redemption code"),
    ] {
        let answer = alice.post("/api/user/topup", json!({ "key": key })).await;
        assert!(!answer.success(), "{key}: {answer:?}");
        assert!(answer.message().contains(reason), "{key}: {answer:?}");
    }
    assert_eq!(quota_of(&pool, alice_id).await, 0);
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE kind = 'redemption'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM redemptions WHERE status = 3").await,
        1
    );
}
on_every_backend!(a_code_credits_once_whoever_redeems_it_concurrently);

async fn epay_notifications_credit_once_and_only_when_they_match(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let gateway = configure_epay(&pylon, &root).await;
    let notify_url = format!("{}/api/user/epay/notify", pylon.base_url);

    let (order, _) = order_through_epay(&alice, &gateway, 10).await;
    let trade_no = order.trade_no().to_string();
    let genuine = gateway.paid_notification(&order);
    let status = || {
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            &trade_no,
        )
    };

    // Forged, tampered or mismatched: "fail", nothing changes.
    let mut bad_signature = genuine.clone();
    bad_signature.insert("sign".into(), "0".repeat(32));
    let mut tampered = genuine.clone();
    tampered.insert("money".into(), "730.00".into());
    let mut cheaper = genuine.clone();
    cheaper.insert("money".into(), "0.01".into());
    gateway.sign(&mut cheaper);
    let mut other_merchant = genuine.clone();
    other_merchant.insert("pid".into(), "9999".into());
    gateway.sign(&mut other_merchant);
    let mut unknown_order = genuine.clone();
    unknown_order.insert("out_trade_no".into(), "USR1NOnothing".into());
    gateway.sign(&mut unknown_order);
    let empty = BTreeMap::new();
    for (name, params) in [
        ("bad signature", &bad_signature),
        ("tampered amount", &tampered),
        ("signed lower amount", &cheaper),
        ("other merchant", &other_merchant),
        ("unknown order", &unknown_order),
        ("no parameters", &empty),
    ] {
        for post in [false, true] {
            assert_eq!(
                gateway.notify(&notify_url, params, post).await,
                "fail",
                "{name}"
            );
        }
    }
    assert_eq!(status().await, "pending");
    assert_eq!(quota_of(&pool, alice_id).await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM payment_events").await, 0);
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM ledger_movements").await,
        0
    );

    // A notification of an unpaid state is acknowledged and credits nothing.
    let mut waiting = genuine.clone();
    waiting.insert("trade_status".into(), "WAIT_BUYER_PAY".into());
    gateway.sign(&mut waiting);
    assert_eq!(
        gateway.notify(&notify_url, &waiting, false).await,
        "success"
    );
    assert_eq!(status().await, "pending");

    // The genuine notification, five times in a row (GET and POST) and five at once.
    for i in 0..5 {
        assert_eq!(
            gateway.notify(&notify_url, &genuine, i % 2 == 0).await,
            "success"
        );
    }
    let concurrent =
        join_all((0..5).map(|i| gateway.notify(&notify_url, &genuine, i % 2 == 1))).await;
    assert!(concurrent.iter().all(|a| a == "success"), "{concurrent:?}");
    assert_eq!(status().await, "success");
    assert_eq!(quota_of(&pool, alice_id).await, 5_000_000);
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ?",
            alice_id
        )
        .await,
        1
    );
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM payment_events").await, 1);
    let own = alice.get("/api/user/topup/self").await;
    assert_eq!(own.data()["items"][0]["status"], "success");
    assert_eq!(own.data()["items"][0]["payment_method"], "alipay");

    // A second order, paid concurrently with twenty copies of its notification.
    let (second, _) = order_through_epay(&alice, &gateway, 2).await;
    let notification = gateway.paid_notification(&second);
    let answers =
        join_all((0..20).map(|i| gateway.notify(&notify_url, &notification, i % 2 == 0))).await;
    assert!(answers.iter().any(|a| a == "success"), "{answers:?}");
    assert_eq!(quota_of(&pool, alice_id).await, 6_000_000);
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ?",
            alice_id
        )
        .await,
        2
    );

    // Administrators list and search every order; completing a paid one credits nothing.
    // The part of the order numbers before their random characters: alice's prefix.
    let all = root
        .get(&format!("/api/user/topup?keyword=USR{alice_id}NO"))
        .await;
    assert!(all.success(), "{all:?}");
    assert_eq!(all.data()["total"], 2);
    let by_number = root
        .get(&format!("/api/user/topup?keyword={trade_no}"))
        .await;
    assert_eq!(by_number.data()["total"], 1);
    let again = root
        .post("/api/user/topup/complete", json!({ "trade_no": trade_no }))
        .await;
    assert!(again.success(), "{again:?}");
    assert_eq!(quota_of(&pool, alice_id).await, 6_000_000);

    // An order the gateway never confirmed, completed by an administrator: once.
    let (third, _) = order_through_epay(&alice, &gateway, 4).await;
    let complete = || {
        root.post(
            "/api/user/topup/complete",
            json!({ "trade_no": third.trade_no() }),
        )
    };
    let answers = join_all((0..5).map(|_| complete())).await;
    assert!(answers.iter().all(Answer::success), "{answers:?}");
    assert_eq!(quota_of(&pool, alice_id).await, 8_000_000);
    // ... after which the gateway's late notification changes nothing.
    let late = gateway.paid_notification(&third);
    assert_eq!(gateway.notify(&notify_url, &late, true).await, "success");
    assert_eq!(quota_of(&pool, alice_id).await, 8_000_000);
    let unknown = root
        .post("/api/user/topup/complete", json!({ "trade_no": "nope" }))
        .await;
    assert!(unknown.message().contains("does not exist"), "{unknown:?}");

    // A common user can neither list every order nor complete one.
    let (fourth, _) = order_through_epay(&alice, &gateway, 3).await;
    assert!(
        alice
            .get("/api/user/topup")
            .await
            .message()
            .contains("insufficient privileges")
    );
    let refused = alice
        .post(
            "/api/user/topup/complete",
            json!({ "trade_no": fourth.trade_no() }),
        )
        .await;
    assert!(
        refused.message().contains("insufficient privileges"),
        "{refused:?}"
    );
    assert_eq!(quota_of(&pool, alice_id).await, 8_000_000);
    assert_eq!(
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            fourth.trade_no()
        )
        .await,
        "pending"
    );
}
on_every_backend!(epay_notifications_credit_once_and_only_when_they_match);

const STRIPE_WEBHOOK_SECRET: &str = "whsec_pylon_test";

async fn stripe_checkout_credits_once_on_a_signed_webhook(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let stripe = StripeApi::start(STRIPE_SECRET, STRIPE_PRICE).await;
    let webhook = format!("{}/api/stripe/webhook", pylon.base_url);

    // Not configured: refused.
    let answer = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "stripe"}),
        )
        .await;
    assert_eq!(answer.body["message"], "error");

    set_option(&root, "StripeApiSecret", STRIPE_SECRET).await;
    set_option(&root, "StripeWebhookSecret", STRIPE_WEBHOOK_SECRET).await;
    set_option(&root, "StripePriceId", STRIPE_PRICE).await;
    set_option(&root, "StripeUnitPrice", "1.25").await;
    set_option(&root, "StripeApiBaseUrl", &stripe.base_url).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_stripe_topup"], true);
    assert!(!info.body.to_string().contains(STRIPE_SECRET));
    let priced = alice
        .post("/api/user/stripe/amount", json!({"amount": 10}))
        .await;
    assert_eq!(priced.data(), &json!("12.50"));

    let answer = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 10, "payment_method": "stripe", "success_url": "https://evil.example/x"}),
        )
        .await;
    assert_eq!(answer.body["message"], "success", "{answer:?}");
    let sessions = stripe.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(
        answer.data()["pay_link"],
        format!("{}/pay/{}", stripe.base_url, session.id)
    );
    assert_eq!(session.quantity(), 10);
    // A redirect off the site is replaced by the site's own page.
    assert_eq!(
        session.form["success_url"],
        format!("{}/console/log", pylon.base_url)
    );
    let reference = session.reference().to_string();
    assert_eq!(
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            &reference
        )
        .await,
        "pending"
    );

    let now = pylon_shared::db::now_secs();
    let genuine = serde_json::to_vec(&stripe.completed_event(session, 125, "usd")).unwrap();
    // Forged, late, tampered, mismatched: refused, nothing changes.
    assert_eq!(
        stripe.deliver(&webhook, &genuine, "whsec_wrong", now).await,
        400
    );
    assert_eq!(
        stripe
            .deliver(&webhook, &genuine, STRIPE_WEBHOOK_SECRET, now - 301)
            .await,
        400
    );
    let cheaper = serde_json::to_vec(&stripe.completed_event(session, 1, "usd")).unwrap();
    assert_eq!(
        stripe
            .deliver(&webhook, &cheaper, STRIPE_WEBHOOK_SECRET, now)
            .await,
        200
    );
    let other_currency = serde_json::to_vec(&stripe.completed_event(session, 125, "jpy")).unwrap();
    assert_eq!(
        stripe
            .deliver(&webhook, &other_currency, STRIPE_WEBHOOK_SECRET, now)
            .await,
        200
    );
    assert_eq!(quota_of(&pool, alice_id).await, 0);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM payment_events").await, 0);

    // The genuine event, delivered 100 times, 20 at once: credited once.
    for _ in 0..5 {
        let answers = join_all(
            (0..20).map(|_| stripe.deliver(&webhook, &genuine, STRIPE_WEBHOOK_SECRET, now)),
        )
        .await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    }
    assert_eq!(quota_of(&pool, alice_id).await, 5_000_000);
    assert_eq!(
        text_of(
            &pool,
            "SELECT status FROM top_ups WHERE trade_no = ?",
            &reference
        )
        .await,
        "success"
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE user_id = ?",
            alice_id
        )
        .await,
        1
    );
    // A new event id for the same session credits nothing more either.
    let second = serde_json::to_vec(&stripe.completed_event(session, 125, "usd")).unwrap();
    assert_eq!(
        stripe
            .deliver(&webhook, &second, STRIPE_WEBHOOK_SECRET, now)
            .await,
        200
    );
    assert_eq!(quota_of(&pool, alice_id).await, 5_000_000);
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
}
on_every_backend!(stripe_checkout_credits_once_on_a_signed_webhook);
