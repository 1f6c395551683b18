//! Seed 004's upstream key pool as new-api's multi-key channels, on SQLite and on MySQL +
//! Redis, through the real binaries: requests rotate over the enabled keys only; a key the
//! upstream refuses (401) is disabled alone, with the reason, and the request is served by
//! another key without the client seeing the failure; the last key refused disables the
//! channel; `POST /api/channel/multi_key/manage` changes what the proxy uses (waited for, never
//! slept on); each key's balance is read and exported (masked); bad input and callers without
//! the right are refused and change nothing; the keys are shown only after secure verification.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use pylon_tests::fixtures::{
    ROOT_PASSWORD, console_with_role, create_key, database, root_console, wait_until_routable,
};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use totp_rs::TOTP;

const KEYS: [&str; 3] = [
    "pool-key-number-one",
    "pool-key-number-two",
    "pool-key-number-three",
];

/// What the mock upstream saw and which keys it refuses.
#[derive(Default)]
struct Upstream {
    /// The key of each chat request, in order.
    used: Vec<String>,
    refused: HashSet<String>,
}

type Shared = Arc<Mutex<Upstream>>;

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string()
}

async fn chat(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let key = bearer(&headers);
    let refused = {
        let mut shared = shared.lock().unwrap();
        shared.used.push(key.clone());
        shared.refused.contains(&key)
    };
    if refused {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Incorrect API key provided",
                "type": "invalid_request_error", "code": "invalid_api_key"}})),
        )
            .into_response();
    }
    Json(
        json!({"id": "chatcmpl-pool", "object": "chat.completion", "created": 1,
        "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}),
    )
    .into_response()
}

/// Key `n` (1-based) has a hard limit of 10·n USD and has used 150 cents.
async fn subscription(headers: HeaderMap) -> Json<Value> {
    let key = bearer(&headers);
    let n = KEYS.iter().position(|k| *k == key).map_or(0, |i| i + 1);
    Json(
        json!({"object": "billing_subscription", "has_payment_method": true,
        "hard_limit_usd": 10.0 * n as f64}),
    )
}

async fn start_upstream() -> (String, Shared) {
    let shared = Shared::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/dashboard/billing/subscription", get(subscription))
        .route(
            "/v1/dashboard/billing/usage",
            get(|| async { Json(json!({"object": "list", "total_usage": 150.0})) }),
        )
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), shared)
}

/// One chat request through the proxy: its status and body.
async fn ask(pylon: &Pylon, key: &str) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The upstream keys of the requests made from `from` on.
fn used_since(upstream: &Shared, from: usize) -> Vec<String> {
    upstream.lock().unwrap().used[from..].to_vec()
}

fn used_count(upstream: &Shared) -> usize {
    upstream.lock().unwrap().used.len()
}

async fn manage(root: &Console, body: Value) -> pylon_tests::client::Answer {
    root.post("/api/channel/multi_key/manage", body).await
}

/// The keys' statuses as `get_key_status` reports them, by index.
async fn statuses(root: &Console, channel: i64) -> Vec<i64> {
    let answer = manage(
        root,
        json!({"channel_id": channel, "action": "get_key_status"}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_i64().unwrap())
        .collect()
}

/// Waits (at most 10 s) until `done` holds of the keys' statuses.
async fn wait_statuses(root: &Console, channel: i64, done: impl Fn(&[i64]) -> bool) -> Vec<i64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = statuses(root, channel).await;
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "key statuses stayed {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends requests until `streak` in a row were served (200) by keys in `allowed` only (the
/// proxy follows a change), at most for 10 s.
async fn wait_routing(
    pylon: &Pylon,
    key: &str,
    upstream: &Shared,
    allowed: &[&str],
    streak: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut in_a_row = 0;
    while in_a_row < streak {
        assert!(
            Instant::now() < deadline,
            "the proxy kept using other keys than {allowed:?}"
        );
        let before = used_count(upstream);
        let (status, _) = ask(pylon, key).await;
        let used = used_since(upstream, before);
        if status == 200 && used.iter().all(|k| allowed.contains(&k.as_str())) {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
    }
}

/// Sends requests (each must succeed) until one is served by `wanted`, at most for 10 s.
async fn wait_used(pylon: &Pylon, key: &str, upstream: &Shared, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = used_count(upstream);
        let (status, body) = ask(pylon, key).await;
        assert_eq!(status, 200, "{body}");
        if used_since(upstream, before).iter().any(|k| k == wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "{wanted} was never used again");
    }
}

async fn channel_row(root: &Console, id: i64) -> Value {
    let answer = root.get(&format!("/api/channel/{id}")).await;
    assert!(answer.success(), "{answer:?}");
    answer.data().clone()
}

async fn create_pool(root: &Console, upstream: &str, name: &str, keys: &str) -> i64 {
    let answer = root
        .post(
            "/api/channel/",
            json!({"mode": "multi_to_single", "multi_key_mode": "polling", "channel": {
                "type": 1, "name": name, "key": keys, "base_url": upstream,
                "models": "gpt-4o", "group": "default"}}),
        )
        .await;
    assert!(answer.success(), "{answer:?}");
    let list = root.get("/api/channel/?p=1&page_size=100").await;
    list.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .and_then(|c| c["id"].as_i64())
        .unwrap()
}

async fn requests_rotate_over_enabled_keys(backend: Backend) {
    let (base, upstream) = start_upstream().await;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let channel = create_pool(&root, &base, "pool", &KEYS.join("\n")).await;
    let (_, key) = create_key(&root, "client", 0, true).await;
    wait_until_routable(&pylon, &key, "gpt-4o").await;

    let info = &channel_row(&root, channel).await["channel_info"];
    assert_eq!(info["is_multi_key"], json!(true));
    assert_eq!(info["multi_key_size"], json!(3));
    assert_eq!(info["multi_key_mode"], json!("polling"));
    assert_eq!(info["multi_key_status_list"], json!({}));

    // Round robin: six requests, each key twice.
    let before = used_count(&upstream);
    for _ in 0..6 {
        let (status, body) = ask(&pylon, &key).await;
        assert_eq!(status, 200, "{body}");
    }
    let used = used_since(&upstream, before);
    for k in KEYS {
        assert_eq!(used.iter().filter(|u| *u == k).count(), 2, "{used:?}");
    }

    // The upstream revokes key two: the request that meets it is served by another key, the
    // key alone is disabled with the reason, and this node stops using it at once.
    upstream.lock().unwrap().refused.insert(KEYS[1].into());
    let before = used_count(&upstream);
    for _ in 0..3 {
        let (status, body) = ask(&pylon, &key).await;
        assert_eq!(status, 200, "the client never sees the refusal: {body}");
    }
    let used = used_since(&upstream, before);
    assert_eq!(used.iter().filter(|u| *u == KEYS[1]).count(), 1, "{used:?}");
    assert_eq!(used.len(), 4, "one retry: {used:?}");
    let now = wait_statuses(&root, channel, |s| s == [1, 3, 1]).await;
    assert_eq!(now, vec![1, 3, 1]);
    let refused = manage(
        &root,
        json!({"channel_id": channel, "action": "get_key_status", "status": 3}),
    )
    .await;
    assert_eq!(refused.data()["total"], json!(1), "{refused:?}");
    assert_eq!(refused.data()["auto_disabled_count"], json!(1));
    assert_eq!(refused.data()["enabled_count"], json!(2));
    let item = &refused.data()["keys"][0];
    assert_eq!(item["index"], json!(1));
    assert_eq!(item["key_preview"], json!("pool-key-n..."));
    assert!(
        item["reason"].as_str().unwrap().contains("401")
            && item["reason"]
                .as_str()
                .unwrap()
                .contains("Incorrect API key"),
        "{item}"
    );
    assert!(item["disabled_time"].as_i64().unwrap() > 0);
    let row = channel_row(&root, channel).await;
    assert_eq!(row["status"], json!(1), "the channel stays enabled");
    assert_eq!(
        row["channel_info"]["multi_key_status_list"],
        json!({"1": 3})
    );
    let before = used_count(&upstream);
    for _ in 0..4 {
        assert_eq!(ask(&pylon, &key).await.0, 200);
    }
    assert!(!used_since(&upstream, before).contains(&KEYS[1].to_string()));

    // An administrator disables key one: the proxy follows, only key three serves.
    let disabled = manage(
        &root,
        json!({"channel_id": channel, "action": "disable_key", "key_index": 0}),
    )
    .await;
    assert!(disabled.success(), "{disabled:?}");
    assert_eq!(disabled.message(), "Key disabled");
    wait_routing(&pylon, &key, &upstream, &[KEYS[2]], 4).await;
    assert_eq!(statuses(&root, channel).await, vec![2, 3, 1]);
    // ...and enables it again.
    let enabled = manage(
        &root,
        json!({"channel_id": channel, "action": "enable_key", "key_index": 0}),
    )
    .await;
    assert_eq!(enabled.message(), "Key enabled");
    wait_used(&pylon, &key, &upstream, KEYS[0]).await;

    // Balances: each key's, exact; the channel's is their sum (10+20+30 - 3 × 1.5).
    let balance = root
        .get(&format!("/api/channel/update_balance/{channel}"))
        .await;
    assert_eq!(balance.body["success"], json!(true), "{balance:?}");
    assert_eq!(balance.body["balance"], json!(55.5));
    let keys = manage(
        &root,
        json!({"channel_id": channel, "action": "get_key_status", "page": 1, "page_size": 2}),
    )
    .await;
    assert_eq!(keys.data()["total_pages"], json!(2));
    assert_eq!(keys.data()["keys"][0]["balance"], json!(8.5));
    assert_eq!(keys.data()["keys"][1]["balance"], json!(18.5));
    let (status, _, csv) = root.get_text("/api/export/upstream_keys.csv").await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with(
            "channel_id,channel_name,type,channel_status,group,key_index,key,key_status"
        ),
        "{csv}"
    );
    assert_eq!(lines.len(), 4, "a row per key: {csv}");
    assert!(
        lines[2].contains(",1,pool**********-two,3,") && lines[2].contains(",18.5,"),
        "{csv}"
    );
    assert!(!KEYS.iter().any(|k| csv.contains(k)), "never a key: {csv}");

    // Every key refused: the last one disables the channel ("All keys are disabled").
    upstream
        .lock()
        .unwrap()
        .refused
        .extend(KEYS.iter().map(|k| k.to_string()));
    let (status, body) = ask(&pylon, &key).await;
    assert_ne!(status, 200, "{body}");
    let row = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row = channel_row(&root, channel).await;
            if row["status"] == json!(3) {
                break row;
            }
            assert!(
                Instant::now() < deadline,
                "the channel stayed enabled: {row}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert_eq!(row["status_reason"], json!("All keys are disabled"));
    assert_eq!(statuses(&root, channel).await, vec![3, 3, 3]);

    // A successful channel test enables the channel with the key it used (the first); enabling
    // the others by hand brings them all back to the proxy.
    upstream.lock().unwrap().refused.clear();
    let test = root.get(&format!("/api/channel/test/{channel}")).await;
    assert_eq!(test.body["success"], json!(true), "{test:?}");
    assert_eq!(channel_row(&root, channel).await["status"], json!(1));
    assert_eq!(statuses(&root, channel).await, vec![1, 3, 3]);
    let all = manage(
        &root,
        json!({"channel_id": channel, "action": "enable_all_keys"}),
    )
    .await;
    assert_eq!(all.message(), "Enabled 2 keys", "{all:?}");
    wait_routing(&pylon, &key, &upstream, &KEYS, 3).await;

    // Deleting: one key by index, then the automatically disabled ones.
    let deleted = manage(
        &root,
        json!({"channel_id": channel, "action": "delete_key", "key_index": 0}),
    )
    .await;
    assert_eq!(deleted.message(), "Key deleted", "{deleted:?}");
    upstream.lock().unwrap().refused.insert(KEYS[1].into());
    let deadline = Instant::now() + Duration::from_secs(10);
    while statuses(&root, channel).await != [3, 1] {
        assert!(Instant::now() < deadline, "key two was never refused again");
        let (status, body) = ask(&pylon, &key).await;
        assert_eq!(status, 200, "{body}");
    }
    let purged = manage(
        &root,
        json!({"channel_id": channel, "action": "delete_disabled_keys"}),
    )
    .await;
    assert_eq!(purged.data(), &json!(1), "{purged:?}");
    let row = channel_row(&root, channel).await;
    assert_eq!(row["channel_info"]["multi_key_size"], json!(1));
    wait_routing(&pylon, &key, &upstream, &[KEYS[2]], 3).await;
}
on_every_backend!(requests_rotate_over_enabled_keys);

async fn refusals_change_nothing_and_keys_need_verification(backend: Backend) {
    let (base, _upstream) = start_upstream().await;
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let root = root_console(&pylon).await;
    let channel = create_pool(&root, &base, "pool", &KEYS.join("\n")).await;
    let single = create_pool(&root, &base, "single", "only-one-key").await;
    let keys_of = |id: i64| {
        let pool = pool.clone();
        async move {
            let keys: String = sqlx::query_scalar("SELECT `keys` FROM channels WHERE id = ?")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
            let states: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channel_keys")
                .fetch_one(&pool)
                .await
                .unwrap();
            (keys, states)
        }
    };
    let stored = keys_of(channel).await;
    // A second session of root, signed in before 2FA is enabled: never verified below.
    let mut other = Console::new(&pylon.base_url);
    other.login("root", ROOT_PASSWORD).await;

    for (body, message) in [
        (
            json!({"channel_id": 999_999, "action": "get_key_status"}),
            "Channel does not exist",
        ),
        (
            json!({"channel_id": single, "action": "disable_key", "key_index": 0}),
            "This channel is not in multi-key mode",
        ),
        (
            json!({"channel_id": channel, "action": "disable_key", "key_index": 3}),
            "Key index out of range",
        ),
        (
            json!({"channel_id": channel, "action": "delete_key", "key_index": -1}),
            "Key index out of range",
        ),
        (
            json!({"channel_id": channel, "action": "enable_key"}),
            "No index of the key to enable was given",
        ),
        (
            json!({"channel_id": channel, "action": "rotate_everything"}),
            "Unsupported action",
        ),
        (
            json!({"channel_id": channel, "action": "delete_disabled_keys"}),
            "No automatically disabled key to delete",
        ),
    ] {
        let answer = manage(&root, body.clone()).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["success"], json!(false), "{body}: {answer:?}");
        assert_eq!(answer.message(), message, "{body}");
    }
    let malformed = root
        .post_raw("/api/channel/multi_key/manage", "{\"channel_id\": \"x\"")
        .await;
    assert_eq!(malformed.body["success"], json!(false), "{malformed:?}");
    assert_eq!(keys_of(channel).await, stored, "refusals change nothing");
    let wrong_type = manage(
        &root,
        json!({"channel_id": channel, "action": "disable_key", "key_index": "0"}),
    )
    .await;
    assert_eq!(wrong_type.body["success"], json!(false), "{wrong_type:?}");
    // Disabling every key by hand, then again: nothing left to disable.
    let all = manage(
        &root,
        json!({"channel_id": channel, "action": "disable_all_keys"}),
    )
    .await;
    assert_eq!(all.message(), "Disabled 3 keys");
    let again = manage(
        &root,
        json!({"channel_id": channel, "action": "disable_all_keys"}),
    )
    .await;
    assert_eq!(again.message(), "No key to disable");
    assert_eq!(statuses(&root, channel).await, vec![2, 2, 2]);
    assert_eq!(channel_row(&root, channel).await["status"], json!(1));
    // Enabling keys of a channel disabled automatically enables the channel too.
    sqlx::query("UPDATE channels SET status = 3 WHERE id = ?")
        .bind(channel)
        .execute(&pool)
        .await
        .unwrap();
    let enabled = manage(
        &root,
        json!({"channel_id": channel, "action": "enable_all_keys"}),
    )
    .await;
    assert_eq!(enabled.message(), "Enabled 3 keys", "{enabled:?}");
    assert_eq!(channel_row(&root, channel).await["status"], json!(1));
    assert_eq!(keys_of(channel).await.0, stored.0);

    // A common user and an administrator who is not root.
    let user = console_with_role(&pylon, &pool, "alice", 1).await;
    let refused = manage(
        &user,
        json!({"channel_id": channel, "action": "disable_key", "key_index": 0}),
    )
    .await;
    assert_eq!(refused.body["success"], json!(false), "{refused:?}");
    assert_eq!(statuses(&root, channel).await, vec![1, 1, 1]);
    let admin = console_with_role(&pylon, &pool, "admin", 10).await;
    let view = admin
        .post(&format!("/api/channel/{channel}/key"), json!({}))
        .await;
    assert_eq!(view.body["success"], json!(false), "{view:?}");
    assert!(view.body.get("data").is_none_or(Value::is_null));

    // Root without verification: new-api's 403 VERIFICATION_REQUIRED.
    let view = root
        .post(&format!("/api/channel/{channel}/key"), json!({}))
        .await;
    assert_eq!(view.status, 403, "{view:?}");
    assert_eq!(view.body["code"], json!("VERIFICATION_REQUIRED"));
    let no_2fa = root
        .post("/api/verify", json!({"method": "2fa", "code": "123456"}))
        .await;
    assert_eq!(no_2fa.body["success"], json!(false), "{no_2fa:?}");

    // With 2FA: a wrong code is refused, a right one opens the keys for five minutes.
    let setup = root.post("/api/user/2fa/setup", json!({})).await;
    let totp = TOTP::from_url(setup.data()["qr_code_data"].as_str().unwrap()).unwrap();
    let enabled = root
        .post(
            "/api/user/2fa/enable",
            json!({"code": totp.generate_current().unwrap()}),
        )
        .await;
    assert!(enabled.success(), "{enabled:?}");
    let wrong = root
        .post(
            "/api/verify",
            json!({"method": "2fa", "code": "not-a-code"}),
        )
        .await;
    assert_eq!(wrong.body["success"], json!(false), "{wrong:?}");
    assert_eq!(
        root.post(&format!("/api/channel/{channel}/key"), json!({}))
            .await
            .status,
        403
    );
    let backup = setup.data()["backup_codes"][0].as_str().unwrap();
    let verified = root
        .post("/api/verify", json!({"method": "2fa", "code": backup}))
        .await;
    assert!(verified.success(), "{verified:?}");
    assert_eq!(verified.data()["verified"], json!(true));
    let view = root
        .post(&format!("/api/channel/{channel}/key"), json!({}))
        .await;
    assert!(view.success(), "{view:?}");
    assert_eq!(view.data()["key"], json!(KEYS.join("\n")));
    let unknown = root.post("/api/channel/999999/key", json!({})).await;
    assert_eq!(unknown.message(), "Channel does not exist");
    // Each view is in the audit log.
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE route = '/api/channel/{id}/key' AND success = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Another session of root is not verified.
    assert_eq!(
        other
            .post(&format!("/api/channel/{channel}/key"), json!({}))
            .await
            .status,
        403
    );
    assert_eq!(keys_of(channel).await.0, stored.0);
}
on_every_backend!(refusals_change_nothing_and_keys_need_verification);
