//! Referral commission (issue 12, seed 001): the inviter earns `ReferralCommissionRate` of each
//! paid order of the people they invited, on their invitation quota, once per order however
//! often and concurrently the payment is reported, in the transaction that credits the order;
//! administrators read the commissions at `GET /api/referral-commissions`.

use futures::future::join_all;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::CreemApi;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::json;

const API_KEY: &str = "creem_key_commission";
const WEBHOOK_SECRET: &str = "whsec_commission";

/// Buys `product` through Creem and delivers its paid event `times` times, 20 at once;
/// answers the order number.
async fn buy(
    user: &Console,
    creem: &CreemApi,
    webhook: &str,
    product: &str,
    times: usize,
) -> String {
    let answer = user
        .post(
            "/api/user/creem/pay",
            json!({"product_id": product, "payment_method": "creem"}),
        )
        .await;
    assert_eq!(answer.body["message"], "success", "{answer:?}");
    let trade_no = answer.data()["order_id"].as_str().unwrap().to_string();
    let checkout = creem
        .checkouts()
        .into_iter()
        .find(|c| c.request_id() == trade_no)
        .expect("checkout");
    let event = serde_json::to_vec(&creem.completed_event(&checkout)).unwrap();
    for _ in 0..times.div_ceil(20) {
        let answers =
            join_all((0..20).map(|_| creem.deliver(webhook, &event, WEBHOOK_SECRET))).await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    }
    trade_no
}

async fn inviters_earn_a_commission_once_per_paid_order(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let carol = console_with_role(&pylon, &pool, "carol", 1).await;
    let bob_id = bob.user_id.unwrap();
    sqlx::query("UPDATE users SET inviter_id = ? WHERE username = 'alice'")
        .bind(bob_id)
        .execute(&pool)
        .await
        .unwrap();
    let creem = CreemApi::start(
        API_KEY,
        &[("prod_small", 999, "USD"), ("prod_big", 4900, "USD")],
    )
    .await;
    set_option(&root, "CreemApiKey", API_KEY).await;
    set_option(&root, "CreemWebhookSecret", WEBHOOK_SECRET).await;
    set_option(
        &root,
        "CreemProducts",
        r#"[{"productId":"prod_small","name":"Small","price":"9.99","currency":"USD","quota":5000000},
            {"productId":"prod_big","name":"Big","price":"49.00","currency":"USD","quota":30000000}]"#,
    )
    .await;
    set_option(&root, "CreemApiBaseUrl", &creem.base_url).await;
    let webhook = format!("{}/api/creem/webhook", pylon.base_url);

    // No rate configured: no commission.
    buy(&alice, &creem, &webhook, "prod_small", 20).await;
    assert_eq!(bob.get("/api/user/self").await.data()["aff_quota"], 0);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM referral_commissions").await,
        0
    );

    // 10 %: once per order, on the invitation quota, whatever the repetition.
    set_option(&root, "ReferralCommissionRate", "0.1").await;
    let first = buy(&alice, &creem, &webhook, "prod_small", 100).await;
    let me = bob.get("/api/user/self").await;
    assert_eq!(me.data()["aff_quota"], 500_000, "{me:?}");
    assert_eq!(me.data()["aff_history_quota"], 500_000);
    assert_eq!(me.data()["quota"], 0);
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        10_000_000
    );
    buy(&carol, &creem, &webhook, "prod_small", 20).await;
    let second = buy(&alice, &creem, &webhook, "prod_big", 40).await;
    assert_eq!(
        bob.get("/api/user/self").await.data()["aff_quota"],
        3_500_000
    );
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM referral_commissions").await,
        2
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM ledger_movements WHERE kind = 'invite_reward'"
        )
        .await,
        2
    );

    // An administrator's completion of an invitee's order pays the commission once too.
    let pending = alice
        .post(
            "/api/user/creem/pay",
            json!({"product_id": "prod_small", "payment_method": "creem"}),
        )
        .await;
    let third = pending.data()["order_id"].as_str().unwrap().to_string();
    let completions =
        join_all((0..5).map(|_| root.post("/api/user/topup/complete", json!({"trade_no": third}))))
            .await;
    assert!(completions.iter().all(Answer::success), "{completions:?}");
    assert_eq!(
        bob.get("/api/user/self").await.data()["aff_quota"],
        4_000_000
    );

    // The commissions, as administrators read them.
    let all = root.get("/api/referral-commissions").await;
    assert!(all.success(), "{all:?}");
    assert_eq!(all.data()["total"], 3);
    let newest = &all.data()["items"][0];
    assert_eq!(newest["trade_no"], third.as_str());
    assert_eq!(all.data()["items"][1]["trade_no"], second.as_str());
    assert_eq!(all.data()["items"][1]["commission"], 3_000_000);
    assert_eq!(all.data()["items"][1]["order_quota"], 30_000_000);
    assert_eq!(all.data()["items"][2]["trade_no"], first.as_str());
    assert_eq!(newest["rate"], "0.1");
    assert_eq!(newest["inviter_id"], bob_id);
    assert_eq!(newest["invitee_id"], alice.user_id.unwrap());
    let bobs = root
        .get(&format!(
            "/api/referral-commissions?inviter_id={bob_id}&p=1&page_size=2"
        ))
        .await;
    assert_eq!(bobs.data()["total"], 3);
    assert_eq!(bobs.data()["items"].as_array().unwrap().len(), 2);
    let carols = root
        .get(&format!(
            "/api/referral-commissions?inviter_id={}",
            carol.user_id.unwrap()
        ))
        .await;
    assert_eq!(carols.data()["total"], 0);
    let refused = alice.get("/api/referral-commissions").await;
    assert!(
        refused.message().contains("insufficient privileges"),
        "{refused:?}"
    );
}
on_every_backend!(inviters_earn_a_commission_once_per_paid_order);
