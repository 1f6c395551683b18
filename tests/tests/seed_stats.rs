//! The seeds' statistics routes and new-api's log deletion, on SQLite and on MySQL + Redis:
//! requests relayed through a canned upstream at a fixed price, then every route read over
//! HTTP: seed 002's `/api/usage/stats`, `/api/usage/log`, `/api/admin/stats`; seed 001's
//! `/api/stats`, `/api/channel-usage`, `/api/user/stats`, `/api/user/logs`, `/api/logs`; seed
//! 004's `/api/turnover`. Their numbers equal what the requests made, another user's data never
//! shows, administrators' routes refuse users, bad parameters are refused; seed 002's "tokens"
//! are the quota of the subscription in force, else of the wallet. `DELETE /api/log/`
//! removes only older rows, keeps the aggregates (the statistics do not move) and is audited.

use pylon_shared::config::Config;
use pylon_shared::db::{Db, LOG_TYPE_CONSUME, RelayRecord, now_secs};
use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::client::Answer;
use pylon_tests::fixtures::*;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, delete, funded_user, refused};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use sqlx::AnyPool;

const MODEL: &str = "gpt-seed-stats";
/// Quota of one request: `ModelPrice` 0.0002 USD × 500 000.
const PER_REQUEST: i64 = 100;
const START_QUOTA: i64 = 1_000_000;

fn answer(_path: &str, stream: bool) -> Canned {
    let usage = json!({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7});
    Canned::openai_chat(MODEL, "Hi", &usage, stream)
}

/// A Pylon with one priced model behind a canned upstream; answers its channel id.
async fn scene(backend: Backend) -> (Pylon, Console, AnyPool, CannedUpstream, i64) {
    let upstream = CannedUpstream::start(answer).await;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let db = database(&pylon).await;
    set_option(&root, "ModelPrice", &json!({ MODEL: 0.0002 }).to_string()).await;
    let channel = create_channel(
        &root,
        openai_channel("seed-upstream", &upstream.base_url, MODEL),
    )
    .await;
    (pylon, root, db, upstream, channel)
}

/// A common user with [`START_QUOTA`] (an administrator's `add_quota`), logged in, with a key
/// the proxy routes.
async fn user_with_key(pylon: &Pylon, root: &Console, name: &str) -> (Console, i64, String) {
    let (console, id) = funded_user(pylon, root, name, START_QUOTA).await;
    let (_, key) = create_key(&console, &format!("{name}-key"), 0, true).await;
    wait_until_routable(pylon, &key, MODEL).await;
    (console, id, key)
}

async fn relay(pylon: &Pylon, key: &str, stream: bool) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "stream": stream,
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .expect("relay");
    assert_eq!(answer.status(), 200);
    answer.bytes().await.expect("body");
}

fn ok(answer: &Answer) -> &Value {
    assert!(answer.success(), "{answer:?}");
    answer.data()
}

/// Seed 001's totals of `requests` charged requests at [`PER_REQUEST`].
fn totals(requests: i64) -> Value {
    json!({"requests": requests, "errors": 0, "quota": requests * PER_REQUEST,
        "prompt_tokens": 5 * requests, "completion_tokens": 2 * requests, "cached_tokens": 0,
        "total_tokens": 7 * requests})
}

async fn stats_routes_read_the_aggregates(backend: Backend) {
    let (pylon, root, db, _upstream, channel) = scene(backend).await;
    let (alice, alice_id, alice_key) = user_with_key(&pylon, &root, "alice").await;
    let (bob, bob_id, bob_key) = user_with_key(&pylon, &root, "bob").await;
    let day_before = now_secs() / 86_400;
    for stream in [false, true, true] {
        relay(&pylon, &alice_key, stream).await;
    }
    relay(&pylon, &bob_key, false).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 4).await;
    let same_day = now_secs() / 86_400 == day_before;

    // Seed 002, the caller's own: the wallet pays, "tokens" are quota.
    let stats = alice.get("/api/usage/stats").await;
    let expected = json!({"tokenUsed": 3 * PER_REQUEST, "tokenLimit": START_QUOTA,
        "remaining": START_QUOTA - 3 * PER_REQUEST, "requestCount": 3, "plan": null,
        "expiresAt": null});
    assert_eq!(ok(&stats), &expected);
    for (field, value) in expected.as_object().expect("object") {
        assert_eq!(&stats.body[field], value, "{field} at the top level too");
    }
    assert_eq!(ok(&bob.get("/api/usage/stats").await)["requestCount"], 1);

    // Seed 001, the caller's own.
    let own = alice.get("/api/user/stats").await;
    let own = ok(&own);
    assert_eq!(own["total"], totals(3), "{own}");
    if same_day {
        assert_eq!(own["today"], totals(3));
    }
    assert_eq!(own["quota"], START_QUOTA - 3 * PER_REQUEST);
    assert_eq!(own["models"].as_array().map(Vec::len), Some(1));
    assert_eq!(own["models"][0]["model_name"], MODEL);
    assert_eq!(own["models"][0]["requests"], 3);

    // The log lists show only the caller's rows.
    for path in [
        "/api/user/logs?type=2",
        "/api/usage/log?type=2&p=1&page_size=10",
    ] {
        let list = alice.get(path).await;
        let items = ok(&list)["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), 3, "{path}: {list:?}");
        assert!(items.iter().all(|row| row["user_id"] == alice_id), "{path}");
        assert_eq!(list.data()["total"], 3);
    }
    let bobs = bob.get("/api/user/logs?type=2").await;
    assert!(
        ok(&bobs)["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["user_id"] == bob_id)
    );

    // Administrators: everyone's numbers.
    let overview = root.get("/api/stats").await;
    let overview = ok(&overview);
    assert_eq!(overview["users"], 3, "{overview}");
    assert_eq!(overview["channels"], 1);
    assert_eq!(overview["enabled_channels"], 1);
    assert_eq!(overview["total"], totals(4));
    if same_day {
        assert_eq!(overview["today"], totals(4));
    }
    assert_eq!(overview["models"][0]["quota"], 4 * PER_REQUEST);
    let seed2 = root.get("/api/admin/stats").await;
    assert_eq!(ok(&seed2)["requestCount"], 4, "{seed2:?}");
    assert_eq!(seed2.body["tokenUsed"], 4 * PER_REQUEST);
    assert_eq!(seed2.body["userCount"], 3);
    assert_eq!(seed2.body["promptTokens"], 20);
    let usage = root.get("/api/channel-usage").await;
    let mut line = totals(4);
    line["channel_id"] = json!(channel);
    line["name"] = json!("seed-upstream");
    line["type"] = json!(1);
    line["status"] = json!(1);
    assert_eq!(ok(&usage), &json!([line]));
    let everyone = root.get("/api/logs?type=2").await;
    assert_eq!(ok(&everyone)["total"], 4);

    // Ranges: whole hours from the aggregates; an hour still to come holds nothing.
    let later = now_secs() + 7_200;
    let future = root
        .get(&format!("/api/stats?start_timestamp={later}"))
        .await;
    assert_eq!(ok(&future)["total"], totals(0));
    let past = alice.get("/api/user/stats?end_timestamp=3600").await;
    assert_eq!(ok(&past)["total"], totals(0));
    let hour = now_secs() - now_secs() % 3_600 - 3_600;
    let all = root
        .get(&format!("/api/channel-usage?start_timestamp={hour}"))
        .await;
    assert_eq!(ok(&all)[0]["requests"], 4);

    // Bad parameters: refused in the envelope.
    for path in [
        "/api/stats?start_timestamp=x",
        "/api/stats?start_timestamp=10&end_timestamp=5",
        "/api/channel-usage?end_timestamp=-1",
        "/api/admin/stats?start_timestamp=1.5",
    ] {
        let answer = root.get(path).await;
        assert!(!answer.success(), "{path}: {answer:?}");
        assert!(answer.message().contains("timestamp"), "{path}: {answer:?}");
    }
    assert!(
        !alice
            .get("/api/user/stats?start_timestamp=abc")
            .await
            .success()
    );

    // Users may not read everyone's.
    for path in [
        "/api/stats",
        "/api/channel-usage",
        "/api/logs",
        "/api/admin/stats",
    ] {
        refused(&alice.get(path).await, INSUFFICIENT);
    }

    // Seed 004's points ledger: the caller's log rows, newest first, in its envelope.
    let ledger = alice.get("/api/turnover?page=1&pageSize=10").await;
    assert_eq!(ledger.body["code"], 0, "{ledger:?}");
    let data = &ledger.body["data"];
    assert_eq!(
        data["count"], 5,
        "three requests, the administrator's credit and the account's creation: {data}"
    );
    let rows = data["rows"].as_array().expect("rows");
    let alice_text = alice_id.to_string();
    assert!(rows.iter().all(|r| r["user_id"] == alice_text.as_str()));
    for row in &rows[..3] {
        assert_eq!(row["quota"], -PER_REQUEST, "{row}");
        assert_eq!(row["value"], format!("-{PER_REQUEST}积分"));
        assert_eq!(row["describe"], format!("Request to {MODEL}"));
    }
    assert_eq!(
        rows[3]["quota"], START_QUOTA,
        "the credit, signed from its movement"
    );
    assert_eq!(rows[3]["value"], format!("{START_QUOTA}积分"));
    assert_eq!(
        rows[4]["quota"], 0,
        "the creation moved nothing: {}",
        rows[4]
    );
    let row_keys: Vec<&str> = rows[0]
        .as_object()
        .expect("row")
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "user_id",
        "value",
        "describe",
        "create_time",
        "update_time",
    ] {
        assert!(row_keys.contains(&key), "{key} in {row_keys:?}");
    }
    let second = alice.get("/api/turnover?page=2&pageSIze=3").await;
    assert_eq!(
        second.body["data"]["rows"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(second.body["data"]["rows"][0]["quota"], START_QUOTA);
    let first = alice.get("/api/turnover?pageSize=3").await;
    let cursor = first.body["data"]["next_before"]
        .as_i64()
        .expect("a cursor");
    let deeper = alice
        .get(&format!("/api/turnover?pageSize=3&before={cursor}"))
        .await;
    assert_eq!(deeper.body["data"]["rows"], second.body["data"]["rows"]);
    assert_eq!(alice.get("/api/turnover?before=-1").await.body["code"], 1);
    let bobs = bob.get("/api/turnover").await;
    assert_eq!(bobs.body["data"]["count"], 3, "{bobs:?}");
    let overflow = alice.get("/api/turnover?page=99999999999999999999").await;
    assert_eq!(overflow.body["code"], 1, "{overflow:?}");
    assert!(
        overflow.body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too large"),
        "{overflow:?}"
    );
    db.close().await;
}
on_every_backend!(stats_routes_read_the_aggregates);

async fn usage_stats_show_the_subscription_in_force(backend: Backend) {
    let (pylon, root, db, _upstream, _channel) = scene(backend).await;
    let plan = root
        .post(
            "/api/subscription/admin/plans",
            json!({"plan": {"title": "Five", "price_amount": 1,
                "total_amount": 5 * PER_REQUEST}}),
        )
        .await;
    let plan_id = ok(&plan)["id"].as_i64().expect("plan id");
    let (carol, carol_id, key) = user_with_key(&pylon, &root, "carol").await;
    let bound = root
        .post(
            "/api/subscription/admin/bind",
            json!({"user_id": carol_id, "plan_id": plan_id}),
        )
        .await;
    let ends = ok(&bound)["subscription"]["end_time"].clone();
    assert!(
        ends.as_i64().is_some_and(|end| end > now_secs()),
        "{bound:?}"
    );
    // The subscription reaches the proxy with the user's next change event; a request before
    // that is paid by the wallet, so wait until one is paid by the subscription.
    let paid_by_subscription =
        "SELECT COUNT(*) FROM user_subscriptions WHERE user_id = ? AND amount_used > 0";
    let logged = "SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ?";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let before = scalar_of(&db, logged, carol_id).await;
        relay(&pylon, &key, false).await;
        eventually_of(&db, logged, carol_id, before + 1).await;
        if scalar_of(&db, paid_by_subscription, carol_id).await > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no request was paid by the subscription"
        );
    }
    let requests = scalar_of(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ?",
        carol_id,
    )
    .await;
    let used = scalar_of(
        &db,
        "SELECT amount_used FROM user_subscriptions WHERE user_id = ?",
        carol_id,
    )
    .await;
    assert_eq!(used, PER_REQUEST, "one request on the subscription");
    let stats = carol.get("/api/usage/stats").await;
    assert_eq!(
        ok(&stats),
        &json!({"tokenUsed": PER_REQUEST, "tokenLimit": 5 * PER_REQUEST,
            "remaining": 4 * PER_REQUEST, "requestCount": requests, "plan": "Five",
            "expiresAt": ends})
    );
    assert_eq!(stats.body["plan"], "Five");
    db.close().await;
}
on_every_backend!(usage_stats_show_the_subscription_in_force);

async fn shared_db(pylon: &Pylon) -> Db {
    let env = vec![("PYLON__DATABASE__URL".to_string(), pylon.database_url())];
    let config = Config::load(None, env).expect("config");
    Db::connect(&config).await.expect("connect")
}

fn old_record(id: &str, at: i64) -> RelayRecord {
    RelayRecord {
        request_id: id.into(),
        created_at: at,
        log_type: LOG_TYPE_CONSUME,
        user_id: 1,
        username: "root".into(),
        group: "default".into(),
        model_name: MODEL.into(),
        quota: 1_000,
        prompt_tokens: 11,
        completion_tokens: 13,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

async fn deleting_logs_keeps_the_aggregates(backend: Backend) {
    let (pylon, root, db, _upstream, _channel) = scene(backend).await;
    let (alice, _, key) = user_with_key(&pylon, &root, "alice").await;
    relay(&pylon, &key, false).await;
    relay(&pylon, &key, true).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 2).await;
    // Three rows from ten days back (settled as the relay settles, aggregates included); the
    // cut-off falls between the second and the third.
    let shared = shared_db(&pylon).await;
    let old = now_secs() - 10 * 86_400;
    let batch = [
        old_record("req_old_1", old),
        old_record("req_old_2", old + 10),
        old_record("req_old_3", old + 20),
    ];
    assert_eq!(shared.apply_relay_records(&batch).await.expect("apply"), 3);
    let logs = "SELECT COUNT(*) FROM logs";
    let before_rows = scalar(&db, logs).await;
    let before = ok(&root.get("/api/stats").await).clone();
    assert_eq!(before["total"]["requests"], 5, "{before}");

    // Refused: no or a bad timestamp, a user; nothing is deleted.
    for path in [
        "/api/log/",
        "/api/log/?target_timestamp=",
        "/api/log/?target_timestamp=0",
        "/api/log/?target_timestamp=abc",
        "/api/log/?target_timestamp=-5",
    ] {
        let answer = delete(&root, path).await;
        assert!(!answer.success(), "{path}: {answer:?}");
        assert!(answer.message().contains("timestamp"), "{path}: {answer:?}");
    }
    refused(
        &delete(
            &alice,
            &format!("/api/log/?target_timestamp={}", now_secs()),
        )
        .await,
        INSUFFICIENT,
    );
    assert_eq!(scalar(&db, logs).await, before_rows);

    let cutoff = old + 20;
    let deleted = delete(&root, &format!("/api/log/?target_timestamp={cutoff}")).await;
    assert_eq!(
        deleted.body,
        json!({"success": true, "message": "", "data": 2})
    );
    assert_eq!(scalar(&db, logs).await, before_rows - 2);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM logs WHERE request_id = 'req_old_3'"
        )
        .await,
        1,
        "a row at the cut-off itself stays"
    );
    let again = delete(&root, &format!("/api/log/?target_timestamp={cutoff}")).await;
    assert_eq!(again.data(), &json!(0));
    // The aggregates stay: every statistic reads as before.
    assert_eq!(ok(&root.get("/api/stats").await), &before);
    assert_eq!(ok(&alice.get("/api/usage/stats").await)["requestCount"], 2);
    // Audited like every administrator's change.
    let audited = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT method, path, success FROM audit_log WHERE route = '/api/log/' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("audit rows");
    assert!(
        audited
            .iter()
            .any(|(method, path, success)| method == "DELETE"
                && path.starts_with("/api/log")
                && *success == 1),
        "{audited:?}"
    );
    db.close().await;
}
on_every_backend!(deleting_logs_keeps_the_aggregates);
