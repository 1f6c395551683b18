//! Model sync (seed 001) on SQLite and on MySQL + Redis, through the control plane served in
//! this process against a mock upstream: the preview answers per channel what its upstream's
//! model list would add and remove and changes nothing; apply writes it (the channel's
//! abilities too) and creates the missing model records; a channel whose upstream cannot be
//! read keeps its list; `GET|POST /api/channels/{id}/models` read and extend a list; bad input
//! is refused and changes nothing. Price sync does the same for the price options, from a
//! price source (another new-api's `/api/ratio_config`).

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::catalogue_fixtures::{ok, option, root};
use pylon_tests::fixtures::create_channel;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::refused;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// An OpenAI `/v1/models` answer listing `models`.
fn model_list(models: &[String]) -> Canned {
    let data: Vec<Value> = models
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1, "owned_by": "openai"}))
        .collect();
    Canned::json(&json!({"object": "list", "data": data}))
}

/// The sync entry of channel `id` in a preview or apply answer.
fn entry(answer: &Value, id: i64) -> Value {
    answer["channels"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["channel_id"] == json!(id)))
        .cloned()
        .unwrap_or_else(|| panic!("channel {id} not in {answer}"))
}

async fn models(root: &Console, channel: i64) -> Value {
    ok(root.get(&format!("/api/channels/{channel}/models")).await)["models"].clone()
}

async fn channels_follow_their_upstreams(backend: Backend) {
    let listed = Arc::new(Mutex::new(vec![
        "m-a".to_string(),
        "m-b".to_string(),
        "m-c".to_string(),
    ]));
    let upstream = {
        let listed = listed.clone();
        CannedUpstream::start(move |_, _| model_list(&listed.lock().expect("lock"))).await
    };
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let channel = |name: &str, base_url: &str, models: &str| {
        json!({"type": 1, "name": name, "key": "k", "base_url": base_url, "models": models,
            "group": "default", "priority": 0, "weight": 0})
    };
    let mut aliased = channel("synced", &upstream.base_url, "m-a,m-old,alias");
    aliased["model_mapping"] = json!(r#"{"alias": "m-a"}"#);
    let synced = create_channel(&root, aliased).await;
    // Nothing listens on port 9: its list cannot be read.
    let offline = create_channel(&root, channel("offline", "http://127.0.0.1:9", "x-1")).await;
    assert_eq!(
        models(&root, synced).await,
        json!(["m-a", "m-old", "alias"])
    );

    // The preview changes nothing.
    let preview = ok(root.post("/api/models/sync/preview", json!({})).await);
    let one = entry(&preview, synced);
    assert_eq!(one["channel_name"], json!("synced"));
    assert_eq!(one["added"], json!(["m-b", "m-c"]));
    assert_eq!(one["removed"], json!(["m-old"]));
    assert_eq!(
        one["unchanged"],
        json!(2),
        "m-a, and alias: the channel's own name for m-a"
    );
    assert!(one.get("error").is_none(), "{one}");
    let failed = entry(&preview, offline);
    assert!(
        failed["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    assert_eq!(failed["added"], json!([]));
    assert_eq!(
        models(&root, synced).await,
        json!(["m-a", "m-old", "alias"])
    );
    assert!(
        upstream
            .received()
            .iter()
            .all(|r| r.uri.starts_with("/v1/models"))
    );

    // Bad input is refused and changes nothing.
    for (answer, expected) in [
        (
            root.post("/api/models/sync/apply", json!({"channel_ids": [999]}))
                .await,
            "Channel 999 does not exist",
        ),
        (
            root.post("/api/models/sync/apply", json!({"channel_ids": "all"}))
                .await,
            "Invalid parameters",
        ),
        (
            root.post("/api/models/sync/apply", json!({"channels": [synced]}))
                .await,
            "Invalid parameters",
        ),
        (
            root.post_raw("/api/channels/sync", r#"{"channel_ids": "#)
                .await,
            "Invalid parameters",
        ),
        (
            root.post(
                &format!("/api/channels/{synced}/models"),
                json!({"models": 5}),
            )
            .await,
            "list of names",
        ),
        (
            root.post(
                &format!("/api/channels/{synced}/models"),
                json!({"models": []}),
            )
            .await,
            "empty",
        ),
        (
            root.post(
                &format!("/api/channels/{synced}/models"),
                json!({"models": ["", "m"]}),
            )
            .await,
            "no model name",
        ),
        (
            root.post(
                &format!("/api/channels/{synced}/models"),
                json!({"models": ["a,b"]}),
            )
            .await,
            "no model name",
        ),
        (
            root.post("/api/channels/999/models", json!({"models": ["m"]}))
                .await,
            "Channel does not exist",
        ),
        (
            root.get("/api/channels/999/models").await,
            "Channel does not exist",
        ),
    ] {
        refused(&answer, expected);
    }
    assert_eq!(
        models(&root, synced).await,
        json!(["m-a", "m-old", "alias"])
    );
    assert_eq!(models(&root, offline).await, json!(["x-1"]));

    // Apply writes the lists, the routing abilities and the missing records.
    let applied = ok(root.post("/api/models/sync/apply", json!({})).await);
    assert_eq!(entry(&applied, synced)["applied"], json!(true));
    assert!(entry(&applied, offline)["error"].is_string());
    assert_eq!(
        models(&root, synced).await,
        json!(["m-a", "alias", "m-b", "m-c"])
    );
    assert_eq!(
        models(&root, offline).await,
        json!(["x-1"]),
        "unreadable: kept"
    );
    assert_eq!(
        applied["created_models"],
        json!(["alias", "m-a", "m-b", "m-c"])
    );
    let served: Vec<Value> = ok(root.get("/api/channel/models").await)
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(
        served,
        [
            json!("alias"),
            json!("m-a"),
            json!("m-b"),
            json!("m-c"),
            json!("x-1")
        ]
    );
    assert_eq!(ok(root.get("/api/models/missing").await), json!(["x-1"]));

    // A channel's list is extended by hand; the next sync takes the upstream's list again.
    let extended = ok(root
        .post(
            &format!("/api/channels/{synced}/models"),
            json!({"models": ["m-d", "m-a"]}),
        )
        .await);
    assert_eq!(
        extended["models"],
        json!(["m-a", "alias", "m-b", "m-c", "m-d"])
    );
    *listed.lock().expect("lock") = vec!["m-a".to_string()];
    let again = ok(root
        .post("/api/channels/sync", json!({"channel_ids": [synced]}))
        .await);
    let one = entry(&again, synced);
    assert_eq!(one["removed"], json!(["m-b", "m-c", "m-d"]));
    assert_eq!(again["channels"].as_array().map(Vec::len), Some(1));
    assert_eq!(models(&root, synced).await, json!(["m-a", "alias"]));
    assert_eq!(again["created_models"], json!([]));
}

on_every_backend!(channels_follow_their_upstreams);

/// A price source: another new-api's `/api/ratio_config`, and some broken ones.
fn price_source(path: &str) -> Canned {
    match path {
        "/api/ratio_config" => Canned::json(&json!({"success": true, "message": "", "data": {
            "model_ratio": {"m-a": 2, "m-b": 0.5},
            "completion_ratio": {"m-a": 3},
            "model_price": {"m-p": 0.01}}})),
        "/refused" => Canned::json(&json!({"success": false, "message": "not exposed"})),
        "/wrong" => Canned::json(&json!({"model_ratio": {"m-a": "2"}})),
        _ => Canned {
            content_type: "text/plain",
            body: "nope".to_string(),
        },
    }
}

async fn prices_follow_a_price_source(backend: Backend) {
    let source = CannedUpstream::start(|path, _| price_source(path)).await;
    let url = format!("{}/api/ratio_config", source.base_url);
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    pylon_tests::fixtures::set_option(&root, "ModelRatio", r#"{"m-a": 1, "m-z": 7}"#).await;

    let preview = ok(root
        .post("/api/models/prices/sync/preview", json!({"url": url}))
        .await);
    assert_eq!(
        preview["changes"],
        json!([
            {"model": "m-a", "option": "ModelRatio", "current": 1, "source": 2},
            {"model": "m-b", "option": "ModelRatio", "current": null, "source": 0.5},
            {"model": "m-a", "option": "CompletionRatio", "current": null, "source": 3},
            {"model": "m-p", "option": "ModelPrice", "current": null, "source": 0.01},
        ])
    );
    assert_eq!(
        option(&root, "ModelRatio").await,
        json!({"m-a": 1, "m-z": 7})
    );

    // Bad input and broken sources are refused and change nothing.
    let at = |path: &str| json!({"url": format!("{}{path}", source.base_url)});
    for (body, expected) in [
        (json!({"url": "ftp://example.com/prices"}), "http or https"),
        (json!({"url": "not a url"}), "http or https"),
        (
            json!({"url": "http://127.0.0.1:9/api/ratio_config"}),
            "Reading the price source failed",
        ),
        (at("/text"), "not a JSON object"),
        (at("/refused"), "not exposed"),
        (at("/wrong"), "non-negative numbers"),
        (json!({}), "Invalid parameters"),
        (json!({"url": url, "models": "m-a"}), "Invalid parameters"),
    ] {
        refused(
            &root
                .post("/api/models/prices/sync/apply", body.clone())
                .await,
            expected,
        );
    }
    assert_eq!(
        option(&root, "ModelRatio").await,
        json!({"m-a": 1, "m-z": 7})
    );
    assert_eq!(option(&root, "CompletionRatio").await, Value::Null);

    // Applied for one model, then for all; the operator's other prices stay.
    let one = ok(root
        .post(
            "/api/models/prices/sync/apply",
            json!({"url": url, "models": ["m-a"]}),
        )
        .await);
    assert_eq!(one["applied"], json!(2));
    assert_eq!(
        option(&root, "ModelRatio").await,
        json!({"m-a": 2, "m-z": 7})
    );
    assert_eq!(option(&root, "CompletionRatio").await, json!({"m-a": 3}));
    let all = ok(root
        .post("/api/models/prices/sync/apply", json!({"url": url}))
        .await);
    assert_eq!(all["applied"], json!(2));
    assert_eq!(
        option(&root, "ModelRatio").await,
        json!({"m-a": 2, "m-b": 0.5, "m-z": 7})
    );
    assert_eq!(option(&root, "ModelPrice").await, json!({"m-p": 0.01}));
    let again = ok(root
        .post("/api/models/prices/sync/preview", json!({"url": url}))
        .await);
    assert_eq!(again["changes"], json!([]));
}

on_every_backend!(prices_follow_a_price_source);
