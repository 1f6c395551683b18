//! Creem (issue 12): checkouts by product created through Creem's API, credited by its signed
//! `checkout.completed` webhook exactly once, whatever the repetition and concurrency; a
//! forged signature, a changed amount or currency and an unknown order refused with nothing
//! changed. The mock Creem API checks the key, the product and the request id it receives.

use futures::future::join_all;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::CreemApi;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};

const API_KEY: &str = "creem_test_key_for_pylon";
const WEBHOOK_SECRET: &str = "whsec_creem_pylon";
const PRODUCTS: &str = r#"[
    {"productId": "prod_small", "name": "Small", "price": 9.99, "currency": "USD", "quota": 5000000},
    {"productId": "prod_big", "name": "Big", "price": 49, "currency": "USD", "quota": 30000000}
]"#;

async fn configure(root: &Console, creem: &CreemApi) {
    set_option(root, "CreemApiKey", API_KEY).await;
    set_option(root, "CreemWebhookSecret", WEBHOOK_SECRET).await;
    set_option(root, "CreemProducts", PRODUCTS).await;
    set_option(root, "CreemApiBaseUrl", &creem.base_url).await;
}

async fn pay(user: &Console, product: &str) -> Value {
    user.post(
        "/api/user/creem/pay",
        json!({ "product_id": product, "payment_method": "creem" }),
    )
    .await
    .body
}

async fn creem_checkouts_credit_once_on_a_signed_webhook(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let creem = CreemApi::start(
        API_KEY,
        &[("prod_small", 999, "USD"), ("prod_big", 4900, "USD")],
    )
    .await;
    let webhook = format!("{}/api/creem/webhook", pylon.base_url);

    // Not configured: refused, nothing recorded.
    let refused = pay(&alice, "prod_small").await;
    assert_eq!(refused["message"], "error", "{refused}");
    assert!(refused["data"].as_str().unwrap().contains("not configured"));

    configure(&root, &creem).await;
    let info = alice.get("/api/user/topup/info").await;
    assert_eq!(info.data()["enable_creem_topup"], true, "{info:?}");
    let listed: Value =
        serde_json::from_str(info.data()["creem_products"].as_str().unwrap()).unwrap();
    assert_eq!(listed[0]["productId"], "prod_small");
    assert_eq!(listed[0]["price"], "9.99");
    assert_eq!(listed[1]["quota"], 30_000_000);
    // The key and the webhook secret are never shown.
    let options = root.get("/api/option/").await;
    assert!(options.success());
    for shown in [info.body.to_string(), options.body.to_string()] {
        assert!(!shown.contains(API_KEY) && !shown.contains(WEBHOOK_SECRET));
    }

    // Bad requests: a clear reason, no order, no checkout.
    for (body, reason) in [
        (
            json!({"product_id": "prod_none", "payment_method": "creem"}),
            "does not exist",
        ),
        (
            json!({"product_id": "", "payment_method": "creem"}),
            "choose a product",
        ),
        (
            json!({"product_id": "prod_small", "payment_method": "stripe"}),
            "Unsupported",
        ),
    ] {
        let answer = alice.post("/api/user/creem/pay", body.clone()).await;
        assert_eq!(answer.body["message"], "error", "{body}");
        assert!(
            answer.data().as_str().unwrap().contains(reason),
            "{answer:?}"
        );
    }
    let malformed = alice.post_raw("/api/user/creem/pay", "{nope").await;
    assert_eq!(malformed.body["message"], "error");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);
    assert!(creem.checkouts().is_empty());

    // A checkout by product: the order carries the product's price and quota.
    let answer = pay(&alice, "prod_small").await;
    assert_eq!(answer["message"], "success", "{answer}");
    let checkouts = creem.checkouts();
    assert_eq!(checkouts.len(), 1);
    let checkout = &checkouts[0];
    assert_eq!(
        answer["data"]["checkout_url"],
        format!("{}/checkout/{}", creem.base_url, checkout.id)
    );
    let trade_no = checkout.request_id().to_string();
    assert_eq!(answer["data"]["order_id"], trade_no.as_str());
    assert_eq!(checkout.request["metadata"]["quota"], "5000000");
    let order: (String, i64, i64, String) = sqlx::query_as(
        "SELECT status, quota, money_cents, currency FROM top_ups WHERE trade_no = ?",
    )
    .bind(&trade_no)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(order, ("pending".into(), 5_000_000, 999, "USD".into()));

    // Forged, tampered, mismatched, unknown: refused, nothing changes.
    let genuine = serde_json::to_vec(&creem.completed_event(checkout)).unwrap();
    assert_eq!(creem.deliver(&webhook, &genuine, "whsec_wrong").await, 401);
    let unsigned = reqwest::Client::new()
        .post(&webhook)
        .body(genuine.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let cheaper = serde_json::to_vec(&creem.event_for(checkout, 1, "USD")).unwrap();
    assert_eq!(creem.deliver(&webhook, &cheaper, WEBHOOK_SECRET).await, 400);
    let other_currency = serde_json::to_vec(&creem.event_for(checkout, 999, "EUR")).unwrap();
    assert_eq!(
        creem
            .deliver(&webhook, &other_currency, WEBHOOK_SECRET)
            .await,
        400
    );
    let mut unknown = creem.completed_event(checkout);
    unknown["object"]["request_id"] = json!("ref_unknown_order");
    let unknown = serde_json::to_vec(&unknown).unwrap();
    assert_eq!(creem.deliver(&webhook, &unknown, WEBHOOK_SECRET).await, 400);
    let mut altered = genuine.clone();
    let at = altered.len() / 2;
    altered[at] ^= 1;
    let signed_before = pylon_shared::payment::creem::signature(&genuine, WEBHOOK_SECRET);
    assert_eq!(
        creem
            .deliver_with_signature(&webhook, &altered, &signed_before)
            .await,
        401
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM users WHERE role = 1"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM payment_events").await,
        0
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM ledger_movements").await,
        0
    );

    // The genuine event, 100 times, 20 at once: credited once.
    for _ in 0..5 {
        let answers =
            join_all((0..20).map(|_| creem.deliver(&webhook, &genuine, WEBHOOK_SECRET))).await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    }
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);
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
    assert_eq!(record["payment_method"], "creem");
    assert_eq!(record["money_cents"], 999);
    assert_eq!(record["quota"], 5_000_000);
    // Another event for the same checkout credits nothing more.
    let again = serde_json::to_vec(&creem.completed_event(checkout)).unwrap();
    assert_eq!(creem.deliver(&webhook, &again, WEBHOOK_SECRET).await, 200);
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);

    // Events that are not a paid checkout are acknowledged and ignored.
    let refund = json!({"id": "evt_refund", "eventType": "refund.created", "object": {}});
    let refund = serde_json::to_vec(&refund).unwrap();
    assert_eq!(creem.deliver(&webhook, &refund, WEBHOOK_SECRET).await, 200);
    assert_eq!(alice.get("/api/user/self").await.data()["quota"], 5_000_000);

    // Creem refusing the key: a clear error, no checkout.
    set_option(&root, "CreemApiKey", "creem_wrong_key").await;
    let refused = pay(&alice, "prod_big").await;
    assert_eq!(refused["message"], "error", "{refused}");
    assert_eq!(creem.checkouts().len(), 1);
    let anonymous = Console::new(&pylon.base_url)
        .post(
            "/api/user/creem/pay",
            json!({"product_id": "prod_small", "payment_method": "creem"}),
        )
        .await;
    assert_eq!(anonymous.status, 401);
}
on_every_backend!(creem_checkouts_credit_once_on_a_signed_webhook);
