//! HTTP/2 to upstreams (issue 14), on SQLite and on MySQL + Redis: with
//! `relay.upstream_http2 = "prior_knowledge"` the relay speaks h2c to a plain-text upstream,
//! many requests at once share its connections, streams and whole answers arrive untouched
//! and are billed exactly, a failing upstream's 500 moves the request to the next channel, and
//! a stream the upstream resets is cut for its client only. The default (`negotiate`) keeps
//! HTTP/1.1 for plain-text upstreams.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};

const MODEL: &str = "gpt-h2";
const CUT_MODEL: &str = "gpt-h2-cut";

fn channel(name: &str, base_url: &str, models: &str, priority: i64, headers: Value) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": models,
        "group": "default", "priority": priority, "weight": 0,
        "header_override": if headers.is_null() { String::new() } else { headers.to_string() },
    })
}

async fn chat(pylon: &Pylon, key: &str, model: &str, stream: bool) -> (u16, String) {
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": stream,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    (status, answer.text().await.unwrap_or_default())
}

async fn relays_over_http2(backend: Backend) {
    let good = MockUpstream::start(MockConfig {
        chunks: 5,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let failing = MockUpstream::start(MockConfig {
        status: Some(500),
        ..MockConfig::default()
    })
    .await
    .expect("failing mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__UPSTREAM_HTTP2", "prior_knowledge")
        .start()
        .await;
    let console = root_console(&pylon).await;
    set_option(
        &console,
        "ModelRatio",
        &json!({ MODEL: 1.5, CUT_MODEL: 1.5 }).to_string(),
    )
    .await;
    // The failing channel is tried first; its 500 moves each request to the good one.
    create_channel(
        &console,
        channel("failing", &failing.base_url(), MODEL, 10, Value::Null),
    )
    .await;
    create_channel(
        &console,
        channel("good", &good.base_url(), MODEL, 0, Value::Null),
    )
    .await;
    create_channel(
        &console,
        channel(
            "cut",
            &good.base_url(),
            CUT_MODEL,
            0,
            json!({"x-mock-abort-after-chunks": "2"}),
        ),
    )
    .await;
    let (_, key) = create_key(&console, "h2-key", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    wait_until_routable(&pylon, &key, CUT_MODEL).await;
    good.clear_requests();
    failing.clear_requests();
    let db = database(&pylon).await;
    let quota_before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;

    // Twenty at once, half streamed: every answer whole.
    let answers =
        futures::future::join_all((0..20).map(|i| chat(&pylon, &key, MODEL, i % 2 == 0))).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, 200, "{body}");
        if i % 2 == 0 {
            assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
            assert_eq!(body.matches("chat.completion.chunk").count(), 7, "{body}");
        } else {
            let answer: Value = serde_json::from_str(body).expect("json answer");
            assert_eq!(answer["object"], "chat.completion");
            assert_eq!(answer["usage"]["prompt_tokens"], 10);
        }
    }
    let seen = good.requests();
    assert_eq!(seen.len(), 20);
    assert!(
        seen.iter().all(|r| r.version == "HTTP/2"),
        "every request reached the upstream over HTTP/2: {:?}",
        seen.iter().map(|r| r.version).collect::<Vec<_>>()
    );
    assert_eq!(
        seen.iter()
            .filter(|r| r.header("authorization") == Some("Bearer upstream-key"))
            .count(),
        20
    );
    let refused = failing.requests();
    assert!(!refused.is_empty() && refused.iter().all(|r| r.version == "HTTP/2"));

    // Billed exactly: twenty consume rows, their quota taken from the account.
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 20).await;
    let charged = scalar(
        &db,
        "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    assert!(charged > 0);
    eventually_of(
        &db,
        "SELECT quota FROM users WHERE id = ?",
        1,
        quota_before - charged,
    )
    .await;

    // The upstream resets a stream after two chunks: that client's answer is cut, the
    // connection's other streams and the next requests are not.
    let (status, body) = chat(&pylon, &key, CUT_MODEL, true).await;
    assert_eq!(status, 200);
    assert!(!body.contains("[DONE]"), "{body}");
    let (status, body) = chat(&pylon, &key, MODEL, true).await;
    assert_eq!(status, 200);
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");

    // The default speaks HTTP/1.1 to a plain-text upstream.
    let plain = Pylon::start(backend).await;
    let console = root_console(&plain).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    create_channel(
        &console,
        channel("good", &good.base_url(), MODEL, 0, Value::Null),
    )
    .await;
    let (_, key) = create_key(&console, "h1-key", 100_000_000, false).await;
    wait_until_routable(&plain, &key, MODEL).await;
    good.clear_requests();
    let (status, _) = chat(&plain, &key, MODEL, false).await;
    assert_eq!(status, 200);
    assert_eq!(good.requests()[0].version, "HTTP/1.1");
    db.close().await;
}
on_every_backend!(relays_over_http2);
