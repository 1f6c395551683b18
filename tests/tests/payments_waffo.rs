//! Waffo (new-api's global card gateway): top-up orders priced at `WaffoUnitPrice` and created
//! at Waffo with the merchant's RSA signature, credited by Waffo's signed payment notification
//! exactly once, whatever the repetition and concurrency; a forged or altered signature, a
//! changed amount, currency or merchant and an unknown order refused with nothing changed; a
//! disabled gateway refuses new orders. The mock Waffo checks the API key, the signature of
//! each request, the merchant and the amount it receives, and checks Pylon's signed answers.

use futures::future::join_all;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::waffo_gateway::{WaffoApi, WaffoOrder};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};

const API_KEY: &str = "wk_live_pylon_waffo_key";
const MERCHANT: &str = "M-PYLON-0001";

async fn configure(root: &Console, pylon: &Pylon, waffo: &WaffoApi) {
    set_option(root, "ServerAddress", &pylon.base_url).await;
    set_option(root, "WaffoApiKey", API_KEY).await;
    set_option(root, "WaffoPrivateKey", &waffo.merchant_private_key).await;
    set_option(root, "WaffoPublicCert", &waffo.waffo_public_key).await;
    set_option(root, "WaffoMerchantId", MERCHANT).await;
    set_option(root, "WaffoApiBaseUrl", &waffo.base_url).await;
    set_option(root, "WaffoUnitPrice", "2").await;
}

async fn pay(user: &Console, body: Value) -> Value {
    user.post("/api/user/waffo/pay", body).await.body
}

async fn user_id(pool: &sqlx::AnyPool, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
        .bind(username)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn order_row(pool: &sqlx::AnyPool, trade_no: &str) -> (i64, String, i64, i64, String) {
    sqlx::query_as(
        "SELECT user_id, status, quota, money_cents, currency FROM top_ups WHERE trade_no = ?",
    )
    .bind(trade_no)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Nothing has been credited: no quota, no event, no movement.
async fn assert_nothing_credited(pool: &sqlx::AnyPool) {
    assert_eq!(
        scalar(
            pool,
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM users WHERE role = 1"
        )
        .await,
        0
    );
    assert_eq!(scalar(pool, "SELECT COUNT(*) FROM payment_events").await, 0);
    assert_eq!(
        scalar(pool, "SELECT COUNT(*) FROM ledger_movements").await,
        0
    );
}

async fn waffo_orders_credit_once_on_a_signed_notification(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let (alice_id, bob_id) = (user_id(&pool, "alice").await, user_id(&pool, "bob").await);
    let waffo = WaffoApi::start(API_KEY, MERCHANT).await;
    let webhook = format!("{}/api/waffo/webhook", pylon.base_url);

    // Not configured: orders refused, notifications forbidden, nothing recorded.
    let refused = pay(&alice, json!({"amount": 10})).await;
    assert_eq!(refused["message"], "error", "{refused}");
    assert!(refused["data"].as_str().unwrap().contains("not enabled"));
    let early = waffo.deliver(&webhook, b"{}").await;
    assert_eq!(early.status, 403, "{early:?}");

    // Configured but switched off: still a clear refusal.
    configure(&root, &pylon, &waffo).await;
    let refused = pay(&alice, json!({"amount": 10})).await;
    assert!(refused["data"].as_str().unwrap().contains("not enabled"));
    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_waffo_topup"], false, "{info:?}");
    assert!(info.data()["waffo_pay_methods"].is_null());
    set_option(&root, "WaffoEnabled", "true").await;

    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_waffo_topup"], true, "{info:?}");
    assert_eq!(info.data()["waffo_min_topup"], 1);
    let methods = info.data()["waffo_pay_methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3);
    assert_eq!(methods[1]["payMethodType"], "APPLEPAY");
    assert!(
        info.data()["pay_methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "waffo")
    );
    // The API key and the private key are never shown, and are stored sealed.
    let options = root.get("/api/option/").await;
    assert!(options.success());
    for shown in [info.body.to_string(), options.body.to_string()] {
        assert!(!shown.contains(API_KEY) && !shown.contains(&waffo.merchant_private_key));
    }
    let stored: String = sqlx::query_scalar("SELECT value FROM options WHERE `key` = ?")
        .bind("WaffoPrivateKey")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("sealed:") && !stored.contains(&waffo.merchant_private_key));

    // The price of an amount: 10 units at 2 each.
    let quote = alice
        .post("/api/user/waffo/amount", json!({"amount": 10}))
        .await;
    assert_eq!(quote.body["data"], "20.00", "{quote:?}");

    // Bad requests: a clear reason, no order, nothing sent to Waffo.
    for (body, reason) in [
        (json!({"amount": 0}), "less than"),
        (json!({"amount": -5}), "less than"),
        (
            json!({"amount": 10, "pay_method_index": 3}),
            "not supported",
        ),
        (
            json!({"amount": 10, "pay_method_index": -1}),
            "not supported",
        ),
        (
            json!({"amount": 10, "pay_method_type": "CRYPTO", "pay_method_name": "BTC"}),
            "not supported",
        ),
        (json!({"amount": 10.5}), "Invalid parameters"),
    ] {
        let answer = pay(&alice, body.clone()).await;
        assert_eq!(answer["message"], "error", "{body}");
        assert!(
            answer["data"].as_str().unwrap().contains(reason),
            "{body}: {answer}"
        );
    }
    let malformed = alice.post_raw("/api/user/waffo/pay", "{nope").await;
    assert_eq!(malformed.body["message"], "error");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);
    assert!(waffo.orders().is_empty(), "{:?}", waffo.refusals());

    // An order: priced, recorded pending for its payer, created at Waffo with its signature.
    let answer = pay(&alice, json!({"amount": 10, "pay_method_index": 1})).await;
    assert_eq!(
        answer["message"],
        "success",
        "{answer} {:?}",
        waffo.refusals()
    );
    let orders = waffo.orders();
    assert_eq!(orders.len(), 1);
    let order = orders[0].clone();
    let trade_no = order.merchant_order_id().to_string();
    assert_eq!(answer["data"]["payment_url"], order.payment_url.as_str());
    assert_eq!(answer["data"]["order_id"], trade_no.as_str());
    assert_eq!(order.amount(), "20.00");
    assert_eq!(order.currency(), "USD");
    assert_eq!(order.request["paymentRequestId"], trade_no.as_str());
    assert_eq!(order.request["merchantInfo"]["merchantId"], MERCHANT);
    assert_eq!(order.request["userInfo"]["userId"], alice_id.to_string());
    assert_eq!(order.request["paymentInfo"]["payMethodType"], "APPLEPAY");
    assert_eq!(order.request["notifyUrl"], webhook.as_str());
    assert_eq!(
        order_row(&pool, &trade_no).await,
        (alice_id, "pending".into(), 5_000_000, 2000, "USD".into())
    );

    // Bob cannot place an order for Alice: the payer is the caller, whatever the body says.
    let answer = pay(&bob, json!({"amount": 3, "user_id": alice_id})).await;
    assert_eq!(answer["message"], "success", "{answer}");
    let bobs_order = waffo.orders()[1].clone();
    let bobs_trade_no = bobs_order.merchant_order_id().to_string();
    assert_eq!(order_row(&pool, &bobs_trade_no).await.0, bob_id);
    let bobs_list = bob
        .get(&format!("/api/user/topup/self?keyword={trade_no}"))
        .await;
    assert_eq!(bobs_list.data()["total"], 0, "{bobs_list:?}");

    // Forged, altered, mismatched, unknown, another merchant's: refused, nothing changes.
    let genuine = serde_json::to_vec(&waffo.paid_notification(&order)).unwrap();
    let unsigned = waffo.deliver_with_signature(&webhook, &genuine, None).await;
    assert_eq!(unsigned.status, 400);
    let merchant_key = pylon_shared::payment::waffo::private_key(&waffo.merchant_private_key)
        .expect("merchant key");
    let not_waffos = pylon_shared::payment::waffo::sign(&merchant_key, &genuine).unwrap();
    let forged = waffo
        .deliver_with_signature(&webhook, &genuine, Some(&not_waffos))
        .await;
    assert_eq!(forged.status, 400);
    let mut altered = genuine.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    let signed_before = waffo.sign(&genuine);
    let tampered = waffo
        .deliver_with_signature(&webhook, &altered, Some(&signed_before))
        .await;
    assert_eq!(tampered.status, 400);
    let refused_notifications = [
        waffo.notification_with(&order, "19.99", "USD", "PAY_SUCCESS"),
        waffo.notification_with(&order, "20.001", "USD", "PAY_SUCCESS"),
        waffo.notification_with(&order, "20.00", "EUR", "PAY_SUCCESS"),
        waffo.notification_with(&order, "20.00", "", "PAY_SUCCESS"),
        {
            let mut other = waffo.paid_notification(&order);
            other["result"]["merchantInfo"]["merchantId"] = json!("M-SOMEONE-ELSE");
            other
        },
        {
            let mut unknown = waffo.paid_notification(&order);
            unknown["result"]["merchantOrderId"] = json!("WAFFO-1-1-unknown");
            unknown
        },
        {
            // Bob's order, reporting Alice's price.
            let mut swapped = waffo.paid_notification(&bobs_order);
            swapped["result"]["orderAmount"] = json!("20.00");
            swapped
        },
    ];
    for notification in &refused_notifications {
        let body = serde_json::to_vec(notification).unwrap();
        let answer = waffo.deliver(&webhook, &body).await;
        assert_eq!(answer.status, 200, "{notification}");
        assert_eq!(answer.message(), "failed", "{notification}: {answer:?}");
        assert!(answer.signed_by_merchant, "{answer:?}");
    }
    // Not paid (yet): acknowledged, nothing credited.
    let closed = waffo.notification_with(&order, "20.00", "USD", "ORDER_CLOSE");
    let answer = waffo
        .deliver(&webhook, &serde_json::to_vec(&closed).unwrap())
        .await;
    assert_eq!(answer.message(), "success", "{answer:?}");
    assert_nothing_credited(&pool).await;
    assert_eq!(order_row(&pool, &trade_no).await.1, "pending");

    // The genuine notification, 60 times, 20 at once: credited once, to Alice.
    for _ in 0..3 {
        let answers = join_all((0..20).map(|_| waffo.deliver(&webhook, &genuine))).await;
        for answer in &answers {
            assert_eq!(answer.status, 200, "{answer:?}");
            assert_eq!(answer.message(), "success", "{answer:?}");
            assert!(answer.signed_by_merchant, "{answer:?}");
        }
    }
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
    assert_eq!(bob.get("/api/user/self").await.data()["quota"], 0);
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE kind = 'topup'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM payment_events").await,
        1
    );
    let own = alice
        .get(&format!("/api/user/topup/self?keyword={trade_no}"))
        .await;
    assert_eq!(own.data()["total"], 1, "{own:?}");
    let record = &own.data()["items"][0];
    assert_eq!(record["status"], "success");
    assert_eq!(record["payment_method"], "waffo");
    assert_eq!(record["money_cents"], 2000);
    assert_eq!(record["quota"], 5_000_000);
    let gateway_id: String =
        sqlx::query_scalar("SELECT gateway_trade_no FROM top_ups WHERE trade_no = ?")
            .bind(&trade_no)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(gateway_id, order.acquiring_order_id);
    // Other events are acknowledged and ignored.
    let refund = json!({"eventType": "REFUND_NOTIFICATION", "result": {"refundStatus": "ORDER_FULLY_REFUNDED"}});
    let answer = waffo
        .deliver(&webhook, &serde_json::to_vec(&refund).unwrap())
        .await;
    assert_eq!(answer.message(), "success");
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);

    zero_decimal_currencies_are_charged_in_whole_units(&root, &alice, &pool, &waffo, &webhook)
        .await;

    // A forged answer from Waffo's API: no payment address is given.
    waffo.forge_answers(true);
    let forged = pay(&alice, json!({"amount": 5})).await;
    assert_eq!(forged["message"], "error", "{forged}");
    waffo.forge_answers(false);
    // Waffo refusing the key: a clear error.
    set_option(&root, "WaffoApiKey", "wk_wrong").await;
    let refused = pay(&alice, json!({"amount": 5})).await;
    assert_eq!(refused["message"], "error", "{refused}");
    assert!(
        refused["data"]
            .as_str()
            .unwrap()
            .contains("Failed to start")
    );
    assert_eq!(waffo.refusals().last().map(String::as_str), Some("api key"));
    set_option(&root, "WaffoApiKey", API_KEY).await;

    // Switched off: new orders refused; an order placed before is still credited when paid.
    set_option(&root, "WaffoEnabled", "false").await;
    let refused = pay(&alice, json!({"amount": 10})).await;
    assert!(refused["data"].as_str().unwrap().contains("not enabled"));
    let paid = serde_json::to_vec(&waffo.paid_notification(&bobs_order)).unwrap();
    assert_eq!(waffo.deliver(&webhook, &paid).await.message(), "success");
    assert_eq!(bob.get("/api/user/self").await.data()["quota"], 1_500_000);

    let anonymous = Console::new(&pylon.base_url)
        .post("/api/user/waffo/pay", json!({"amount": 10}))
        .await;
    assert_eq!(anonymous.status, 401);
}
on_every_backend!(waffo_orders_credit_once_on_a_signed_notification);

/// In a currency without minor units the price is rounded to a whole unit, sent without
/// decimals, and a notification must report exactly that.
async fn zero_decimal_currencies_are_charged_in_whole_units(
    root: &Console,
    alice: &Console,
    pool: &sqlx::AnyPool,
    waffo: &WaffoApi,
    webhook: &str,
) {
    set_option(root, "WaffoCurrency", "JPY").await;
    set_option(root, "WaffoUnitPrice", "150.3").await;
    let quote = alice
        .post("/api/user/waffo/amount", json!({"amount": 3}))
        .await;
    assert_eq!(quote.body["data"], "451.00", "{quote:?}");
    let answer = pay(alice, json!({"amount": 3})).await;
    assert_eq!(
        answer["message"],
        "success",
        "{answer} {:?}",
        waffo.refusals()
    );
    let order: WaffoOrder = waffo.orders().last().cloned().unwrap();
    assert_eq!((order.amount(), order.currency()), ("451", "JPY"));
    assert!(order.request["paymentInfo"].get("payMethodType").is_none());
    let trade_no = order.merchant_order_id().to_string();
    assert_eq!(order_row(pool, &trade_no).await.3, 45_100);
    let before = alice.get("/api/user/self").await.data()["quota"]
        .as_i64()
        .unwrap();
    let wrong = waffo.notification_with(&order, "450", "JPY", "PAY_SUCCESS");
    let answer = waffo
        .deliver(webhook, &serde_json::to_vec(&wrong).unwrap())
        .await;
    assert_eq!(answer.message(), "failed");
    let paid = serde_json::to_vec(&waffo.paid_notification(&order)).unwrap();
    assert_eq!(waffo.deliver(webhook, &paid).await.message(), "success");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        before + 1_500_000
    );
    set_option(root, "WaffoCurrency", "").await;
    set_option(root, "WaffoUnitPrice", "2").await;
}
