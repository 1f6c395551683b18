//! Payment secrets (issue 12): the Stripe keys, the EPay key, the Creem key and webhook secret,
//! the WeChat Pay private key and API v3 key are used by every gateway flow yet never returned
//! by any API (`GET /api/option/`, the top-up page, the status page) and never logged, even at
//! debug level.

use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::{CreemApi, EpayGateway, StripeApi, WechatPay};
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::json;

const EPAY_KEY: &str = "epay-key-SECRET-0a1b2c";
const STRIPE_SECRET: &str = "sk_test_SECRET_3d4e5f";
const STRIPE_WEBHOOK: &str = "whsec_SECRET_6a7b8c";
const CREEM_KEY: &str = "creem_SECRET_9d0e1f";
const CREEM_WEBHOOK: &str = "whsec_creem_SECRET_2a3b";

async fn secrets_are_used_but_never_shown_or_logged(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__LOG__LEVEL", "debug")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;

    // EPay: an order signed with the key, its notification verified with it.
    let epay = EpayGateway::start("1001", EPAY_KEY).await;
    set_option(&root, "PayAddress", &epay.base_url).await;
    set_option(&root, "EpayId", "1001").await;
    set_option(&root, "EpayKey", EPAY_KEY).await;
    let order = alice
        .post(
            "/api/user/pay",
            json!({"amount": 1, "payment_method": "alipay"}),
        )
        .await;
    let (status, _) = epay
        .submit(order.body["url"].as_str().unwrap(), order.data())
        .await;
    assert_eq!(status, 200, "{:?}", epay.refusals());
    let notification = epay.paid_notification(&epay.orders()[0]);
    let notify_url = format!("{}/api/user/epay/notify", pylon.base_url);
    assert_eq!(
        epay.notify(&notify_url, &notification, true).await,
        "success"
    );

    // Stripe: a session created with the secret key, a webhook verified with its secret.
    let stripe = StripeApi::start(STRIPE_SECRET, "price_1").await;
    set_option(&root, "StripeApiSecret", STRIPE_SECRET).await;
    set_option(&root, "StripeWebhookSecret", STRIPE_WEBHOOK).await;
    set_option(&root, "StripePriceId", "price_1").await;
    set_option(&root, "StripeApiBaseUrl", &stripe.base_url).await;
    let paid = alice
        .post(
            "/api/user/stripe/pay",
            json!({"amount": 1, "payment_method": "stripe"}),
        )
        .await;
    assert_eq!(paid.body["message"], "success", "{paid:?}");
    let event = stripe.completed_event(&stripe.sessions()[0], 800, "usd");
    let webhook = format!("{}/api/stripe/webhook", pylon.base_url);
    let now = pylon_shared::db::now_secs();
    let payload = serde_json::to_vec(&event).unwrap();
    assert_eq!(
        stripe
            .deliver(&webhook, &payload, STRIPE_WEBHOOK, now)
            .await,
        200
    );

    // Creem: a checkout created with the key, a webhook verified with its secret.
    let creem = CreemApi::start(CREEM_KEY, &[("prod_1", 100, "USD")]).await;
    set_option(&root, "CreemApiKey", CREEM_KEY).await;
    set_option(&root, "CreemWebhookSecret", CREEM_WEBHOOK).await;
    set_option(
        &root,
        "CreemProducts",
        r#"[{"productId":"prod_1","name":"One","price":"1.00","currency":"USD","quota":1000}]"#,
    )
    .await;
    set_option(&root, "CreemApiBaseUrl", &creem.base_url).await;
    let paid = alice
        .post(
            "/api/user/creem/pay",
            json!({"product_id": "prod_1", "payment_method": "creem"}),
        )
        .await;
    assert_eq!(paid.body["message"], "success", "{paid:?}");
    let event = serde_json::to_vec(&creem.completed_event(&creem.checkouts()[0])).unwrap();
    let creem_webhook = format!("{}/api/creem/webhook", pylon.base_url);
    assert_eq!(
        creem.deliver(&creem_webhook, &event, CREEM_WEBHOOK).await,
        200
    );

    // WeChat Pay: a request signed with the private key, a notification sealed with the API
    // v3 key.
    let wechat = WechatPay::start("wx1", "1900000109").await;
    for (key, value) in [
        ("WechatPayAppId", wechat.app_id.as_str()),
        ("WechatPayMchId", wechat.mch_id.as_str()),
        ("WechatPaySerialNo", "SERIAL1"),
        ("WechatPayPrivateKey", wechat.merchant_private_pem.as_str()),
        ("WechatPayApiV3Key", wechat.api_v3_key.as_str()),
        (
            "WechatPayPlatformPublicKey",
            wechat.platform_public_pem.as_str(),
        ),
        ("WechatPayApiBaseUrl", wechat.base_url.as_str()),
    ] {
        set_option(&root, key, value).await;
    }
    root.post(
        "/api/plans",
        json!({"code": "p", "name": "P", "quota": 10, "price": "0.01"}),
    )
    .await;
    let created = alice
        .post(
            "/api/orders/create",
            json!({"planId": "p", "paymentMethod": "wxpay"}),
        )
        .await;
    let order_id = created.data()["orderId"].as_str().unwrap().to_string();
    let qr = alice
        .get(&format!("/api/payment/qrcode?orderId={order_id}"))
        .await;
    assert!(qr.success(), "{qr:?} {:?}", wechat.refusals());
    let notification = wechat.notification(&wechat.paid_transaction(&wechat.orders()[0]), now);
    let wechat_notify = format!("{}/api/payment/wechat/notify", pylon.base_url);
    assert_eq!(wechat.deliver(&wechat_notify, &notification).await, 204);

    // Every payment was credited: 1 unit (EPay) + 1 unit (Stripe) + 1000 + 10.
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        2 * 500_000 + 1_000 + 10
    );

    // Never shown, never logged.
    let private_key_body: String = wechat
        .merchant_private_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let secrets = [
        EPAY_KEY,
        STRIPE_SECRET,
        STRIPE_WEBHOOK,
        CREEM_KEY,
        CREEM_WEBHOOK,
        wechat.api_v3_key.as_str(),
        &private_key_body[100..160],
    ];
    let shown = [
        root.get("/api/option/").await.body.to_string(),
        alice.get("/api/user/topup/info").await.body.to_string(),
        root.get("/api/status").await.body.to_string(),
    ];
    let logs = pylon.logs();
    assert!(logs.contains("DEBUG"), "debug logging is on");
    let stored = raw_options(&pool).await;
    for secret in secrets {
        for body in &shown {
            assert!(!body.contains(secret), "an API shows {secret}");
        }
        assert!(!logs.contains(secret), "the logs show {secret}");
        assert!(
            stored.iter().all(|(_, value)| !value.contains(secret)),
            "the options table holds {secret} in clear"
        );
    }
    for key in SEALED {
        let value = &stored.iter().find(|(k, _)| k == key).unwrap().1;
        assert!(
            value.starts_with("sealed:v1:"),
            "{key} is stored as {value}"
        );
    }
}
on_every_backend!(secrets_are_used_but_never_shown_or_logged);

/// The options holding a payment credential, stored sealed.
const SEALED: [&str; 7] = [
    "EpayKey",
    "StripeApiSecret",
    "StripeWebhookSecret",
    "CreemApiKey",
    "CreemWebhookSecret",
    "WechatPayPrivateKey",
    "WechatPayApiV3Key",
];

/// Every row of the `options` table as the database holds it.
async fn raw_options(pool: &sqlx::AnyPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT `key`, value FROM options")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// A credential stored in clear before sealing existed still works, and is sealed in place
/// the first time it is read; one sealed under another key encryption secret is refused as
/// "not configured" rather than used.
async fn plaintext_credentials_still_work_and_get_sealed(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    let epay = EpayGateway::start("1001", EPAY_KEY).await;
    set_option(&root, "PayAddress", &epay.base_url).await;
    set_option(&root, "EpayId", "1001").await;
    // As an older version stored it: in clear.
    sqlx::query("INSERT INTO options (`key`, value) VALUES ('EpayKey', ?)")
        .bind(EPAY_KEY)
        .execute(&pool)
        .await
        .unwrap();

    let order = alice
        .post(
            "/api/user/pay",
            json!({"amount": 1, "payment_method": "alipay"}),
        )
        .await;
    assert_eq!(order.body["message"], "success", "{order:?}");
    let stored = raw_options(&pool).await;
    let value = &stored.iter().find(|(k, _)| k == "EpayKey").unwrap().1;
    assert!(value.starts_with("sealed:v1:"), "EpayKey is still {value}");
    assert!(!value.contains(EPAY_KEY));

    // The order was signed, and its notification verified, with the same key.
    let (status, _) = epay
        .submit(order.body["url"].as_str().unwrap(), order.data())
        .await;
    assert_eq!(status, 200, "{:?}", epay.refusals());
    let notification = epay.paid_notification(&epay.orders()[0]);
    let notify_url = format!("{}/api/user/epay/notify", pylon.base_url);
    assert_eq!(
        epay.notify(&notify_url, &notification, true).await,
        "success"
    );
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 500_000);

    // Sealed under another secret (the key encryption secret changed): not usable, so EPay
    // counts as not configured and nothing is signed with a wrong key.
    sqlx::query("UPDATE options SET value = ? WHERE `key` = 'EpayKey'")
        .bind("sealed:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .execute(&pool)
        .await
        .unwrap();
    let refused = alice
        .post(
            "/api/user/pay",
            json!({"amount": 1, "payment_method": "alipay"}),
        )
        .await;
    assert_eq!(refused.body["message"], "error", "{refused:?}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 1);
}
on_every_backend!(plaintext_credentials_still_work_and_get_sealed);
