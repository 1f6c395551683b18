//! Seed 001's user channels and per-channel group multipliers, end to end on SQLite and on
//! MySQL + Redis: an administrator creates channels on mock upstreams and user channels over
//! them; a key limited to a user channel is served only by its members, in the user channel's
//! algorithm (round robin alternates, weighted round robin follows the weights exactly over
//! their sum, priority falls back when the first member fails); the charge is the exact integer
//! with the channel's (or channel-model's) and the user channel's multipliers, held at the
//! dearest candidate and charged at the one that served; bad input is refused in new-api's
//! envelope and changes nothing.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::user_admin_fixtures::refused;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};

const MODEL: &str = "gpt-uc";
/// Served by one channel only, with the channel's multiplier and no channel-model one.
const OTHER_MODEL: &str = "gpt-uc-other";
/// Served by a failing dear channel and a working cheap one.
const RETRY_MODEL: &str = "gpt-uc-retry";

/// ModelRatio 1.5 and CompletionRatio 2 for every model here.
async fn priced(console: &Console) {
    let models = [MODEL, OTHER_MODEL, RETRY_MODEL];
    let ratios: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(1.5))).collect();
    set_option(console, "ModelRatio", &Value::Object(ratios).to_string()).await;
    let completion: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(2))).collect();
    set_option(
        console,
        "CompletionRatio",
        &Value::Object(completion).to_string(),
    )
    .await;
}

async fn mock() -> MockUpstream {
    MockUpstream::start(MockConfig::default())
        .await
        .expect("mock")
}

/// A channel at `base_url` serving `models` to the default group, at channel priority
/// `priority`; `failing` makes its upstream answer 500.
fn channel(name: &str, base_url: &str, models: &str, priority: i64, failing: bool) -> Value {
    let mut channel = openai_channel(name, base_url, models);
    channel["priority"] = json!(priority);
    if failing {
        channel["header_override"] = json!(json!({"x-mock-status": "500"}).to_string());
    }
    channel
}

async fn put(console: &Console, path: &str, body: Value) -> pylon_tests::client::Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

/// Creates a user channel and returns its id.
async fn user_channel(console: &Console, body: Value) -> i64 {
    let answer = console.post("/api/user-channels", body).await;
    assert!(
        answer.success(),
        "creating the user channel failed: {answer:?}"
    );
    answer.data()["id"].as_i64().expect("user channel id")
}

/// Creates a key limited to `user_channels` and returns (id, full key).
async fn limited_key(console: &Console, name: &str, user_channels: &[i64]) -> (i64, String) {
    let (id, key) = create_key(console, name, 0, true).await;
    let answer = put(
        console,
        "/api/token/",
        json!({"id": id, "user_channel_ids": user_channels}),
    )
    .await;
    assert!(answer.success(), "limiting the key failed: {answer:?}");
    assert_eq!(answer.data()["user_channel_ids"], json!(user_channels));
    (id, key)
}

/// A chat completion through the relay: its status and body.
async fn chat(pylon: &Pylon, key: &str, model: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// How many requests each of `mocks` received since it had `before`.
fn received_since(mocks: &[&MockUpstream], before: &[usize]) -> Vec<usize> {
    mocks
        .iter()
        .zip(before)
        .map(|(m, before)| m.request_count() - before)
        .collect()
}

/// Which of `mocks` received the request just sent (exactly one must have).
fn served_by(mocks: &[&MockUpstream], before: &[usize]) -> usize {
    let received = received_since(mocks, before);
    let grown: Vec<usize> = (0..received.len()).filter(|i| received[*i] > 0).collect();
    assert_eq!(
        grown.len(),
        1,
        "exactly one upstream must serve: {received:?}"
    );
    grown[0]
}

fn counts(mocks: &[&MockUpstream]) -> Vec<usize> {
    mocks.iter().map(|m| m.request_count()).collect()
}

async fn limited_keys_route_by_their_user_channels(backend: Backend) {
    let (one, two, outside) = (mock().await, mock().await, mock().await);
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let ch1 = create_channel(&console, channel("one", &one.base_url(), MODEL, 0, false)).await;
    let ch2 = create_channel(&console, channel("two", &two.base_url(), MODEL, 0, false)).await;
    // What an unlimited key of the group uses first; in no user channel.
    create_channel(
        &console,
        channel("outside", &outside.base_url(), MODEL, 100, false),
    )
    .await;
    // Fails; lowest channel priority, so only the priority user channel tries it first.
    let broken = create_channel(
        &console,
        channel("broken", &outside.base_url(), MODEL, -10, true),
    )
    .await;

    let members = |weights: [i64; 2]| json!([{"channel_id": ch1, "weight": weights[0]}, {"channel_id": ch2, "weight": weights[1]}]);
    let rr = user_channel(
        &console,
        json!({"name": "alternating", "algorithm": "round_robin", "members": members([1, 1])}),
    )
    .await;
    let wrr = user_channel(
        &console,
        json!({"name": "weighted", "algorithm": "weighted_round_robin",
            "members": members([3, 1])}),
    )
    .await;
    let prio = user_channel(
        &console,
        json!({"name": "fallback", "algorithm": "priority", "members": [
            {"channel_id": broken, "priority": 10},
            {"channel_id": ch2, "priority": 5},
            {"channel_id": ch1, "priority": 0}]}),
    )
    .await;
    let listed = console.get("/api/user-channels").await;
    assert_eq!(
        listed.data().as_array().map(Vec::len),
        Some(3),
        "{listed:?}"
    );
    assert_eq!(listed.data()[2]["members"][0]["channel_id"], json!(broken));

    let (_, rr_key) = limited_key(&console, "rr", &[rr]).await;
    let (_, wrr_key) = limited_key(&console, "wrr", &[wrr]).await;
    let (_, prio_key) = limited_key(&console, "prio", &[prio]).await;
    let (_, free_key) = create_key(&console, "free", 0, true).await;
    for key in [&rr_key, &wrr_key, &prio_key, &free_key] {
        wait_until_routable(&pylon, key, MODEL).await;
    }
    let mocks = [&one, &two, &outside];

    // Round robin: every request goes to the other member.
    let mut order = Vec::new();
    for _ in 0..4 {
        let before = counts(&mocks);
        let (status, body) = chat(&pylon, &rr_key, MODEL).await;
        assert_eq!(status, 200, "{body}");
        order.push(served_by(&mocks, &before));
    }
    assert!(
        order.iter().all(|i| *i < 2),
        "only members serve: {order:?}"
    );
    assert!(
        order.windows(2).all(|w| w[0] != w[1]),
        "alternates: {order:?}"
    );

    // Weighted round robin 3:1: over 8 requests, exactly 6 and 2.
    let before = counts(&mocks);
    for _ in 0..8 {
        let (status, body) = chat(&pylon, &wrr_key, MODEL).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(received_since(&mocks, &before), [6, 2, 0]);

    // An unlimited key routes as before: the highest channel priority of its group.
    let before = counts(&mocks);
    assert_eq!(chat(&pylon, &free_key, MODEL).await.0, 200);
    assert_eq!(served_by(&mocks, &before), 2);

    // Priority: the first member fails, the next one serves; the log row says so.
    let before = counts(&mocks);
    let (status, body) = chat(&pylon, &prio_key, MODEL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        received_since(&mocks, &before),
        [0, 1, 1],
        "the broken member was tried, then member two served"
    );
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 14).await;
    let (channel_id, retries, other): (i64, i64, String) = sqlx::query_as(
        "SELECT channel_id, retries, other FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("log");
    assert_eq!((channel_id, retries), (ch2, 1));
    let other: Value = serde_json::from_str(&other).expect("other");
    assert_eq!(other["user_channel_id"], json!(prio));

    // A model none of its user channels serves is not found, however the group could reach it.
    create_channel(
        &console,
        channel("elsewhere", &outside.base_url(), OTHER_MODEL, 0, false),
    )
    .await;
    wait_until_routable(&pylon, &free_key, OTHER_MODEL).await;
    let (status, body) = chat(&pylon, &rr_key, OTHER_MODEL).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], json!("model_not_found"));

    // A disabled user channel: its keys are refused, never routed elsewhere.
    let disabled = put(
        &console,
        &format!("/api/user-channels/{rr}"),
        json!({"status": 2}),
    )
    .await;
    assert!(disabled.success(), "{disabled:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let body = loop {
        let before = counts(&mocks);
        let (status, body) = chat(&pylon, &rr_key, MODEL).await;
        if status == 403 {
            assert_eq!(counts(&mocks), before, "no upstream saw it");
            break body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still routed: {status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("user channels"),
        "{body}"
    );
    db.close().await;
}
on_every_backend!(limited_keys_route_by_their_user_channels);

/// `round(units * numerator / denominator)`, half away from zero, in integers.
fn rounded(units: i64, numerator: i64, denominator: i64) -> i64 {
    let value = i128::from(units) * i128::from(numerator);
    let denominator = i128::from(denominator);
    i64::try_from((2 * value + denominator) / (2 * denominator)).expect("fits")
}

/// Prompt + completion x 2 of an answer (the token units ModelRatio 1.5 multiplies).
fn units(body: &Value) -> i64 {
    let prompt = body["usage"]["prompt_tokens"]
        .as_i64()
        .expect("prompt tokens");
    let completion = body["usage"]["completion_tokens"]
        .as_i64()
        .expect("completion tokens");
    prompt + 2 * completion
}

async fn multipliers_are_charged_exactly(backend: Backend) {
    let (first, second, dear) = (mock().await, mock().await, mock().await);
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let models = format!("{MODEL},{OTHER_MODEL}");
    let ch1 = create_channel(
        &console,
        channel("first", &first.base_url(), &models, 10, false),
    )
    .await;
    create_channel(
        &console,
        channel("second", &second.base_url(), MODEL, 0, false),
    )
    .await;
    let failing = create_channel(
        &console,
        channel("dear", &dear.base_url(), RETRY_MODEL, 10, true),
    )
    .await;
    let cheap = create_channel(
        &console,
        channel("cheap", &second.base_url(), RETRY_MODEL, 0, false),
    )
    .await;

    // The channel's multiplier for the default group, and its model MODEL's, which wins.
    let set = put(
        &console,
        &format!("/api/channels/{ch1}/group-multipliers"),
        json!({"default": 1.1, "vip": 3}),
    )
    .await;
    assert!(set.success(), "{set:?}");
    assert_eq!(
        set.data()["group_multipliers"],
        json!({"default": 1.1, "vip": 3.0})
    );
    let listed = console.get(&format!("/api/channels/{ch1}/models")).await;
    assert_eq!(listed.data()["group_multipliers"]["default"], json!(1.1));
    let items = listed.data()["items"].as_array().cloned().expect("items");
    assert_eq!(items.len(), 2, "{listed:?}");
    assert_eq!(items[0]["model"], json!(MODEL));
    let channel_model = items[0]["id"].as_i64().expect("channel-model id");
    let set = put(
        &console,
        &format!("/api/channel-models/{channel_model}/group-multipliers"),
        json!({"group_multipliers": {"default": "1.3"}}),
    )
    .await;
    assert!(set.success(), "{set:?}");
    let set = put(
        &console,
        &format!("/api/channels/{failing}/group-multipliers"),
        json!({"default": 2}),
    )
    .await;
    assert!(set.success(), "{set:?}");
    let tier = user_channel(
        &console,
        json!({"name": "premium", "multiplier": 1.25, "members": [{"channel_id": ch1}]}),
    )
    .await;

    let (free_id, free_key) = create_key(&console, "free", 100_000_000, false).await;
    let (_, tier_key) = limited_key(&console, "tier", &[tier]).await;
    wait_until_routable(&pylon, &free_key, RETRY_MODEL).await;
    wait_until_routable(&pylon, &tier_key, MODEL).await;
    let db = database(&pylon).await;
    let user_before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;

    // MODEL on channel one: the channel-model's 1.3 (the new snapshot may need a moment).
    let mut expected = Vec::new();
    let (status, body) = chat(&pylon, &free_key, MODEL).await;
    assert_eq!(status, 200, "{body}");
    expected.push(rounded(units(&body), 15 * 13, 100));
    // OTHER_MODEL on channel one: the channel's 1.1.
    let (status, body) = chat(&pylon, &free_key, OTHER_MODEL).await;
    assert_eq!(status, 200, "{body}");
    expected.push(rounded(units(&body), 15 * 11, 100));
    // Through the user channel: 1.3 x 1.25.
    let (status, body) = chat(&pylon, &tier_key, MODEL).await;
    assert_eq!(status, 200, "{body}");
    expected.push(rounded(units(&body), 15 * 13 * 125, 10_000));
    // The dear channel (x2) fails; the cheap one (x1) serves and is what is charged.
    let (status, body) = chat(&pylon, &free_key, RETRY_MODEL).await;
    assert_eq!(status, 200, "{body}");
    expected.push(rounded(units(&body), 15, 10));

    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 4).await;
    let rows: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT quota, channel_id, other FROM logs WHERE type = 2 ORDER BY id")
            .fetch_all(&db)
            .await
            .expect("logs");
    let quotas: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(quotas, expected);
    assert_eq!(rows[3].1, cheap);
    let other = |i: usize| -> Value { serde_json::from_str(&rows[i].2).expect("other") };
    assert_eq!(other(0)["channel_multiplier"], json!(1.3));
    assert_eq!(other(1)["multiplier"], json!(1.1));
    assert_eq!(other(2)["user_channel_id"], json!(tier));
    assert_eq!(other(2)["user_channel_multiplier"], json!(1.25));
    assert_eq!(other(2)["multiplier"], json!(1.625));
    assert!(other(3).get("multiplier").is_none(), "{}", other(3));
    assert_eq!(
        user_before - scalar(&db, "SELECT quota FROM users WHERE id = 1").await,
        expected.iter().sum::<i64>(),
        "the balance fell by exactly the logged charges"
    );
    let remain: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(free_id)
        .fetch_one(&db)
        .await
        .expect("token");
    assert_eq!(
        100_000_000 - remain,
        expected[0] + expected[1] + expected[3]
    );

    // A copy of the channel keeps its group multipliers.
    let copy = console
        .post(&format!("/api/channel/copy/{ch1}"), json!({}))
        .await;
    assert!(copy.success(), "{copy:?}");
    let copy_id = copy.data()["id"].as_i64().expect("copy id");
    let listed = console
        .get(&format!("/api/channels/{copy_id}/models"))
        .await;
    assert_eq!(
        listed.data()["group_multipliers"],
        json!({"default": 1.1, "vip": 3.0})
    );

    // Removing a channel-model drops the model from its channel (and its multipliers).
    let gone = console
        .send(
            Method::DELETE,
            &format!("/api/channel-models/{channel_model}"),
            None,
        )
        .await;
    assert!(gone.success(), "{gone:?}");
    let listed = console.get(&format!("/api/channels/{ch1}/models")).await;
    assert_eq!(listed.data()["models"], json!([OTHER_MODEL]));
    db.close().await;
}
on_every_backend!(multipliers_are_charged_exactly);

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let upstream = mock().await;
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let ch = create_channel(
        &console,
        channel("only", &upstream.base_url(), MODEL, 0, false),
    )
    .await;
    let db = database(&pylon).await;
    let customer = console_with_role(&pylon, &db, "customer", 1).await;

    // Group multipliers: zero, negative, not numbers, not a map, malformed JSON, unknown ids.
    let path = format!("/api/channels/{ch}/group-multipliers");
    for (body, expected) in [
        (json!({"default": 0}), "not above 0"),
        (json!({"default": -1.5}), "not above 0"),
        (json!({"default": "cheap"}), "not a decimal number"),
        (json!({"default": 1.0000001}), "decimal places"),
        (json!([1, 2]), "must be an object"),
    ] {
        refused(&put(&console, &path, body).await, expected);
    }
    refused(
        &console
            .send(Method::PUT, &path, Some("{\"default\": ".into()))
            .await,
        "Invalid parameters",
    );
    refused(
        &put(
            &console,
            "/api/channels/999/group-multipliers",
            json!({"default": 2}),
        )
        .await,
        "Channel does not exist",
    );
    refused(
        &put(
            &console,
            "/api/channel-models/999/group-multipliers",
            json!({"default": 2}),
        )
        .await,
        "Channel model does not exist",
    );
    refused(
        &put(
            &console,
            "/api/channel-models/999",
            json!({"upstream_model": "x"}),
        )
        .await,
        "Channel model does not exist",
    );
    let listed = console.get(&format!("/api/channels/{ch}/models")).await;
    assert_eq!(listed.data()["group_multipliers"], json!({}), "unchanged");

    // User channels: unknown members, bad multipliers and algorithms, malformed JSON.
    for (body, expected) in [
        (
            json!({"name": "x", "members": [{"channel_id": 999}]}),
            "channel 999 does not exist",
        ),
        (json!({"name": "x", "multiplier": 0}), "not above 0"),
        (json!({"name": "x", "multiplier": -2}), "not above 0"),
        (
            json!({"name": "x", "algorithm": "random"}),
            "algorithm must be one of",
        ),
        (
            json!({"name": "x", "members": [{"channel_id": "one"}]}),
            "Invalid parameters",
        ),
        (json!({"multiplier": 2}), "name is required"),
    ] {
        refused(&console.post("/api/user-channels", body).await, expected);
    }
    refused(
        &console.post_raw("/api/user-channels", "{\"name\": ").await,
        "Invalid parameters",
    );
    assert_eq!(console.get("/api/user-channels").await.data(), &json!([]));

    // Administrators only, checked on every call.
    for answer in [
        customer.get("/api/user-channels").await,
        customer
            .post("/api/user-channels", json!({"name": "mine"}))
            .await,
        put(&customer, &path, json!({"default": 0.1})).await,
        put(
            &customer,
            "/api/user-channels/1",
            json!({"multiplier": 0.1}),
        )
        .await,
        customer
            .send(Method::DELETE, "/api/user-channels/1", None)
            .await,
    ] {
        refused(&answer, "insufficient privileges");
    }
    assert_eq!(console.get("/api/user-channels").await.data(), &json!([]));

    let open = user_channel(
        &console,
        json!({"name": "open", "description": "for everyone", "multiplier": 0.9,
            "members": [{"channel_id": ch, "priority": 3, "weight": 2}]}),
    )
    .await;
    let vip_only = user_channel(
        &console,
        json!({"name": "vip", "allowed_groups": ["vip"], "members": [{"channel_id": ch}]}),
    )
    .await;
    refused(
        &put(
            &console,
            &format!("/api/user-channels/{open}"),
            json!({"multiplier": 0}),
        )
        .await,
        "not above 0",
    );
    refused(
        &put(
            &console,
            &format!("/api/user-channels/{open}"),
            json!({"members": [{"channel_id": 999}]}),
        )
        .await,
        "channel 999 does not exist",
    );
    refused(
        &put(&console, "/api/user-channels/999", json!({"name": "y"})).await,
        "User channel does not exist",
    );
    let stored = console.get("/api/user-channels").await;
    assert_eq!(stored.data()[0]["multiplier"], json!(0.9), "unchanged");
    assert_eq!(
        stored.data()[0]["members"][0]["weight"],
        json!(2),
        "unchanged"
    );

    // Customers see the user channels open to their group, without upstream details.
    let mine = customer.get("/api/user/user-channels").await;
    assert!(mine.success(), "{mine:?}");
    assert_eq!(
        mine.data(),
        &json!([{"id": open, "name": "open", "description": "for everyone",
            "multiplier": 0.9, "models": [MODEL]}])
    );

    // Keys: unknown ids, user channels of another group, not a list; another user's key.
    let (key_id, _) = create_key(&console, "owner-key", 0, true).await;
    for (ids, expected) in [
        (
            json!([999]),
            "User channel 999 does not exist or is not available",
        ),
        (json!([vip_only]), "is not available to group default"),
        (json!({"id": open}), "must be a list"),
        (json!(["x"]), "must be a list"),
    ] {
        refused(
            &put(
                &console,
                "/api/token/",
                json!({"id": key_id, "user_channel_ids": ids}),
            )
            .await,
            expected,
        );
    }
    refused(
        &put(
            &customer,
            "/api/token/",
            json!({"id": key_id, "user_channel_ids": [open]}),
        )
        .await,
        "record not found",
    );
    let own = console.get(&format!("/api/token/{key_id}")).await;
    assert_eq!(own.data()["user_channel_ids"], json!([]), "unchanged");

    // A user channel a key is limited to is not deleted: the answer names the key.
    limited_key(&console, "limited", &[open]).await;
    let limited_id = scalar(&db, "SELECT MAX(id) FROM tokens").await;
    refused(
        &console
            .send(Method::DELETE, &format!("/api/user-channels/{open}"), None)
            .await,
        &format!("still used by 1 key(s) (ids {limited_id})"),
    );
    assert_eq!(
        console
            .get("/api/user-channels")
            .await
            .data()
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let detached = put(
        &console,
        "/api/token/",
        json!({"id": limited_id, "user_channel_ids": []}),
    )
    .await;
    assert!(detached.success(), "{detached:?}");
    let deleted = console
        .send(Method::DELETE, &format!("/api/user-channels/{open}"), None)
        .await;
    assert!(deleted.success(), "{deleted:?}");
    refused(
        &console
            .send(Method::DELETE, &format!("/api/user-channels/{open}"), None)
            .await,
        "User channel does not exist",
    );
    // A deleted channel leaves no member behind.
    let gone = console
        .send(Method::DELETE, &format!("/api/channel/{ch}"), None)
        .await;
    assert!(gone.success(), "{gone:?}");
    let remaining = console.get("/api/user-channels").await;
    assert_eq!(remaining.data()[0]["members"], json!([]), "{remaining:?}");
    db.close().await;
}
on_every_backend!(bad_input_is_refused_and_changes_nothing);

/// Across nodes (MySQL + Redis only: the embedded mode is one proxy): a user channel edit made
/// through the control plane reaches another proxy node, which routes by it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_channel_edits_reach_every_node() {
    let (one, two) = (mock().await, mock().await);
    let pylon = Pylon::start(Backend::MySqlRedis).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let ch1 = create_channel(&console, channel("one", &one.base_url(), MODEL, 0, false)).await;
    let ch2 = create_channel(&console, channel("two", &two.base_url(), MODEL, 0, false)).await;
    let tier = user_channel(
        &console,
        json!({"name": "moving", "members": [{"channel_id": ch1}]}),
    )
    .await;
    let (_, key) = limited_key(&console, "moving", &[tier]).await;
    let node = pylon.start_node().await;
    wait_until_routable_at(&node.base_url, &key, MODEL).await;
    let send = || async {
        reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", node.base_url))
            .bearer_auth(&key)
            .json(&json!({"model": MODEL, "messages": []}))
            .send()
            .await
            .expect("node reachable")
            .status()
            .as_u16()
    };
    let mocks = [&one, &two];
    let before = counts(&mocks);
    assert_eq!(send().await, 200);
    assert_eq!(served_by(&mocks, &before), 0);

    let moved = put(
        &console,
        &format!("/api/user-channels/{tier}"),
        json!({"members": [{"channel_id": ch2}]}),
    )
    .await;
    assert!(moved.success(), "{moved:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let before = counts(&mocks);
        assert_eq!(send().await, 200);
        if served_by(&mocks, &before) == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other node still routes to the old member"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
