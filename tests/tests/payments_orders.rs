//! Plans and their orders (issue 12, seed 002): administrators manage plans; a user orders one,
//! pays it through WeChat Pay Native (`/api/payment/qrcode`: API v3 signed request; the
//! notification's platform signature verified and its resource decrypted) and is credited
//! once whatever the repetition and concurrency; forged, stale, tampered, mismatched and
//! unknown notifications change nothing. Orders move pending → paid | expired | cancelled and
//! never back; a late payment of an expired order does not credit, an administrator may still
//! complete it. Redemption codes also redeem through `/api/coupon/redeem`.

use futures::future::join_all;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::{WechatNotification, WechatOrder, WechatPay};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::AnyPool;

const API_V3_KEY_OPTION: &str = "WechatPayApiV3Key";

async fn send(console: &Console, method: Method, path: &str, body: Value) -> Answer {
    console.send(method, path, Some(body.to_string())).await
}

async fn status_of(pool: &AnyPool, trade_no: &str) -> String {
    sqlx::query_scalar("SELECT status FROM top_ups WHERE trade_no = ?")
        .bind(trade_no)
        .fetch_one(pool)
        .await
        .expect("order status")
}

async fn configure_wechat(pylon: &Pylon, root: &Console) -> WechatPay {
    let wechat = WechatPay::start("wx8888888888888888", "1900000109").await;
    set_option(root, "WechatPayAppId", &wechat.app_id).await;
    set_option(root, "WechatPayMchId", &wechat.mch_id).await;
    set_option(
        root,
        "WechatPaySerialNo",
        "5157F09EFDC096DE15EBE81A47057A72",
    )
    .await;
    set_option(root, "WechatPayPrivateKey", &wechat.merchant_private_pem).await;
    set_option(root, API_V3_KEY_OPTION, &wechat.api_v3_key).await;
    set_option(
        root,
        "WechatPayPlatformPublicKey",
        &wechat.platform_public_pem,
    )
    .await;
    set_option(root, "WechatPayApiBaseUrl", &wechat.base_url).await;
    set_option(root, "ServerAddress", &pylon.base_url).await;
    wechat
}

/// Orders `plan` and gets its QR code; answers the order number and what WeChat Pay received.
async fn order_and_scan(user: &Console, wechat: &WechatPay, plan: &str) -> (String, WechatOrder) {
    let created = user
        .post(
            "/api/orders/create",
            json!({"planId": plan, "paymentMethod": "wxpay"}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    assert_eq!(created.data()["status"], "pending");
    let trade_no = created.data()["orderId"].as_str().unwrap().to_string();
    let before = wechat.orders().len();
    let qr = user
        .get(&format!("/api/payment/qrcode?orderId={trade_no}"))
        .await;
    assert!(qr.success(), "{qr:?} refusals {:?}", wechat.refusals());
    let orders = wechat.orders();
    assert_eq!(orders.len(), before + 1);
    let order = orders[before].clone();
    assert_eq!(qr.body["code_url"], order.code_url.as_str());
    assert_eq!(qr.data()["code_url"], order.code_url.as_str());
    assert_eq!(qr.body["orderId"], trade_no.as_str());
    let expires_in = qr.body["expires_in"].as_i64().unwrap();
    assert!((1..=1800).contains(&expires_in), "{qr:?}");
    assert_eq!(order.trade_no(), trade_no);
    (trade_no, order)
}

async fn plans_are_managed_by_administrators(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;

    // Bad input: its reason, nothing created. A common user cannot manage plans.
    for (body, reason) in [
        (
            json!({"code": "", "name": "x", "quota": 1, "price": "1"}),
            "code",
        ),
        (
            json!({"code": "123", "name": "x", "quota": 1, "price": "1"}),
            "code",
        ),
        (
            json!({"code": "a b", "name": "x", "quota": 1, "price": "1"}),
            "code",
        ),
        (
            json!({"code": "p", "name": "", "quota": 1, "price": "1"}),
            "name",
        ),
        (
            json!({"code": "p", "name": "x", "quota": 0, "price": "1"}),
            "quota",
        ),
        (
            json!({"code": "p", "name": "x", "quota": 1, "price": "0"}),
            "price",
        ),
        (
            json!({"code": "p", "name": "x", "quota": 1, "price": "1.999"}),
            "price",
        ),
        (
            json!({"code": "p", "name": "x", "quota": 1, "price": "-1"}),
            "price",
        ),
        (
            json!({"code": "p", "name": "x", "quota": 1, "price": "1", "currency": "US"}),
            "currency",
        ),
    ] {
        let answer = root.post("/api/plans", body.clone()).await;
        assert!(!answer.success(), "{body}");
        assert!(answer.message().contains(reason), "{body}: {answer:?}");
    }
    let mine = alice
        .post(
            "/api/plans",
            json!({"code": "free", "name": "Free", "quota": 1, "price": "1"}),
        )
        .await;
    assert!(
        mine.message().contains("insufficient privileges"),
        "{mine:?}"
    );
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM plans").await, 0);

    // Create, list, read by id and code, update, withdraw, delete.
    let starter = root
        .post(
            "/api/plans",
            json!({"planId": "starter_monthly", "name": "Starter", "quota": 5_000_000, "price": "9.90", "sort_order": 1}),
        )
        .await;
    assert!(starter.success(), "{starter:?}");
    assert_eq!(starter.data()["price"], "9.90");
    assert_eq!(starter.data()["price_cents"], 990);
    assert_eq!(starter.data()["currency"], "CNY");
    let starter_id = starter.data()["id"].as_i64().unwrap();
    let pro = root
        .post(
            "/api/plans",
            json!({"code": "pro", "name": "Pro", "quota": 60_000_000, "price": 99.9, "sort_order": 2}),
        )
        .await;
    assert_eq!(pro.data()["price_cents"], 9990, "{pro:?}");
    let taken = root
        .post(
            "/api/plans",
            json!({"code": "pro", "name": "Again", "quota": 1, "price": "1"}),
        )
        .await;
    assert!(taken.message().contains("Another plan"), "{taken:?}");
    let list = alice.get("/api/plans").await;
    assert_eq!(list.data().as_array().unwrap().len(), 2, "{list:?}");
    assert_eq!(list.data()[0]["planId"], "starter_monthly");
    let by_code = alice.get("/api/plans/starter_monthly").await;
    assert_eq!(by_code.data()["id"], starter_id);
    let by_id = alice.get(&format!("/api/plans/{starter_id}")).await;
    assert_eq!(by_id.data()["planId"], "starter_monthly");
    let updated = send(
        &root,
        Method::PUT,
        &format!("/api/plans/{starter_id}"),
        json!({"code": "starter_monthly", "name": "Starter+", "quota": 6_000_000, "price": "12.00", "enabled": false}),
    )
    .await;
    assert!(updated.success(), "{updated:?}");
    assert_eq!(updated.data()["name"], "Starter+");
    // Withdrawn: hidden from users, still seen by administrators.
    assert_eq!(
        alice
            .get("/api/plans")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(!alice.get("/api/plans/starter_monthly").await.success());
    assert_eq!(
        root.get("/api/plans?all=1")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let unknown = send(
        &root,
        Method::PUT,
        "/api/plans/999",
        json!({"code": "x", "name": "x", "quota": 1, "price": "1"}),
    )
    .await;
    assert!(unknown.message().contains("does not exist"), "{unknown:?}");
    let refused = send(
        &alice,
        Method::DELETE,
        &format!("/api/plans/{starter_id}"),
        json!({}),
    )
    .await;
    assert!(!refused.success());
    let deleted = send(
        &root,
        Method::DELETE,
        &format!("/api/plans/{starter_id}"),
        json!({}),
    )
    .await;
    assert!(deleted.success(), "{deleted:?}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM plans").await, 1);
}
on_every_backend!(plans_are_managed_by_administrators);

async fn plan_orders_are_paid_once_through_wechat_pay(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let notify_url = format!("{}/api/payment/wechat/notify", pylon.base_url);
    let created = root
        .post(
            "/api/plans",
            json!({"code": "starter_monthly", "name": "Starter", "quota": 5_000_000, "price": "9.90"}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    root.post(
        "/api/plans",
        json!({"code": "usd", "name": "Dollars", "quota": 1, "price": "1", "currency": "USD"}),
    )
    .await;

    // Not configured: refused, no order.
    let refused = alice
        .post(
            "/api/orders/create",
            json!({"planId": "starter_monthly", "paymentMethod": "wxpay"}),
        )
        .await;
    assert!(refused.message().contains("not configured"), "{refused:?}");
    let wechat = configure_wechat(&pylon, &root).await;
    // The private key and the API v3 key are never shown.
    let options = root.get("/api/option/").await.body.to_string();
    assert!(!options.contains(&wechat.api_v3_key));
    assert!(!options.contains("PRIVATE KEY"));

    // Bad orders: a reason, nothing recorded.
    for (body, reason) in [
        (
            json!({"planId": "nope", "paymentMethod": "wxpay"}),
            "does not exist",
        ),
        (
            json!({"planId": "", "paymentMethod": "wxpay"}),
            "choose a plan",
        ),
        (
            json!({"planId": "starter_monthly", "paymentMethod": "bitcoin"}),
            "Unsupported",
        ),
        (json!({"planId": "usd", "paymentMethod": "wxpay"}), "CNY"),
    ] {
        let answer = alice.post("/api/orders/create", body.clone()).await;
        assert!(!answer.success(), "{body}");
        assert!(answer.message().contains(reason), "{body}: {answer:?}");
    }
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    let (trade_no, order) = order_and_scan(&alice, &wechat, "starter_monthly").await;
    assert_eq!(order.total(), 990);
    assert_eq!(order.request["notify_url"], notify_url.as_str());
    assert_eq!(order.request["description"], "Starter");
    let now = pylon_shared::db::now_secs();
    let paid = wechat.paid_transaction(&order);
    let genuine = wechat.notification(&paid, now);

    // Forged, stale, tampered, mismatched, unknown: refused, nothing changes.
    let impostor = WechatPay::start("wx8888888888888888", "1900000109").await;
    let forged = WechatNotification {
        signature: impostor.signed(genuine.body.clone(), now).signature,
        ..genuine.clone()
    };
    let tampered = WechatNotification {
        body: genuine.body.replace("encrypt-resource", "encrypt-resourcf"),
        ..genuine.clone()
    };
    let stale = wechat.notification(&paid, now - 301);
    let mut cheaper = paid.clone();
    cheaper["amount"]["total"] = json!(1);
    let mut other_currency = paid.clone();
    other_currency["amount"]["currency"] = json!("USD");
    let mut other_merchant = paid.clone();
    other_merchant["mchid"] = json!("1900000999");
    let mut unknown = paid.clone();
    unknown["out_trade_no"] = json!("ord_unknown_order_number");
    let sealed_elsewhere = pylon_shared::payment::wechat::encrypt_resource(
        "ffffffffffffffffffffffffffffffff",
        paid.to_string().as_bytes(),
        "abcdefabcdef",
        "transaction",
    )
    .unwrap();
    let body = json!({"id": "EV-x", "event_type": "TRANSACTION.SUCCESS", "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": sealed_elsewhere, "nonce": "abcdefabcdef", "associated_data": "transaction"}}).to_string();
    let wrong_key = wechat.signed(body, now);
    for (name, notification, status) in [
        ("forged signature", forged, 401),
        ("tampered body", tampered, 401),
        ("stale timestamp", stale, 401),
        ("other API v3 key", wrong_key, 401),
        ("lower amount", wechat.notification(&cheaper, now), 400),
        (
            "other currency",
            wechat.notification(&other_currency, now),
            400,
        ),
        (
            "other merchant",
            wechat.notification(&other_merchant, now),
            400,
        ),
        ("unknown order", wechat.notification(&unknown, now), 400),
    ] {
        assert_eq!(
            wechat.deliver(&notify_url, &notification).await,
            status,
            "{name}"
        );
    }
    assert_eq!(status_of(&pool, &trade_no).await, "pending");
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 0);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM payment_events").await,
        0
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM ledger_movements").await,
        0
    );

    // The genuine notification, 100 times, 20 at once: credited once.
    for _ in 0..5 {
        let answers = join_all((0..20).map(|_| wechat.deliver(&notify_url, &genuine))).await;
        assert!(answers.iter().all(|s| *s == 204), "{answers:?}");
    }
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM ledger_movements").await,
        1
    );
    assert_eq!(status_of(&pool, &trade_no).await, "success");
    let own = alice
        .get(&format!("/api/user/topup/self?keyword={trade_no}"))
        .await;
    assert_eq!(own.data()["items"][0]["status"], "success", "{own:?}");
    assert_eq!(own.data()["items"][0]["payment_method"], "wxpay");
    assert_eq!(own.data()["items"][0]["money_cents"], 990);
    let orders = alice.get("/api/orders").await;
    assert_eq!(orders.data()["total"], 1, "{orders:?}");
    assert_eq!(orders.data()["items"][0]["status"], "paid");
    assert_eq!(orders.data()["items"][0]["amount"], "9.90");

    // A paid order is never cancelled, nor paid again.
    let cancel = alice
        .post(&format!("/api/orders/{trade_no}/cancel"), json!({}))
        .await;
    assert!(
        cancel.message().contains("paid order cannot be cancelled"),
        "{cancel:?}"
    );
    let again = alice
        .get(&format!("/api/payment/qrcode?orderId={trade_no}"))
        .await;
    assert!(
        again.message().contains("not waiting for payment"),
        "{again:?}"
    );
    assert_eq!(status_of(&pool, &trade_no).await, "success");

    // A cancelled order: cancelled once, never paid afterwards.
    let (cancelled_no, cancelled) = order_and_scan(&alice, &wechat, "starter_monthly").await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let not_bobs = bob
        .post(&format!("/api/orders/{cancelled_no}/cancel"), json!({}))
        .await;
    assert!(
        not_bobs.message().contains("does not exist"),
        "{not_bobs:?}"
    );
    let cancel = alice
        .post(&format!("/api/orders/{cancelled_no}/cancel"), json!({}))
        .await;
    assert!(cancel.success(), "{cancel:?}");
    assert_eq!(cancel.data()["status"], "cancelled");
    let twice = alice
        .post(&format!("/api/orders/{cancelled_no}/cancel"), json!({}))
        .await;
    assert!(twice.message().contains("already cancelled"), "{twice:?}");
    let late = wechat.notification(&wechat.paid_transaction(&cancelled), now);
    assert_eq!(wechat.deliver(&notify_url, &late).await, 400);
    assert_eq!(status_of(&pool, &cancelled_no).await, "cancelled");

    // An order past its time expires; its late payment credits nothing, until an
    // administrator completes it (once).
    let (late_no, late_order) = order_and_scan(&alice, &wechat, "starter_monthly").await;
    sqlx::query("UPDATE top_ups SET create_time = create_time - 3600 WHERE trade_no = ?")
        .bind(&late_no)
        .execute(&pool)
        .await
        .unwrap();
    let late = wechat.notification(&wechat.paid_transaction(&late_order), now);
    assert_eq!(wechat.deliver(&notify_url, &late).await, 400);
    assert_eq!(status_of(&pool, &late_no).await, "expired");
    let listed = alice.get("/api/orders").await;
    assert_eq!(listed.data()["items"][0]["status"], "expired", "{listed:?}");
    let cancel = alice
        .post(&format!("/api/orders/{late_no}/cancel"), json!({}))
        .await;
    assert!(cancel.message().contains("expired"), "{cancel:?}");
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
    let completions = join_all(
        (0..5).map(|_| root.post("/api/user/topup/complete", json!({"trade_no": late_no}))),
    )
    .await;
    assert!(completions.iter().all(Answer::success), "{completions:?}");
    assert_eq!(status_of(&pool, &late_no).await, "success");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        10_000_000
    );
    assert_eq!(wechat.deliver(&notify_url, &late).await, 204);
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        10_000_000
    );
    // An administrator cannot revive a cancelled order.
    let revive = root
        .post(
            "/api/user/topup/complete",
            json!({"trade_no": cancelled_no}),
        )
        .await;
    assert!(!revive.success(), "{revive:?}");
    assert_eq!(status_of(&pool, &cancelled_no).await, "cancelled");

    // The time an order waits is the operator's: one minute here.
    set_option(&root, "payment_setting.order_expire_minutes", "1").await;
    let (short_no, short_order) = order_and_scan(&alice, &wechat, "starter_monthly").await;
    let qr = alice
        .get(&format!("/api/payment/qrcode?orderId={short_no}"))
        .await;
    assert!(qr.body["expires_in"].as_i64().unwrap() <= 60, "{qr:?}");
    sqlx::query("UPDATE top_ups SET create_time = create_time - 61 WHERE trade_no = ?")
        .bind(&short_no)
        .execute(&pool)
        .await
        .unwrap();
    let late = wechat.notification(&wechat.paid_transaction(&short_order), now);
    assert_eq!(wechat.deliver(&notify_url, &late).await, 400);
    assert_eq!(status_of(&pool, &short_no).await, "expired");
    let expired_qr = alice
        .get(&format!("/api/payment/qrcode?orderId={short_no}"))
        .await;
    assert!(expired_qr.message().contains("expired"), "{expired_qr:?}");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        10_000_000
    );

    // Anonymous callers are refused.
    let anonymous = Console::new(&pylon.base_url);
    assert_eq!(anonymous.get("/api/orders").await.status, 401);
    assert_eq!(
        anonymous
            .get(&format!("/api/payment/qrcode?orderId={late_no}"))
            .await
            .status,
        401
    );
}
on_every_backend!(plan_orders_are_paid_once_through_wechat_pay);

async fn coupons_redeem_like_redemption_codes(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let codes = root
        .post(
            "/api/redemption/",
            json!({"name": "welcome", "quota": 250_000, "count": 1}),
        )
        .await;
    let code = codes.data()[0].as_str().unwrap().to_string();
    let answers =
        join_all((0..10).map(|_| alice.post("/api/coupon/redeem", json!({"code": code})))).await;
    assert_eq!(
        answers.iter().filter(|a| a.success()).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 250_000);
    let used = alice
        .post("/api/coupon/redeem", json!({"code": code}))
        .await;
    assert!(used.message().contains("already been used"), "{used:?}");
    let unknown = alice
        .post("/api/coupon/redeem", json!({"code": "WELCOME2026"}))
        .await;
    assert!(
        unknown.message().contains("Invalid redemption code"),
        "{unknown:?}"
    );
    let own = alice.get("/api/user/topup/self").await;
    assert_eq!(own.data()["items"][0]["payment_method"], "redemption");
}
on_every_backend!(coupons_redeem_like_redemption_codes);
