//! new-api's upstream model updates (issue 13) through the real binaries, on SQLite and on
//! MySQL + Redis, against a mock upstream that lists models and checks the channel's key: a
//! check records what the upstream added and removed and changes no model; applying writes the
//! chosen changes (ignored names are remembered, unproposed ones are not taken) and the proxy
//! routes the new models; the "all" routes cover the enabled channels whose settings turn checks
//! on, reporting those whose upstream cannot be read; common users and anonymous callers are
//! refused and bad bodies change nothing.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::{create_channel, create_key, root_console, wait_until_routable};
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user, refused};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The mock's model list answer, and a chat answer for anything else.
fn upstream_answer(listed: &[String], path: &str) -> Canned {
    if path == "/v1/models" {
        let data: Vec<Value> = listed
            .iter()
            .map(|id| json!({"id": id, "object": "model", "created": 1, "owned_by": "o"}))
            .collect();
        return Canned::json(&json!({"object": "list", "data": data}));
    }
    let usage = json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2});
    Canned::openai_chat("m", "hi", &usage, false)
}

fn channel(name: &str, base_url: &str, models: &str, checked: bool) -> Value {
    json!({"type": 1, "name": name, "key": "upstream-key", "base_url": base_url,
        "models": models, "group": "default", "priority": 0, "weight": 0,
        "settings": json!({"upstream_model_update_check_enabled": checked}).to_string()})
}

async fn models_of(root: &Console, id: i64) -> String {
    let answer = root.get(&format!("/api/channel/{id}")).await;
    assert!(answer.success(), "{answer:?}");
    answer.data()["models"]
        .as_str()
        .expect("models")
        .to_string()
}

/// Waits (bounded) until the proxy no longer routes `model` for `key`.
async fn wait_until_unrouted(pylon: &Pylon, key: &str, model: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = client
            .get(format!("{}/v1/models/{model}", pylon.base_url))
            .bearer_auth(key)
            .send()
            .await
            .expect("proxy reachable");
        if answer.status() != StatusCode::OK {
            return;
        }
        assert!(Instant::now() < deadline, "the proxy still routes {model}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn upstream_model_updates(backend: Backend) {
    let listed = Arc::new(Mutex::new(["m-a", "m-b", "m-c"].map(String::from).to_vec()));
    let upstream = {
        let listed = listed.clone();
        CannedUpstream::start(move |path, _| upstream_answer(&listed.lock().expect("lock"), path))
            .await
    };
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let mut checked = channel("checked", &upstream.base_url, "m-a,m-old,alias", true);
    checked["model_mapping"] = json!(r#"{"alias": "m-a"}"#);
    let checked = create_channel(&root, checked).await;
    // Nothing listens on port 9: this upstream cannot be read.
    let offline =
        create_channel(&root, channel("offline", "http://127.0.0.1:9", "x-1", true)).await;
    let unchecked = create_channel(
        &root,
        channel("unchecked", &upstream.base_url, "m-a", false),
    )
    .await;
    let (_, key) = create_key(&root, "k", 0, true).await;
    wait_until_routable(&pylon, &key, "m-old").await;

    // Only administrators: a common user and an anonymous caller are refused, nothing changes.
    create_user(&root, "common1", 1).await;
    let mut common = Console::new(&pylon.base_url);
    common.login("common1", PASSWORD).await;
    let anonymous = Console::new(&pylon.base_url);
    for path in ["detect", "apply", "detect_all", "apply_all"] {
        let path = format!("/api/channel/upstream_updates/{path}");
        let body = json!({"id": checked, "add_models": ["m-b"]});
        refused(&common.post(&path, body.clone()).await, INSUFFICIENT);
        let answer = anonymous.post(&path, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    }
    assert!(
        upstream.received().is_empty(),
        "no refused call reached the upstream"
    );

    // A check records the changes and changes no model.
    let found = root
        .post(
            "/api/channel/upstream_updates/detect",
            json!({"id": checked}),
        )
        .await;
    assert!(found.success(), "{found:?}");
    let found = found.data();
    assert_eq!(found["channel_id"], json!(checked));
    assert_eq!(found["channel_name"], json!("checked"));
    assert_eq!(found["add_models"], json!(["m-b", "m-c"]));
    assert_eq!(
        found["remove_models"],
        json!(["m-old"]),
        "alias is the channel's own name"
    );
    assert_eq!(found["auto_added_models"], json!(0));
    assert!(
        found["last_check_time"].as_i64().unwrap_or(0) > 0,
        "{found}"
    );
    let asked = upstream.last();
    assert_eq!(asked.uri, "/v1/models");
    assert_eq!(asked.headers["authorization"], "Bearer upstream-key");
    assert_eq!(models_of(&root, checked).await, "m-a,m-old,alias");
    let settings: Value = serde_json::from_str(
        root.get(&format!("/api/channel/{checked}")).await.data()["settings"]
            .as_str()
            .expect("settings"),
    )
    .expect("settings JSON");
    assert_eq!(
        settings["upstream_model_update_last_detected_models"],
        json!(["m-b", "m-c"])
    );
    assert_eq!(settings["upstream_model_update_check_enabled"], json!(true));

    // Bad bodies and unknown ids are refused and change nothing.
    for (body, expected) in [
        (json!({"id": 0}), "invalid channel id"),
        (json!({}), "invalid channel id"),
        (json!({"id": 999_999}), "Channel does not exist"),
        (json!({"id": "one"}), "Invalid parameters"),
        (
            json!({"id": checked, "add_models": "m-b"}),
            "Invalid parameters",
        ),
    ] {
        for path in ["detect", "apply"] {
            let path = format!("/api/channel/upstream_updates/{path}");
            refused(&root.post(&path, body.clone()).await, expected);
        }
    }
    refused(
        &root
            .post_raw("/api/channel/upstream_updates/apply", "{\"id\": ")
            .await,
        "Invalid parameters",
    );
    assert_eq!(models_of(&root, checked).await, "m-a,m-old,alias");

    // Applying takes only proposed names; ignored ones are remembered; the proxy follows.
    let applied = root
        .post(
            "/api/channel/upstream_updates/apply",
            json!({"id": checked, "add_models": ["m-b", "not-proposed"],
                "ignore_models": ["m-c"], "remove_models": ["m-old", "m-a"]}),
        )
        .await;
    assert!(applied.success(), "{applied:?}");
    let applied = applied.data();
    assert_eq!(applied["id"], json!(checked));
    assert_eq!(applied["added_models"], json!(["m-b"]));
    assert_eq!(applied["removed_models"], json!(["m-old"]));
    assert_eq!(applied["ignored_models"], json!(["m-c"]));
    assert_eq!(applied["remaining_models"], json!([]));
    assert_eq!(applied["remaining_remove_models"], json!([]));
    assert_eq!(applied["models"], json!("m-a,alias,m-b"));
    let settings: Value =
        serde_json::from_str(applied["settings"].as_str().expect("settings")).expect("JSON");
    assert_eq!(
        settings["upstream_model_update_ignored_models"],
        json!(["m-c"])
    );
    assert_eq!(models_of(&root, checked).await, "m-a,alias,m-b");
    wait_until_routable(&pylon, &key, "m-b").await;
    wait_until_unrouted(&pylon, &key, "m-old").await;

    // The ignored name is not proposed again.
    let again = root
        .post(
            "/api/channel/upstream_updates/detect",
            json!({"id": checked}),
        )
        .await;
    assert_eq!(again.data()["add_models"], json!([]), "{again:?}");
    assert_eq!(again.data()["remove_models"], json!([]));

    // The "all" routes: enabled channels with checks on; an unreadable upstream is reported.
    *listed.lock().expect("lock") = ["m-b", "m-d"].map(String::from).to_vec();
    let all = root
        .post("/api/channel/upstream_updates/detect_all", json!({}))
        .await;
    assert!(all.success(), "{all:?}");
    let all = all.data();
    assert_eq!(all["processed_channels"], json!(1));
    assert_eq!(all["failed_channel_ids"], json!([offline]));
    assert_eq!(all["detected_add_models"], json!(1));
    assert_eq!(all["detected_remove_models"], json!(1));
    let results = all["channel_detected_results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{all}");
    assert_eq!(results[0]["channel_id"], json!(checked));
    assert_eq!(results[0]["add_models"], json!(["m-d"]));
    assert_eq!(results[0]["remove_models"], json!(["m-a"]));
    assert_eq!(models_of(&root, checked).await, "m-a,alias,m-b");
    assert_eq!(
        models_of(&root, unchecked).await,
        "m-a",
        "checks are off there"
    );

    let applied_all = root
        .post("/api/channel/upstream_updates/apply_all", json!({}))
        .await;
    assert!(applied_all.success(), "{applied_all:?}");
    let applied_all = applied_all.data();
    assert_eq!(applied_all["processed_channels"], json!(1));
    assert_eq!(applied_all["added_models"], json!(1));
    assert_eq!(applied_all["removed_models"], json!(1));
    assert_eq!(applied_all["failed_channel_ids"], json!([]));
    assert_eq!(applied_all["results"][0]["channel_id"], json!(checked));
    assert_eq!(applied_all["results"][0]["channel_name"], json!("checked"));
    assert_eq!(applied_all["results"][0]["added_models"], json!(["m-d"]));
    assert_eq!(applied_all["results"][0]["removed_models"], json!(["m-a"]));
    assert_eq!(models_of(&root, checked).await, "alias,m-b,m-d");
    assert_eq!(models_of(&root, unchecked).await, "m-a");
    wait_until_routable(&pylon, &key, "m-d").await;

    // Nothing left to apply: nothing is processed.
    let nothing = root
        .post("/api/channel/upstream_updates/apply_all", json!({}))
        .await;
    assert_eq!(
        nothing.data()["processed_channels"],
        json!(0),
        "{nothing:?}"
    );
    assert_eq!(models_of(&root, checked).await, "alias,m-b,m-d");
}

on_every_backend!(upstream_model_updates);
