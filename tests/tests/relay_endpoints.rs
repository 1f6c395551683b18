//! Every OpenAI endpoint through the relay, the key's restrictions, model mapping, price
//! changes and sticky routing, on SQLite and on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const MODELS: &[&str] = &[
    "gpt-test",
    "text-embedding-test",
    "dall-e-test",
    "moderation-test",
    "tts-test",
    "whisper-test",
];

async fn price_all(console: &pylon_tests::Console, ratio: f64) {
    let ratios: serde_json::Map<String, Value> = MODELS
        .iter()
        .map(|m| (m.to_string(), json!(ratio)))
        .collect();
    set_option(console, "ModelRatio", &Value::Object(ratios).to_string()).await;
}

fn channel_for(base_url: &str, name: &str, models: &str, extra: Value) -> Value {
    let mut channel = json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": models,
        "group": "default", "priority": 0, "weight": 0,
    });
    if let (Some(channel), Some(extra)) = (channel.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            channel.insert(k.clone(), v.clone());
        }
    }
    channel
}

async fn post(pylon: &Pylon, key: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", pylon.base_url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("relay reachable")
}

async fn every_endpoint_relays_and_bills(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    price_all(&console, 1.0).await;
    create_channel(
        &console,
        channel_for(&mock.base_url(), "all", &MODELS.join(","), Value::Null),
    )
    .await;
    let (_, key) = create_key(&console, "all-endpoints", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-test").await;

    // The model list holds exactly the routable models.
    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", pylon.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    let ids: HashSet<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, MODELS.iter().copied().collect());

    let json_cases = [
        (
            "/v1/completions",
            json!({"model": "gpt-test", "prompt": "hi"}),
            "text_completion",
        ),
        (
            "/v1/embeddings",
            json!({"model": "text-embedding-test", "input": "hi"}),
            "list",
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-test", "input": "hi"}),
            "response",
        ),
        (
            "/v1/images/generations",
            json!({"model": "dall-e-test", "prompt": "a cat"}),
            "",
        ),
        (
            "/v1/moderations",
            json!({"model": "moderation-test", "input": "hi"}),
            "",
        ),
    ];
    for (path, body, object) in json_cases {
        let answer = post(&pylon, &key, path, body).await;
        assert_eq!(answer.status(), 200, "{path}");
        let body: Value = answer.json().await.expect("json");
        if !object.is_empty() {
            assert_eq!(body["object"], json!(object), "{path}: {body}");
        }
    }
    // Streams of the other streaming endpoints carry usage through.
    for (path, body, marker) in [
        (
            "/v1/completions",
            json!({"model": "gpt-test", "prompt": "hi", "stream": true}),
            "data: [DONE]",
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-test", "input": "hi", "stream": true}),
            "response.completed",
        ),
    ] {
        let answer = post(&pylon, &key, path, body).await;
        assert_eq!(answer.status(), 200);
        let text = answer.text().await.expect("stream");
        assert!(text.contains(marker), "{path}: {text}");
    }
    // Speech: binary audio passes through untouched.
    let speech = post(
        &pylon,
        &key,
        "/v1/audio/speech",
        json!({"model": "tts-test", "input": "hello", "voice": "alloy"}),
    )
    .await;
    assert_eq!(speech.status(), 200);
    assert_eq!(speech.headers()["content-type"], "audio/mpeg");
    assert!(!speech.bytes().await.expect("audio").is_empty());
    // Transcription: multipart, the model read from the form.
    let audio = vec![7u8; 200_000];
    let form = reqwest::multipart::Form::new()
        .text("model", "whisper-test")
        .part(
            "file",
            reqwest::multipart::Part::bytes(audio)
                .file_name("a.wav")
                .mime_str("audio/wav")
                .expect("mime"),
        );
    let transcription = reqwest::Client::new()
        .post(format!("{}/v1/audio/transcriptions", pylon.base_url))
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .expect("reachable");
    assert_eq!(transcription.status(), 200);
    let text: Value = transcription.json().await.expect("json");
    assert!(text["text"].is_string());
    let recorded = mock.requests();
    let upload = recorded
        .iter()
        .find(|r| r.path == "/v1/audio/transcriptions")
        .expect("upload relayed");
    assert!(upload.body_len > 200_000);
    assert_eq!(upload.form_value("model"), Some("whisper-test"));

    // One log row per request; the token-metered endpoints used the upstream's own numbers.
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 9).await;
    let metered: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT model_name, is_estimated, quota FROM logs WHERE type = 2 AND model_name IN ('gpt-test', 'text-embedding-test')",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    assert_eq!(metered.len(), 5);
    assert!(
        metered
            .iter()
            .all(|(_, estimated, quota)| *estimated == 0 && *quota > 0),
        "{metered:?}"
    );
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    eventually_equals(&db, "SELECT used_quota FROM users WHERE id = 1", logged).await;
    db.close().await;
}
on_every_backend!(every_endpoint_relays_and_bills);

/// Publishes a change the way the control plane does, for state no API can set yet.
async fn announce(db: &sqlx::AnyPool, topic: &str, id: i64) {
    sqlx::query("INSERT INTO change_events (topic, entity_id, created_at) VALUES (?, ?, 0)")
        .bind(topic)
        .bind(id)
        .execute(db)
        .await
        .expect("change event");
}

/// Waits until a chat request with `key` gets `status`.
async fn eventually_status(pylon: &Pylon, key: &str, model: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let answer = post(
            pylon,
            key,
            "/v1/chat/completions",
            json!({"model": model, "messages": []}),
        )
        .await;
        if answer.status().as_u16() == status {
            return answer.json().await.unwrap_or(Value::Null);
        }
        assert!(
            Instant::now() < deadline,
            "expected {status}, still {}",
            answer.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn key_restrictions_are_enforced(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    price_all(&console, 1.0).await;
    create_channel(
        &console,
        channel_for(&mock.base_url(), "all", &MODELS.join(","), Value::Null),
    )
    .await;
    let db = database(&pylon).await;

    // Model limits: only gpt-test.
    let limited = console
        .post("/api/token/", json!({"name": "limited", "remain_quota": 1_000_000, "expired_time": -1, "model_limits_enabled": true, "model_limits": "gpt-test"}))
        .await;
    assert!(limited.success(), "{limited:?}");
    let (_, key) = reveal_by_name(&console, "limited").await;
    wait_until_routable(&pylon, &key, "gpt-test").await;
    let refused = post(
        &pylon,
        &key,
        "/v1/chat/completions",
        json!({"model": "text-embedding-test"}),
    )
    .await;
    assert_eq!(refused.status(), 403);
    let models: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", pylon.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .expect("models")
        .json()
        .await
        .expect("json");
    assert_eq!(models["data"].as_array().map(Vec::len), Some(1));

    // IP allow-list that excludes loopback.
    let fenced = console
        .post("/api/token/", json!({"name": "fenced", "remain_quota": 1_000_000, "expired_time": -1, "allow_ips": "10.0.0.0/8"}))
        .await;
    assert!(fenced.success(), "{fenced:?}");
    let (fenced_id, fenced_key) = reveal_by_name(&console, "fenced").await;
    let body = eventually_status(&pylon, &fenced_key, "gpt-test", 403).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("may not be used from")
    );

    // Expired: set a past expiry where it is stored, and announce it.
    sqlx::query("UPDATE tokens SET allow_ips = '', expired_time = 1000 WHERE id = ?")
        .bind(fenced_id)
        .execute(&db)
        .await
        .expect("expire");
    announce(&db, "token", fenced_id).await;
    let body = eventually_status(&pylon, &fenced_key, "gpt-test", 401).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("expired"),
        "{body}"
    );

    // A key whose quota is spent.
    let (_, poor) = create_key(&console, "poor", 0, false).await;
    let body = eventually_status(&pylon, &poor, "gpt-test", 429).await;
    assert_eq!(body["error"]["code"], json!("insufficient_quota"));

    // The owner disabled: every key of theirs stops.
    sqlx::query("UPDATE users SET status = 2 WHERE id = 1")
        .execute(&db)
        .await
        .expect("ban");
    announce(&db, "user", 1).await;
    let body = eventually_status(&pylon, &key, "gpt-test", 403).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("disabled"),
        "{body}"
    );
    db.close().await;
}
on_every_backend!(key_restrictions_are_enforced);

async fn reveal_by_name(console: &pylon_tests::Console, name: &str) -> (i64, String) {
    let list = console.get("/api/token/?p=1&page_size=100").await;
    let id = list.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
        .and_then(|t| t["id"].as_i64())
        .expect("key listed");
    let revealed = console
        .post(&format!("/api/token/{id}/key"), json!({}))
        .await;
    let body = revealed.data()["key"].as_str().expect("key").to_string();
    let key = if body.starts_with("sk-") {
        body
    } else {
        format!("sk-{body}")
    };
    (id, key)
}

async fn mapping_prices_and_sticky_routing(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__STICKY_HEADER", "x-session-id")
        .start()
        .await;
    let console = root_console(&pylon).await;
    price_all(&console, 1.0).await;
    let mapping = json!({"gpt-test": "upstream-model"}).to_string();
    for name in ["a", "b"] {
        let extra = json!({"model_mapping": mapping, "header_override": json!({"x-channel": name}).to_string()});
        create_channel(
            &console,
            channel_for(&mock.base_url(), name, "gpt-test", extra),
        )
        .await;
    }
    let (_, key) = create_key(&console, "mapped", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-test").await;

    // Mapping: the upstream sees its own name, billing and logs use the requested one.
    let answer = post(
        &pylon,
        &key,
        "/v1/chat/completions",
        json!({"model": "gpt-test", "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let seen = mock.requests();
    assert_eq!(seen.last().and_then(|r| r.model()), Some("upstream-model"));

    // Sticky: one session always lands on one channel; many sessions use both.
    let mut per_session = Vec::new();
    for session in 0..12 {
        let mut channels = HashSet::new();
        for _ in 0..3 {
            mock.clear_requests();
            let answer = reqwest::Client::new()
                .post(format!("{}/v1/chat/completions", pylon.base_url))
                .bearer_auth(&key)
                .header("x-session-id", format!("conversation-{session}"))
                .json(&json!({"model": "gpt-test", "messages": []}))
                .send()
                .await
                .expect("reachable");
            assert_eq!(answer.status(), 200);
            let recorded = mock.requests();
            channels.insert(
                recorded
                    .last()
                    .and_then(|r| r.header("x-channel"))
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        assert_eq!(
            channels.len(),
            1,
            "session {session} moved between channels"
        );
        per_session.extend(channels);
    }
    let used: HashSet<String> = per_session.into_iter().collect();
    assert_eq!(used.len(), 2, "sessions should spread over both channels");

    // A price change applies to the next request.
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 37).await;
    let before = scalar(
        &db,
        "SELECT quota FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1",
    )
    .await;
    price_all(&console, 3.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answer = post(
        &pylon,
        &key,
        "/v1/chat/completions",
        json!({"model": "gpt-test", "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 38).await;
    let after = scalar(
        &db,
        "SELECT quota FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1",
    )
    .await;
    assert_eq!(after, before * 3);
    let (model, upstream): (String, String) = sqlx::query_as(
        "SELECT model_name, upstream_model FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("log");
    assert_eq!(
        (model.as_str(), upstream.as_str()),
        ("gpt-test", "upstream-model")
    );
    db.close().await;
}
on_every_backend!(mapping_prices_and_sticky_routing);

/// How many recorded upstream requests carried `x-channel: name`.
fn hits(mock: &MockUpstream, name: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.header("x-channel") == Some(name))
        .count()
}

async fn circuits_open_and_rate_limits_pause_channels(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__CIRCUIT_FAILURES", "2")
        .env("PYLON__RELAY__CIRCUIT_COOLDOWN_SECS", "60")
        .start()
        .await;
    let console = root_console(&pylon).await;
    price_all(&console, 1.0).await;
    let failing = json!({"x-channel": "failing", "x-mock-status": "500"}).to_string();
    let limited =
        json!({"x-channel": "limited", "x-mock-status": "429", "x-mock-retry-after": "60"})
            .to_string();
    let good = json!({"x-channel": "good"}).to_string();
    let failing_id = create_channel(
        &console,
        channel_for(
            &mock.base_url(),
            "failing",
            "gpt-test",
            json!({"priority": 20, "header_override": failing}),
        ),
    )
    .await;
    create_channel(
        &console,
        channel_for(
            &mock.base_url(),
            "limited",
            "gpt-test",
            json!({"priority": 10, "header_override": limited}),
        ),
    )
    .await;
    create_channel(
        &console,
        channel_for(
            &mock.base_url(),
            "good",
            "gpt-test",
            json!({"priority": 0, "header_override": good}),
        ),
    )
    .await;
    let (_, key) = create_key(&console, "circuit", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-test").await;

    for _ in 0..4 {
        let answer = post(
            &pylon,
            &key,
            "/v1/chat/completions",
            json!({"model": "gpt-test", "messages": []}),
        )
        .await;
        assert_eq!(answer.status(), 200);
    }
    // Two failures opened the failing channel's circuit; the 429 paused the limited one at once.
    assert_eq!(hits(&mock, "failing"), 2);
    assert_eq!(hits(&mock, "limited"), 1);
    assert_eq!(hits(&mock, "good"), 4);
    let metrics = reqwest::get(&pylon.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!(
            "pylon_proxy_relay_channel_circuit{{channel=\"{failing_id}\"}} 1"
        )),
        "{metrics}"
    );
}
on_every_backend!(circuits_open_and_rate_limits_pause_channels);

async fn round_robin_keys_alternate(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    price_all(&console, 1.0).await;
    let extra = json!({"key": "key-one\nkey-two\nkey-three", "key_mode": "round_robin"});
    create_channel(
        &console,
        channel_for(&mock.base_url(), "rr", "gpt-test", extra),
    )
    .await;
    let (_, key) = create_key(&console, "rr", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-test").await;
    for _ in 0..6 {
        let answer = post(
            &pylon,
            &key,
            "/v1/chat/completions",
            json!({"model": "gpt-test", "messages": []}),
        )
        .await;
        assert_eq!(answer.status(), 200);
    }
    let used: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(used.len(), 6);
    for name in ["key-one", "key-two", "key-three"] {
        let count = used.iter().filter(|k| k.ends_with(name)).count();
        assert_eq!(count, 2, "{name} used {count} times: {used:?}");
    }
    for pair in used.windows(2) {
        assert_ne!(
            pair[0], pair[1],
            "round robin never repeats a key back to back"
        );
    }
}
on_every_backend!(round_robin_keys_alternate);
