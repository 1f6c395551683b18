//! Seed 004's shop dialect (issue 12): card keys (redemption codes) through
//! `POST /api/use_carmi`, products (plans) through `GET /api/product`, and a product order paid
//! through the EPay-compatible YiPay channel (`POST /api/pay/precreate`), answered as
//! `{"code", "data", "message"}` and credited by the same transaction as every other order.
//! Membership products (days of access) are subscription plans, activated by the same
//! notification.

use futures::future::join_all;
use pylon_tests::fixtures::{console_with_role, database, root_console, scalar, set_option};
use pylon_tests::payment_gateways::EpayGateway;
use pylon_tests::{Backend, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const MERCHANT: &str = "1001";
const KEY: &str = "shop-merchant-key";

async fn card_keys_credit_once(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(console_with_role(&pylon, &pool, &format!("user{i}"), 1).await);
    }
    let created = root
        .post(
            "/api/redemption/",
            json!({"name": "card", "quota": 1234, "count": 1}),
        )
        .await;
    let card = created.data()[0].as_str().unwrap().to_string();

    let empty = users[0].post("/api/use_carmi", json!({"carmi": ""})).await;
    assert_eq!(empty.body["code"], 1, "{empty:?}");
    assert!(!empty.body["message"].as_str().unwrap().is_empty());
    let unknown = users[0]
        .post("/api/use_carmi", json!({"carmi": "no-such-card"}))
        .await;
    assert_eq!(unknown.body["code"], 1, "{unknown:?}");

    let mut before = Vec::new();
    for user in &users {
        before.push(
            user.get("/api/user/self").await.data()["quota"]
                .as_i64()
                .unwrap(),
        );
    }
    // Ten users at once, half of them with the seed's `carmiHandlers` field: one credit.
    let answers = join_all(users.iter().enumerate().map(|(i, user)| {
        let field = if i % 2 == 0 { "carmi" } else { "carmiHandlers" };
        user.post("/api/use_carmi", json!({ field: card }))
    }))
    .await;
    let winners: Vec<_> = answers.iter().filter(|a| a.body["code"] == 0).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert_eq!(winners[0].body["message"], "充值成功");
    assert_eq!(winners[0].body["data"], json!([]));
    let mut gained = Vec::new();
    for (user, before) in users.iter().zip(&before) {
        let after = user.get("/api/user/self").await.data()["quota"]
            .as_i64()
            .unwrap();
        gained.push(after - before);
    }
    gained.sort();
    let mut expected = vec![0; 9];
    expected.push(1234);
    assert_eq!(gained, expected);
}
on_every_backend!(card_keys_credit_once);

async fn products_are_bought_through_yipay(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;

    let plan = root
        .post(
            "/api/plans",
            json!({"planId": "pack", "name": "10元包", "description": "特惠", "quota": 2_000_000, "price": "10.00", "sort_order": 1}),
        )
        .await;
    assert!(plan.success(), "{plan:?}");
    root.post(
        "/api/plans",
        json!({"planId": "usd", "name": "USD pack", "quota": 1, "price": "1.00", "currency": "USD", "sort_order": 2}),
    )
    .await;
    let products = alice.get("/api/product").await;
    assert_eq!(products.body["code"], 0, "{products:?}");
    let first = &products.body["data"]["products"][0];
    assert_eq!(first["title"], "10元包");
    assert_eq!(first["price"], 1000);
    assert_eq!(first["value"], 2_000_000);
    assert_eq!(first["badge"], "特惠");
    assert_eq!(first["status"], 1);
    assert_eq!(
        products.body["data"]["pay_types"],
        json!(["alipay", "wxpay"])
    );
    let product_id = first["id"].as_str().unwrap().to_string();
    let usd_id = products.body["data"]["products"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let limited = alice.get("/api/product?page_size=1").await;
    assert_eq!(
        limited.body["data"]["products"].as_array().unwrap().len(),
        1
    );

    // Not configured yet: refused, no order.
    let refused = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "alipay", "product_id": product_id, "quantity": 1}),
        )
        .await;
    assert_eq!(refused.body["code"], 1, "{refused:?}");
    let gateway = EpayGateway::start(MERCHANT, KEY).await;
    set_option(&root, "PayAddress", &gateway.base_url).await;
    set_option(&root, "EpayId", MERCHANT).await;
    set_option(&root, "EpayKey", KEY).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    for (body, what) in [
        (
            json!({"pay_type": "alipay", "product_id": 999_999}),
            "unknown product",
        ),
        (json!({"pay_type": "alipay"}), "no product"),
        (
            json!({"pay_type": "bitcoin", "product_id": product_id}),
            "unknown pay type",
        ),
        (
            json!({"pay_type": "alipay", "product_id": product_id, "quantity": 0}),
            "quantity 0",
        ),
        (
            json!({"pay_type": "alipay", "product_id": usd_id}),
            "USD product",
        ),
    ] {
        let answer = alice.post("/api/pay/precreate", body).await;
        assert_eq!(answer.body["code"], 1, "{what}: {answer:?}");
    }
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM top_ups").await, 0);

    // Two of the product, the id as a number as in the seed.
    let numeric_id: i64 = product_id.parse().unwrap();
    let order = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "wxpay", "product_id": numeric_id, "quantity": 2}),
        )
        .await;
    assert_eq!(order.body["code"], 0, "{order:?}");
    let order_id = order.body["data"]["order_id"].as_str().unwrap().to_string();
    let pay_url = order.body["data"]["pay_url"].as_str().unwrap();
    assert!(pay_url.starts_with(&format!("{}/submit.php?", gateway.base_url)));
    // The browser opens the payment address: the gateway checks the signed order.
    let opened = reqwest::get(pay_url).await.unwrap();
    assert_eq!(opened.status(), 200, "{:?}", gateway.refusals());
    let sent = &gateway.orders()[0];
    assert_eq!(sent.trade_no(), order_id);
    assert_eq!(sent.params["money"], "20.00");
    assert_eq!(sent.params["type"], "wxpay");

    let quota_before = alice.get("/api/user/self").await.data()["quota"]
        .as_i64()
        .unwrap();
    let notify_url = format!("{}/api/payment/yipay/notify", pylon.base_url);
    let genuine = gateway.paid_notification(sent);
    let mut forged: BTreeMap<String, String> = genuine.clone();
    forged.insert("money".into(), "10.00".into());
    let mut changed = genuine.clone();
    changed.insert("money".into(), "10.00".into());
    gateway.sign(&mut changed);
    assert_eq!(gateway.notify(&notify_url, &forged, true).await, "fail");
    assert_eq!(gateway.notify(&notify_url, &changed, true).await, "fail");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before
    );

    let answers =
        join_all((0..10).map(|i| gateway.notify(&notify_url, &genuine, i % 2 == 0))).await;
    assert!(answers.iter().all(|a| a == "success"), "{answers:?}");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota_before + 4_000_000
    );
    let record = alice.get("/api/user/topup/self").await;
    assert_eq!(record.data()["items"][0]["trade_no"], order_id.as_str());
    assert_eq!(record.data()["items"][0]["status"], "success");
    assert_eq!(record.data()["items"][0]["money_cents"], 2000);
    assert_eq!(record.data()["items"][0]["quota"], 4_000_000);

    // The administrators' order list, in the seed's shape; not for users.
    let orders = root.get("/api/admin/orders?page=1&page_size=10").await;
    assert_eq!(orders.body["code"], 0, "{orders:?}");
    assert_eq!(orders.body["data"]["count"], 1);
    let row = &orders.body["data"]["rows"][0];
    assert_eq!(row["id"], order_id.as_str());
    assert_eq!(row["trade_status"], "TRADE_SUCCESS");
    assert_eq!(row["trade_no"], genuine["trade_no"].as_str());
    assert_eq!(row["product_title"], "10元包");
    assert_eq!(row["pay_type"], "wxpay");
    assert_eq!(row["channel"], "yipay");
    assert_eq!(row["money"], "20.00");
    assert_eq!(row["quantity"], 2);
    let refused = alice.get("/api/admin/orders").await;
    assert_eq!(refused.body["success"], false, "{refused:?}");
}
on_every_backend!(products_are_bought_through_yipay);

async fn administrators_manage_products(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let product = json!({"title": "测试", "badge": "会员", "status": 1, "price": 1000,
        "original_price": 1223, "integral": 1000, "day": 0});

    // Only administrators, and only valid products.
    let mine = alice.post("/api/admin/products", product.clone()).await;
    assert_eq!(mine.body["success"], false, "{mine:?}");
    assert_eq!(
        alice.get("/api/admin/products").await.body["code"],
        json!(null)
    );
    for (change, what) in [
        (json!({"title": ""}), "no title"),
        (json!({"price": 0}), "no price"),
        (json!({"integral": 0}), "no quota"),
        (json!({"day": -1}), "negative membership days"),
        (json!({"status": 3}), "status"),
        (json!({"original_price": -1}), "negative original price"),
    ] {
        let mut body = product.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = root.post("/api/admin/products", body).await;
        assert_eq!(answer.body["code"], 1, "{what}: {answer:?}");
    }
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM plans").await, 0);

    let created = root.post("/api/admin/products", product.clone()).await;
    assert_eq!(created.body["code"], 0, "{created:?}");
    let saved = &created.body["data"];
    let id = saved["id"].as_str().unwrap().to_string();
    assert_eq!(saved["title"], "测试");
    assert_eq!(saved["price"], 1000);
    assert_eq!(saved["original_price"], 1223);
    assert_eq!(saved["integral"], 1000);
    assert_eq!(saved["badge"], "会员");
    assert_eq!(saved["status"], 1);

    // The user sees it as a product, the administrator in the list.
    let shown = alice.get("/api/product").await;
    assert_eq!(shown.body["data"]["products"][0]["id"], id.as_str());
    assert_eq!(shown.body["data"]["products"][0]["original_price"], 1223);
    let list = root.get("/api/admin/products?page=1&page_size=10").await;
    assert_eq!(list.body["code"], 0, "{list:?}");
    assert_eq!(list.body["data"]["count"], 1);
    assert_eq!(
        list.body["data"]["rows"][0]["id"],
        id.parse::<i64>().unwrap()
    );
    assert!(
        list.body["data"]["rows"][0]["create_time"]
            .as_str()
            .unwrap()
            .starts_with("20")
    );

    // Updated (withdrawn, repriced): the users no longer see it.
    let mut changed = product.clone();
    changed["id"] = json!(id);
    changed["original_price"] = json!(12232);
    changed["status"] = json!(0);
    let updated = root
        .send(
            Method::PUT,
            "/api/admin/products",
            Some(changed.to_string()),
        )
        .await;
    assert_eq!(updated.body["code"], 0, "{updated:?}");
    assert_eq!(updated.body["data"][0]["original_price"], 12232);
    assert_eq!(updated.body["data"][1], false);
    assert_eq!(
        alice.get("/api/product").await.body["data"]["products"],
        json!([])
    );
    changed["id"] = json!("999999");
    let missing = root
        .send(
            Method::PUT,
            "/api/admin/products",
            Some(changed.to_string()),
        )
        .await;
    assert_eq!(missing.body["code"], 1, "{missing:?}");

    let deleted = root
        .send(Method::DELETE, &format!("/api/admin/products/{id}"), None)
        .await;
    assert_eq!(deleted.body["data"], 1, "{deleted:?}");
    let again = root
        .send(Method::DELETE, &format!("/api/admin/products/{id}"), None)
        .await;
    assert_eq!(again.body["data"], 0, "{again:?}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM plans").await, 0);
}
on_every_backend!(administrators_manage_products);

/// The payment channel is a view of the EPay options: configured through it, an order is
/// signed with its key and paid through its gateway; the key is never shown; a disabled or
/// deleted channel takes no order.
async fn administrators_configure_the_payment_channel(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    set_option(&root, "ServerAddress", &pylon.base_url).await;
    let gateway = EpayGateway::start(MERCHANT, KEY).await;
    let params = json!({"pid": MERCHANT, "key": KEY, "api": gateway.base_url, "return_url": ""});
    let channel = json!({"name": "易支付", "status": 1, "channel": "yipay",
        "types": "alipay,wxpay", "params": params.to_string()});

    let empty = root.get("/api/admin/payment").await;
    assert_eq!(
        empty.body["data"],
        json!({"count": 0, "rows": []}),
        "{empty:?}"
    );
    let mine = alice.post("/api/admin/payment", channel.clone()).await;
    assert_eq!(mine.body["success"], false, "{mine:?}");
    for (change, what) in [
        (json!({"channel": "alipay"}), "unsupported channel"),
        (json!({"params": "not json"}), "params"),
        (
            json!({"params": json!({"pid": MERCHANT, "key": KEY, "api": "nowhere"}).to_string()}),
            "api",
        ),
        (
            json!({"params": json!({"pid": MERCHANT, "api": gateway.base_url}).to_string()}),
            "no key",
        ),
        (json!({"types": ""}), "no types"),
        (json!({"status": 5}), "status"),
    ] {
        let mut body = channel.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = root.post("/api/admin/payment", body).await;
        assert_eq!(answer.body["code"], 1, "{what}: {answer:?}");
    }
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM options WHERE `key` = 'EpayKey'"
        )
        .await,
        0
    );

    let saved = root.post("/api/admin/payment", channel.clone()).await;
    assert_eq!(saved.body["code"], 0, "{saved:?}");
    let list = root.get("/api/admin/payment").await;
    assert_eq!(list.body["data"]["count"], 1);
    let row = &list.body["data"]["rows"][0];
    assert_eq!(row["channel"], "yipay");
    assert_eq!(row["types"], "alipay,wxpay");
    assert_eq!(row["status"], 1);
    let shown: serde_json::Value = serde_json::from_str(row["params"].as_str().unwrap()).unwrap();
    assert_eq!(shown["pid"], MERCHANT);
    assert_eq!(shown["api"], gateway.base_url.as_str());
    assert_eq!(shown["key"], "******");
    assert!(!list.body.to_string().contains(KEY));

    // Saved again with the masked key (as a console round-trips it): the key is kept, and an
    // order is signed with it and paid through the channel's gateway.
    let mut renamed = channel.clone();
    renamed["id"] = json!(1);
    renamed["name"] = json!("YiPay");
    renamed["types"] = json!("wxpay");
    renamed["params"] = json!({"pid": MERCHANT, "key": "******", "api": gateway.base_url})
        .to_string()
        .into();
    let updated = root
        .send(Method::PUT, "/api/admin/payment", Some(renamed.to_string()))
        .await;
    assert_eq!(updated.body["data"]["name"], "YiPay", "{updated:?}");
    root.post(
        "/api/plans",
        json!({"planId": "pack", "name": "Pack", "quota": 1000, "price": "1.00"}),
    )
    .await;
    let alipay = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "alipay", "product_id": "pack"}),
        )
        .await;
    assert_eq!(alipay.body["code"], 1, "no longer offered: {alipay:?}");
    let order = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "wxpay", "product_id": "pack"}),
        )
        .await;
    assert_eq!(order.body["code"], 0, "{order:?}");
    let opened = reqwest::get(order.body["data"]["pay_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(opened.status(), 200, "{:?}", gateway.refusals());
    let before = alice.get("/api/user/self").await.data()["quota"]
        .as_i64()
        .unwrap();
    let notify_url = format!("{}/api/payment/yipay/notify", pylon.base_url);
    let genuine = gateway.paid_notification(&gateway.orders()[0]);
    assert_eq!(gateway.notify(&notify_url, &genuine, true).await, "success");
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        before + 1000
    );

    // Disabled: no order is taken.
    let mut disabled = renamed.clone();
    disabled["status"] = json!(0);
    root.send(
        Method::PUT,
        "/api/admin/payment",
        Some(disabled.to_string()),
    )
    .await;
    let refused = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "wxpay", "product_id": "pack"}),
        )
        .await;
    assert_eq!(refused.body["code"], 1, "{refused:?}");

    // Deleted: gone from the list, the key with it.
    let deleted = root
        .send(Method::DELETE, "/api/admin/payment/1", None)
        .await;
    assert_eq!(deleted.body["data"], 1, "{deleted:?}");
    assert_eq!(
        root.get("/api/admin/payment").await.body["data"]["count"],
        0
    );
    let again = root
        .send(Method::DELETE, "/api/admin/payment/1", None)
        .await;
    assert_eq!(again.body["data"], 0);
}
on_every_backend!(administrators_configure_the_payment_channel);

async fn membership_products_are_subscriptions(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let product = json!({"title": "3元3天", "badge": "会员", "status": 1, "price": 300,
        "original_price": 500, "integral": 0, "day": 3});
    for (change, what) in [
        (json!({"day": 4000}), "too many days"),
        (json!({"price": 0}), "no price"),
        (json!({"integral": -5}), "negative quota"),
    ] {
        let mut body = product.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = root.post("/api/admin/products", body).await;
        assert_eq!(answer.body["code"], 1, "{what}: {answer:?}");
    }
    let created = root.post("/api/admin/products", product.clone()).await;
    assert_eq!(created.body["code"], 0, "{created:?}");
    let id = created.body["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("member_"), "{id}");
    assert_eq!(created.body["data"]["day"], 3);
    let plan_id: i64 = id.trim_start_matches("member_").parse().unwrap();
    let plans = root.get("/api/subscription/admin/plans").await;
    assert_eq!(plans.data()[0]["plan"]["duration_unit"], "day");
    assert_eq!(plans.data()[0]["plan"]["currency"], "CNY");

    let shown = alice.get("/api/product").await;
    let membership = &shown.body["data"]["products"][0];
    assert_eq!(membership["id"], id.as_str());
    assert_eq!(membership["type"], "day");
    assert_eq!(membership["value"], 3);
    assert_eq!(membership["price"], 300);
    let listed = root.get("/api/admin/products?page=1&page_size=10").await;
    assert_eq!(listed.body["data"]["count"], 1);
    assert_eq!(listed.body["data"]["rows"][0]["day"], 3);

    let gateway = EpayGateway::configured(&pylon, &root, MERCHANT, KEY).await;
    let twice = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "alipay", "product_id": id, "quantity": 2}),
        )
        .await;
    assert_eq!(twice.body["code"], 1, "{twice:?}");
    let order = alice
        .post(
            "/api/pay/precreate",
            json!({"pay_type": "alipay", "product_id": id}),
        )
        .await;
    assert_eq!(order.body["code"], 0, "{order:?}");
    let opened = reqwest::get(order.body["data"]["pay_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(opened.status(), 200, "{:?}", gateway.refusals());
    let sent = gateway.orders().pop().unwrap();
    assert_eq!(sent.params["money"], "3.00");
    let notify_url = format!("{}/api/payment/yipay/notify", pylon.base_url);
    let genuine = gateway.paid_notification(&sent);
    let answers =
        join_all((0..10).map(|i| gateway.notify(&notify_url, &genuine, i % 2 == 0))).await;
    assert!(answers.iter().all(|a| a == "success"), "{answers:?}");
    let own = alice.get("/api/subscription/self").await;
    let subscriptions = own.data()["subscriptions"].as_array().unwrap();
    assert_eq!(subscriptions.len(), 1, "{own:?}");
    let subscription = &subscriptions[0]["subscription"];
    assert_eq!(subscription["plan_id"], plan_id);
    let length =
        subscription["end_time"].as_i64().unwrap() - subscription["start_time"].as_i64().unwrap();
    assert_eq!(length, 3 * 86_400);
    assert_eq!(subscription["amount_total"], 0, "unlimited within its days");
    assert_eq!(
        scalar(&pool, "SELECT COUNT(*) FROM user_subscriptions").await,
        1
    );
    let quota: i64 = sqlx::query_scalar("SELECT quota FROM users WHERE id = ?")
        .bind(alice_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(quota, 0, "a membership credits no quota");

    // Changed, then withdrawn: memberships sold run on.
    let mut changed = product.clone();
    changed["id"] = json!(id);
    changed["day"] = json!(7);
    let updated = root
        .send(
            Method::PUT,
            "/api/admin/products",
            Some(changed.to_string()),
        )
        .await;
    assert_eq!(updated.body["data"]["day"], 7, "{updated:?}");
    let deleted = root
        .send(Method::DELETE, &format!("/api/admin/products/{id}"), None)
        .await;
    assert_eq!(deleted.body["data"], 1, "{deleted:?}");
    assert_eq!(
        alice.get("/api/product").await.body["data"]["products"],
        json!([])
    );
    assert_eq!(
        alice.get("/api/subscription/self").await.data()["subscriptions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
on_every_backend!(membership_products_are_subscriptions);

async fn administrators_manage_card_keys(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let keys = json!({"type": "integral", "end_time": "2099-12-31", "quantity": 3, "reward": 1000});

    let mine = alice.post("/api/admin/carmi", keys.clone()).await;
    assert_eq!(mine.body["success"], false, "{mine:?}");
    for (change, what) in [
        (json!({"type": "day"}), "days"),
        (json!({"quantity": 0}), "no keys"),
        (json!({"quantity": 101}), "too many"),
        (json!({"reward": 0}), "no reward"),
        (json!({"end_time": "31/12/2099"}), "not a date"),
        (json!({"end_time": "2000-01-01"}), "past"),
    ] {
        let mut body = keys.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = root.post("/api/admin/carmi", body).await;
        assert_eq!(answer.body["code"], 1, "{what}: {answer:?}");
    }
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM redemptions").await, 0);

    let created = root.post("/api/admin/carmi", keys).await;
    assert_eq!(created.body["code"], 0, "{created:?}");
    let made = created.body["data"].as_array().unwrap();
    assert_eq!(made.len(), 3);
    assert_eq!(made[0]["value"], 1000);
    assert_eq!(made[0]["end_time"], "2099-12-31");
    assert_eq!(made[0]["key"].as_str().unwrap().len(), 32);

    // One is redeemed (a card key is a redemption code), one expires, one is deleted.
    let key = made[0]["key"].as_str().unwrap();
    let used = alice.post("/api/use_carmi", json!({"carmi": key})).await;
    assert_eq!(used.body["code"], 0, "{used:?}");
    let expiring: i64 = made[1]["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE redemptions SET expired_time = 1 WHERE id = ?")
        .bind(expiring)
        .execute(&pool)
        .await
        .unwrap();
    let listed = root.get("/api/admin/carmi?page=1&page_size=10").await;
    assert_eq!(listed.body["data"]["count"], 3, "{listed:?}");
    let rows = listed.body["data"]["rows"].as_array().unwrap();
    let status_of = |id: &Value| rows.iter().find(|r| r["id"] == *id).unwrap()["status"].clone();
    assert_eq!(status_of(&made[0]["id"]), 1, "used");
    assert_eq!(status_of(&made[1]["id"]), 2, "expired");
    assert_eq!(status_of(&made[2]["id"]), 0, "unused");
    let used_row = rows.iter().find(|r| r["id"] == made[0]["id"]).unwrap();
    assert_eq!(used_row["user_id"], alice.user_id.unwrap());
    assert_eq!(used_row["value"], "1000");
    let checked = root.get("/api/admin/carmi/check").await;
    assert_eq!(checked.body["data"]["expired"], 1, "{checked:?}");

    let id = made[2]["id"].as_str().unwrap();
    let deleted = root
        .send(Method::DELETE, &format!("/api/admin/carmi/{id}"), None)
        .await;
    assert_eq!(deleted.body["data"], 1, "{deleted:?}");
    let again = root
        .send(Method::DELETE, &format!("/api/admin/carmi/{id}"), None)
        .await;
    assert_eq!(again.body["data"], 0, "{again:?}");
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM redemptions").await, 2);
}
on_every_backend!(administrators_manage_card_keys);
