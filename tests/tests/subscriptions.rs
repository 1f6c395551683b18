//! Subscriptions (issue 12): plans managed by administrators, bought with the balance or
//! through EPay (activated once by the gateway's notification however often it repeats), or
//! granted by an administrator; relayed requests paid by the subscription or the wallet as the
//! user's billing preference says, never beyond the subscription's quota, even concurrently;
//! the quota restored at its reset. On SQLite and on MySQL + Redis (where the shared counters
//! of the subscriptions do the admission).

use futures::future::join_all;
use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::payment_gateways::{CreemApi, EpayGateway, StripeApi};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-sub";
/// `ModelPrice` of the model: $0.0002 a request, 100 quota at 500 000 quota per dollar.
const PER_REQUEST: i64 = 100;

/// A recorded OpenAI chat completion.
fn answer() -> Canned {
    Canned::json(
        &json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": MODEL, "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
    )
}

/// A Pylon whose subscription clock ticks every second, with a priced model behind a canned
/// upstream (returned to keep it alive).
async fn scene(backend: Backend) -> (Pylon, Console, AnyPool, CannedUpstream) {
    let upstream = CannedUpstream::start(|_, _| answer()).await;
    let pylon = Pylon::builder(backend)
        .env("PYLON__CONTROL_PLANE__SUBSCRIPTION_TICK_SECS", "1")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let db = database(&pylon).await;
    set_option(&root, "ModelPrice", &json!({ MODEL: 0.0002 }).to_string()).await;
    create_channel(
        &root,
        openai_channel("sub-upstream", &upstream.base_url, MODEL),
    )
    .await;
    (pylon, root, db, upstream)
}

async fn create_plan(admin: &Console, plan: Value) -> i64 {
    let answer = admin
        .post("/api/subscription/admin/plans", json!({ "plan": plan }))
        .await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["id"].as_i64().expect("plan id")
}

async fn user_with_quota(pylon: &Pylon, db: &AnyPool, name: &str, quota: i64) -> (Console, i64) {
    let console = console_with_role(pylon, db, name, 1).await;
    let id = console.user_id.expect("user id");
    sqlx::query("UPDATE users SET quota = ? WHERE id = ?")
        .bind(quota)
        .bind(id)
        .execute(db)
        .await
        .expect("quota");
    (console, id)
}

async fn relay(pylon: &Pylon, key: &str) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "max_tokens": 8,
            "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

/// Relays once and waits for its log row; answers whether a subscription paid it.
async fn relay_logged(pylon: &Pylon, db: &AnyPool, key: &str, user: i64) -> Option<bool> {
    let logged = "SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ?";
    let before = scalar_of(db, logged, user).await;
    let (status, text) = relay(pylon, key).await;
    if status != 200 {
        assert_eq!(status, 429, "{text}");
        return None;
    }
    eventually_of(db, logged, user, before + 1).await;
    let other: String = sqlx::query_scalar(
        "SELECT other FROM logs WHERE type = 2 AND user_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(user)
    .fetch_one(db)
    .await
    .expect("log row");
    Some(other.contains("\"billing_source\":\"subscription\""))
}

/// Sets the preference; then relays until the proxy follows it (it learns of the change
/// through the change feed), at most 10 s: answers the outcome of the first request that
/// shows the new preference (`want`).
async fn prefer(
    pylon: &Pylon,
    db: &AnyPool,
    console: &Console,
    key: &str,
    preference: &str,
    want: Option<bool>,
) {
    let answer = console
        .send(
            Method::PUT,
            "/api/subscription/self/preference",
            Some(json!({ "billing_preference": preference }).to_string()),
        )
        .await;
    assert_eq!(
        answer.data()["billing_preference"],
        preference,
        "{answer:?}"
    );
    let user = console.user_id.expect("user id");
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay_logged(pylon, db, key, user).await != want {
        assert!(
            Instant::now() < deadline,
            "the proxy never followed {preference}"
        );
    }
}

async fn plans_are_managed_and_bought_once(backend: Backend) {
    let (pylon, root, db, _upstream) = scene(backend).await;
    // Bad plans are refused with their reason, and nothing is stored.
    for (plan, reason) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x", "price_amount": "1.234"}), "price"),
        (json!({"title": "x", "price_amount": []}), "price"),
        (
            json!({"title": "x", "duration_unit": "fortnight"}),
            "duration_unit",
        ),
        (json!({"title": "x", "duration_unit": "custom"}), "duration"),
        (
            json!({"title": "x", "quota_reset_period": "custom"}),
            "reset",
        ),
        (json!({"title": "x", "total_amount": -1}), "total_amount"),
    ] {
        let answer = root
            .post("/api/subscription/admin/plans", json!({ "plan": plan }))
            .await;
        assert!(!answer.success(), "{plan}: {answer:?}");
        assert!(
            answer.body["message"].as_str().unwrap().contains(reason),
            "{answer:?}"
        );
    }
    let malformed = root
        .post_raw("/api/subscription/admin/plans", "{\"plan\": ")
        .await;
    assert!(!malformed.success(), "{malformed:?}");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM subscription_plans").await,
        0
    );

    let monthly = create_plan(
        &root,
        json!({"title": "Monthly", "subtitle": "300 quota", "price_amount": 2,
            "currency": "USD", "duration_unit": "month", "duration_value": 1,
            "total_amount": 3 * PER_REQUEST, "max_purchase_per_user": 1}),
    )
    .await;
    let yuan = create_plan(
        &root,
        json!({"title": "Yuan", "price_amount": "9.90", "currency": "CNY",
            "duration_unit": "day", "duration_value": 30, "total_amount": 0,
            "sort_order": 5}),
    )
    .await;
    let hidden = create_plan(&root, json!({"title": "Hidden", "price_amount": 1})).await;
    let patched = root
        .send(
            Method::PATCH,
            &format!("/api/subscription/admin/plans/{hidden}"),
            Some(json!({"enabled": false}).to_string()),
        )
        .await;
    assert!(patched.success(), "{patched:?}");
    let unknown = root
        .send(
            Method::PUT,
            "/api/subscription/admin/plans/999999",
            Some(json!({"plan": {"title": "x"}}).to_string()),
        )
        .await;
    assert!(!unknown.success(), "{unknown:?}");

    let (alice, alice_id) = user_with_quota(&pylon, &db, "alice", 3_000_000).await;
    let listed = alice.get("/api/subscription/plans").await;
    let titles: Vec<&str> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plan"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Yuan", "Monthly"],
        "on sale only, higher sort_order first"
    );
    assert_eq!(listed.data()[0]["plan"]["price_amount"], json!(9.9));
    assert_eq!(
        root.get("/api/subscription/admin/plans")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // With the balance: $2 is 1 000 000 quota, taken in the transaction that grants the plan.
    for (plan, reason) in [
        (hidden, "not on sale"),
        (999_999, "does not exist"),
        (yuan, "USD"),
    ] {
        let refused = alice
            .post("/api/subscription/balance/pay", json!({"plan_id": plan}))
            .await;
        assert_eq!(refused.body["message"], "error", "{refused:?}");
        assert!(
            refused.data().as_str().unwrap().contains(reason),
            "{refused:?}"
        );
    }
    let bought = alice
        .post("/api/subscription/balance/pay", json!({"plan_id": monthly}))
        .await;
    assert_eq!(bought.body["message"], "success", "{bought:?}");
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        2_000_000
    );
    let again = alice
        .post("/api/subscription/balance/pay", json!({"plan_id": monthly}))
        .await;
    assert!(
        again
            .data()
            .as_str()
            .unwrap()
            .contains("as often as it allows"),
        "{again:?}"
    );
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        2_000_000
    );
    let own = alice.get("/api/subscription/self").await;
    assert_eq!(own.data()["billing_preference"], "subscription_first");
    assert_eq!(own.data()["subscriptions"].as_array().unwrap().len(), 1);
    let subscription = &own.data()["subscriptions"][0]["subscription"];
    assert_eq!(subscription["amount_total"], 3 * PER_REQUEST);
    assert_eq!(subscription["source"], "balance");
    assert_eq!(subscription["status"], "active");

    // Through EPay: a pending order, activated once by the signed notification, whatever the
    // repetition; a forged amount or an unknown order activates nothing.
    let gateway = EpayGateway::configured(&pylon, &root, "1001", "epay-sub-key").await;
    let order = alice
        .post(
            "/api/subscription/epay/pay",
            json!({"plan_id": yuan, "payment_method": "alipay"}),
        )
        .await;
    assert_eq!(order.body["message"], "success", "{order:?}");
    assert_eq!(order.data()["money"], "9.90");
    let notify_url = format!("{}/api/subscription/epay/notify", pylon.base_url);
    assert_eq!(order.data()["notify_url"], notify_url.as_str());
    let (status, _) = gateway
        .submit(order.body["url"].as_str().unwrap(), order.data())
        .await;
    assert_eq!(status, 200, "{:?}", gateway.refusals());
    let paid = gateway.orders().pop().expect("order at the gateway");
    let trade_no = paid.trade_no().to_string();
    let mut forged = gateway.paid_notification(&paid);
    forged.insert("money".into(), "0.99".into());
    gateway.sign(&mut forged);
    assert_eq!(gateway.notify(&notify_url, &forged, true).await, "fail");
    let mut unknown = gateway.paid_notification(&paid);
    unknown.insert("out_trade_no".into(), "NO-SUCH-ORDER".into());
    gateway.sign(&mut unknown);
    assert_eq!(gateway.notify(&notify_url, &unknown, false).await, "fail");
    let grants = "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ? AND source = 'order'";
    assert_eq!(scalar_of(&db, grants, alice_id).await, 0);
    let notification = gateway.paid_notification(&paid);
    for round in 0..5 {
        let answers = join_all(
            (0..20).map(|i| gateway.notify(&notify_url, &notification, (round + i) % 2 == 0)),
        )
        .await;
        assert!(answers.iter().all(|a| a == "success"), "{answers:?}");
    }
    assert_eq!(
        scalar_of(&db, grants, alice_id).await,
        1,
        "100 notifications, one subscription"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM top_ups WHERE trade_no = ?")
        .bind(&trade_no)
        .fetch_one(&db)
        .await
        .expect("order");
    assert_eq!(status, "success");
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        2_000_000
    );
    let own = alice.get("/api/subscription/self").await;
    assert_eq!(own.data()["subscriptions"].as_array().unwrap().len(), 2);

    // An administrator grants, lists, ends and deletes.
    let (_, bob_id) = user_with_quota(&pylon, &db, "bob", 0).await;
    let granted = root
        .post(
            "/api/subscription/admin/bind",
            json!({"user_id": bob_id, "plan_id": monthly}),
        )
        .await;
    assert!(granted.success(), "{granted:?}");
    for body in [
        json!({"user_id": 999_999, "plan_id": monthly}),
        json!({"user_id": bob_id}),
    ] {
        assert!(
            !root
                .post("/api/subscription/admin/bind", body)
                .await
                .success()
        );
    }
    let listed = root
        .get(&format!(
            "/api/subscription/admin/users/{bob_id}/subscriptions"
        ))
        .await;
    let id = listed.data()[0]["subscription"]["id"].as_i64().expect("id");
    assert_eq!(listed.data()[0]["subscription"]["source"], "admin");
    let ended = root
        .post(
            &format!("/api/subscription/admin/user_subscriptions/{id}/invalidate"),
            json!({}),
        )
        .await;
    assert!(ended.success(), "{ended:?}");
    let listed = root
        .get(&format!(
            "/api/subscription/admin/users/{bob_id}/subscriptions"
        ))
        .await;
    assert_eq!(listed.data()[0]["subscription"]["status"], "cancelled");
    let deleted = root
        .send(
            Method::DELETE,
            &format!("/api/subscription/admin/user_subscriptions/{id}"),
            None,
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    assert_eq!(
        scalar_of(
            &db,
            "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ?",
            bob_id
        )
        .await,
        0
    );
    let gone = root
        .send(
            Method::DELETE,
            &format!("/api/subscription/admin/user_subscriptions/{id}"),
            None,
        )
        .await;
    assert!(!gone.success(), "{gone:?}");
    db.close().await;
}
on_every_backend!(plans_are_managed_and_bought_once);

async fn requests_are_paid_as_the_preference_says(backend: Backend) {
    let (pylon, root, db, _upstream) = scene(backend).await;
    let plan = create_plan(
        &root,
        json!({"title": "Ten", "price_amount": 1, "total_amount": 10 * PER_REQUEST}),
    )
    .await;
    let (alice, alice_id) = user_with_quota(&pylon, &db, "alice", 1_000_000).await;
    let bought = alice
        .post("/api/subscription/balance/pay", json!({"plan_id": plan}))
        .await;
    assert_eq!(bought.body["message"], "success", "{bought:?}");
    let wallet = "SELECT quota FROM users WHERE id = ?";
    assert_eq!(scalar_of(&db, wallet, alice_id).await, 500_000);
    let used = "SELECT amount_used FROM user_subscriptions WHERE user_id = ?";
    let (_, key) = create_key(&alice, "alice-key", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;

    // subscription_first (the default): the subscription pays, the wallet does not move.
    for _ in 0..2 {
        assert_eq!(relay_logged(&pylon, &db, &key, alice_id).await, Some(true));
    }
    eventually_of(&db, used, alice_id, 2 * PER_REQUEST).await;
    assert_eq!(scalar_of(&db, wallet, alice_id).await, 500_000);

    // wallet_first: the wallet pays while it can.
    prefer(&pylon, &db, &alice, &key, "wallet_first", Some(false)).await;
    let before = scalar_of(&db, wallet, alice_id).await;
    let used_before = scalar_of(&db, used, alice_id).await;
    assert_eq!(relay_logged(&pylon, &db, &key, alice_id).await, Some(false));
    eventually_of(&db, wallet, alice_id, before - PER_REQUEST).await;
    assert_eq!(scalar_of(&db, used, alice_id).await, used_before);

    // subscription_only: the subscription pays until its quota is spent, then the request is
    // refused (429) rather than paid by the wallet; the quota is never exceeded.
    prefer(&pylon, &db, &alice, &key, "subscription_only", Some(true)).await;
    loop {
        match relay_logged(&pylon, &db, &key, alice_id).await {
            Some(true) => {}
            None => break,
            Some(false) => panic!("the wallet paid under subscription_only"),
        }
    }
    eventually_of(&db, used, alice_id, 10 * PER_REQUEST).await;
    let wallet_left = scalar_of(&db, wallet, alice_id).await;
    let (status, text) = relay(&pylon, &key).await;
    assert_eq!(status, 429);
    assert!(text.contains("subscription"), "{text}");

    // wallet_only: the wallet pays again.
    prefer(&pylon, &db, &alice, &key, "wallet_only", Some(false)).await;
    assert!(scalar_of(&db, wallet, alice_id).await < wallet_left);
    assert_eq!(scalar_of(&db, used, alice_id).await, 10 * PER_REQUEST);

    // An unknown preference is new-api's default.
    let answer = alice
        .send(
            Method::PUT,
            "/api/subscription/self/preference",
            Some(json!({"billing_preference": "whatever"}).to_string()),
        )
        .await;
    assert_eq!(answer.data()["billing_preference"], "subscription_first");
    db.close().await;
}
on_every_backend!(requests_are_paid_as_the_preference_says);

async fn a_subscription_is_never_overdrawn_and_resets(backend: Backend) {
    let (pylon, root, db, _upstream) = scene(backend).await;
    let five = create_plan(
        &root,
        json!({"title": "Five", "price_amount": 1, "total_amount": 5 * PER_REQUEST}),
    )
    .await;
    let resetting = create_plan(
        &root,
        json!({"title": "One per period", "price_amount": 1, "total_amount": PER_REQUEST,
            "quota_reset_period": "custom", "quota_reset_custom_seconds": 2}),
    )
    .await;

    // 20 requests at once on a subscription that pays for 5: exactly 5 are served.
    let (bob, bob_id) = user_with_quota(&pylon, &db, "bob", 0).await;
    let bound = root
        .post(
            "/api/subscription/admin/bind",
            json!({"user_id": bob_id, "plan_id": five}),
        )
        .await;
    assert!(bound.success(), "{bound:?}");
    let sub_id = bound.data()["subscription"]["id"].as_i64().expect("id");
    let (_, key) = create_key(&bob, "bob-key", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let statuses = join_all((0..20).map(|_| relay(&pylon, &key))).await;
    let served = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(served, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let used = "SELECT amount_used FROM user_subscriptions WHERE id = ?";
    eventually_of(&db, used, sub_id, 5 * PER_REQUEST).await;
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", bob_id).await,
        0
    );
    if backend == Backend::MySqlRedis {
        // The shared counter of the subscription did the admission.
        eventually_redis(&pylon, &format!("bal:s:{sub_id}:stored"), 0).await;
    }

    // A quota that resets every 2 s: spent, refused, then restored by the clock.
    let (carol, carol_id) = user_with_quota(&pylon, &db, "carol", 0).await;
    let bound = root
        .post(
            &format!("/api/subscription/admin/users/{carol_id}/subscriptions"),
            json!({"plan_id": resetting}),
        )
        .await;
    let sub_id = bound.data()["subscription"]["id"].as_i64().expect("id");
    assert!(
        bound.data()["subscription"]["next_reset_time"]
            .as_i64()
            .unwrap()
            > 0
    );
    let (_, key) = create_key(&carol, "carol-key", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut refused = false;
    let mut served_after_refusal = false;
    while !served_after_refusal {
        assert!(Instant::now() < deadline, "spent {refused}, never restored");
        let (status, text) = relay(&pylon, &key).await;
        match status {
            429 => refused = true,
            200 if refused => served_after_refusal = true,
            200 => {}
            other => panic!("{other}: {text}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last_reset = scalar_of(
        &db,
        "SELECT last_reset_time FROM user_subscriptions WHERE id = ?",
        sub_id,
    )
    .await;
    let next_reset = scalar_of(
        &db,
        "SELECT next_reset_time FROM user_subscriptions WHERE id = ?",
        sub_id,
    )
    .await;
    assert!(
        next_reset > last_reset && last_reset > 0,
        "{last_reset} {next_reset}"
    );
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", carol_id).await,
        0
    );
    db.close().await;
}
on_every_backend!(a_subscription_is_never_overdrawn_and_resets);

async fn stripe_and_creem_checkouts_activate_once(backend: Backend) {
    let (pylon, root, db, _upstream) = scene(backend).await;
    let stripe = StripeApi::start("sk_test_sub", "price_sub_monthly").await;
    let creem = CreemApi::start("creem_sub_key", &[("prod_sub", 1500, "USD")]).await;
    for (option, value) in [
        ("StripeApiSecret", "sk_test_sub"),
        ("StripeWebhookSecret", "whsec_sub"),
        ("StripeApiBaseUrl", stripe.base_url.as_str()),
        ("CreemApiKey", "creem_sub_key"),
        ("CreemWebhookSecret", "whsec_creem_sub"),
        ("CreemApiBaseUrl", creem.base_url.as_str()),
        ("ServerAddress", pylon.base_url.as_str()),
    ] {
        set_option(&root, option, value).await;
    }
    let by_stripe = create_plan(
        &root,
        json!({"title": "By Stripe", "price_amount": "12.50", "currency": "USD",
            "stripe_price_id": "price_sub_monthly", "total_amount": PER_REQUEST}),
    )
    .await;
    let by_creem = create_plan(
        &root,
        json!({"title": "By Creem", "price_amount": 15, "currency": "USD",
            "creem_product_id": "prod_sub", "total_amount": PER_REQUEST}),
    )
    .await;
    let neither = create_plan(&root, json!({"title": "Neither", "price_amount": 1})).await;
    let (alice, alice_id) = user_with_quota(&pylon, &db, "alice", 0).await;
    let grants = "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ?";
    for path in [
        "/api/subscription/stripe/pay",
        "/api/subscription/creem/pay",
    ] {
        let refused = alice.post(path, json!({"plan_id": neither})).await;
        assert!(
            refused.data().as_str().unwrap().contains("not sold"),
            "{refused:?}"
        );
    }

    // Stripe: one unit of the plan's price; the signed webhook activates once, and only for
    // the plan's amount.
    let paying = alice
        .post(
            "/api/subscription/stripe/pay",
            json!({"plan_id": by_stripe}),
        )
        .await;
    assert_eq!(paying.body["message"], "success", "{paying:?}");
    let session = stripe.sessions().pop().expect("session");
    assert_eq!(session.quantity(), 1);
    assert_eq!(session.form["line_items[0][price]"], "price_sub_monthly");
    let webhook = format!("{}/api/stripe/webhook", pylon.base_url);
    let now = pylon_shared::db::now_secs();
    let cheaper = serde_json::to_vec(&stripe.completed_event(&session, 1, "usd")).unwrap();
    assert_eq!(
        stripe.deliver(&webhook, &cheaper, "whsec_sub", now).await,
        200
    );
    assert_eq!(
        scalar_of(&db, grants, alice_id).await,
        0,
        "a wrong amount activates nothing"
    );
    let genuine = serde_json::to_vec(&stripe.completed_event(&session, 1250, "usd")).unwrap();
    let answers =
        join_all((0..20).map(|_| stripe.deliver(&webhook, &genuine, "whsec_sub", now))).await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    assert_eq!(scalar_of(&db, grants, alice_id).await, 1);

    // Creem: the plan's product; the signed webhook activates once.
    let paying = alice
        .post("/api/subscription/creem/pay", json!({"plan_id": by_creem}))
        .await;
    assert_eq!(paying.body["message"], "success", "{paying:?}");
    let checkout = creem.checkouts().pop().expect("checkout");
    assert_eq!(checkout.product_id(), "prod_sub");
    let webhook = format!("{}/api/creem/webhook", pylon.base_url);
    let genuine = serde_json::to_vec(&creem.completed_event(&checkout)).unwrap();
    let answers =
        join_all((0..20).map(|_| creem.deliver(&webhook, &genuine, "whsec_creem_sub"))).await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    assert_eq!(scalar_of(&db, grants, alice_id).await, 2);
    let own = alice.get("/api/subscription/self").await;
    let sources: Vec<&str> = own.data()["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscription"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["order", "order"]);
    assert_eq!(
        scalar_of(&db, "SELECT quota FROM users WHERE id = ?", alice_id).await,
        0
    );
    db.close().await;
}
on_every_backend!(stripe_and_creem_checkouts_activate_once);

/// Waits until the Redis value `key` of this Pylon's deployment is `expected`.
async fn eventually_redis(pylon: &Pylon, key: &str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = redis_value(pylon, key).await;
        if value == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{key} = {value:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
