//! Seed 001's payment dialect (issue 12): the payment configuration, the user's orders and the
//! YiPay gateway (EPay-compatible) callbacks, over the same orders and the same crediting
//! transaction as new-api's routes.

use futures::future::join_all;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::EpayGateway;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::json;

const MERCHANT: &str = "1001";
const KEY: &str = "yipay-merchant-key";

async fn yipay_orders_are_paid_once_through_signed_notifications(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;

    // Not configured: the configuration says so and no order is taken.
    let config = alice.get("/api/user/payment/config").await;
    assert!(config.success(), "{config:?}");
    assert_eq!(config.data()["enabled"], false);
    assert_eq!(config.data()["channels"], json!([]));
    let refused = alice
        .post(
            "/api/user/payment/orders",
            json!({"amount": "10", "method": "alipay"}),
        )
        .await;
    assert!(!refused.success(), "{refused:?}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    let gateway = EpayGateway::start(MERCHANT, KEY).await;
    set_option(&root, "PayAddress", &gateway.base_url).await;
    set_option(&root, "EpayId", MERCHANT).await;
    set_option(&root, "EpayKey", KEY).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    set_option(&root, "Price", "7.3").await;
    let config = alice.get("/api/user/payment/config").await;
    assert_eq!(config.data()["enabled"], true);
    assert_eq!(config.data()["usd_to_rmb_rate"], "7.3");
    assert_eq!(config.data()["min_recharge_amount"], "1");
    assert_eq!(config.data()["methods"], json!(["alipay", "wxpay"]));
    assert_eq!(config.data()["channels"][0]["id"], "yipay");
    assert_eq!(
        config.data()["channels"][0]["methods"],
        json!(["alipay", "wxpay"])
    );
    assert!(!config.body.to_string().contains(KEY));

    // Bad requests: a clear error, nothing stored.
    for body in [
        json!({"amount": "0", "method": "alipay"}),
        json!({"amount": "1.5", "method": "alipay"}),
        json!({"amount": "10", "method": "bitcoin"}),
        json!({"amount": "10", "method": "alipay", "channel_id": "stripe"}),
    ] {
        let answer = alice.post("/api/user/payment/orders", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
        assert!(!answer.body["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    let created = alice
        .post(
            "/api/user/payment/orders",
            json!({"amount": "10", "method": "alipay", "channel_id": "yipay"}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let order = created.data().clone();
    let order_no = order["order_no"].as_str().unwrap().to_string();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount"], "10");
    assert_eq!(order["rmb_amount"], "73.00");
    assert_eq!(order["method"], "alipay");
    assert_eq!(order["quota"], 5_000_000);
    assert!(order["paid_at"].is_null());
    // The browser opens the payment address: the gateway checks the signed order.
    let payment_url = order["payment_url"].as_str().unwrap();
    assert!(payment_url.starts_with(&format!("{}/submit.php?", gateway.base_url)));
    let opened = reqwest::get(payment_url).await.unwrap();
    assert_eq!(opened.status(), 200, "{:?}", gateway.refusals());
    let sent = &gateway.orders()[0];
    assert_eq!(sent.trade_no(), order_no);
    assert_eq!(sent.params["money"], "73.00");
    assert_eq!(
        sent.params["notify_url"],
        format!("{}/api/payment/yipay/notify", pylon.base_url)
    );

    let quota_before = alice.get("/api/user/self").await.data()["quota"]
        .as_i64()
        .unwrap();
    let notify_url = format!("{}/api/payment/yipay/notify", pylon.base_url);
    let genuine = gateway.paid_notification(&gateway.orders()[0]);

    // Forged (signed with another key), changed amount (re-signed), another merchant, an
    // unknown order, and the genuine notification sent to new-api's EPay path (the order is
    // YiPay's): each refused, nothing credited.
    let mut forged = genuine.clone();
    forged.insert("money".into(), "0.01".into());
    let mut cheaper = genuine.clone();
    cheaper.insert("money".into(), "7.30".into());
    gateway.sign(&mut cheaper);
    let mut other_merchant = genuine.clone();
    other_merchant.insert("pid".into(), "2002".into());
    gateway.sign(&mut other_merchant);
    let mut unknown = genuine.clone();
    unknown.insert("out_trade_no".into(), "USR1NOnothing1".into());
    gateway.sign(&mut unknown);
    for (bad, what) in [
        (&forged, "forged"),
        (&cheaper, "changed amount"),
        (&other_merchant, "another merchant"),
        (&unknown, "unknown order"),
    ] {
        assert_eq!(
            gateway.notify(&notify_url, bad, true).await,
            "fail",
            "{what}"
        );
    }
    let epay_url = format!("{}/api/user/epay/notify", pylon.base_url);
    assert_eq!(gateway.notify(&epay_url, &genuine, false).await, "fail");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before
    );
    let pending = alice
        .get(&format!("/api/user/payment/orders/{order_no}"))
        .await;
    assert_eq!(pending.data()["status"], "pending", "{pending:?}");

    // The genuine notification, 20 at once by GET and POST: credited once.
    let answers =
        join_all((0..20).map(|i| gateway.notify(&notify_url, &genuine, i % 2 == 1))).await;
    assert!(answers.iter().all(|a| a == "success"), "{answers:?}");
    assert_eq!(
        gateway.notify(&notify_url, &genuine, false).await,
        "success"
    );
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before + 5_000_000
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM top_ups WHERE status = 'success'"
        )
        .await,
        1
    );

    // The record, in both dialects.
    let record = alice.get("/api/user/topup/self").await;
    assert_eq!(record.data()["items"][0]["trade_no"], order_no.as_str());
    assert_eq!(record.data()["items"][0]["status"], "success");
    let orders = alice.get("/api/user/payment/orders").await;
    assert!(orders.success(), "{orders:?}");
    assert_eq!(orders.data()["total"], 1);
    assert_eq!(orders.data()["items"][0]["order_no"], order_no.as_str());
    assert_eq!(orders.data()["items"][0]["status"], "paid");
    let one = alice
        .get(&format!("/api/user/payment/orders/{order_no}"))
        .await;
    assert_eq!(one.data()["status"], "paid");
    assert!(one.data()["paid_at"].as_str().unwrap().starts_with("20"));

    // Someone else's order is not shown; nobody's without a session.
    let foreign = bob
        .get(&format!("/api/user/payment/orders/{order_no}"))
        .await;
    assert!(!foreign.success(), "{foreign:?}");
    assert_eq!(bob.get("/api/user/payment/orders").await.data()["total"], 0);
    let anonymous = reqwest::get(format!("{}/api/user/payment/orders", pylon.base_url))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The browser's return goes to the top-up page and credits nothing.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = no_redirects
        .get(format!("{}/api/payment/yipay/return", pylon.base_url))
        .query(&genuine)
        .send()
        .await
        .unwrap();
    assert!(back.status().is_redirection(), "{}", back.status());
    assert_eq!(
        back.headers()["location"],
        format!("{}/console/topup", pylon.base_url).as_str()
    );
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before + 5_000_000
    );
}
on_every_backend!(yipay_orders_are_paid_once_through_signed_notifications);
