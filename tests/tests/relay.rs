//! The relay end to end: an OpenAI client's requests through Pylon to mock upstreams, with
//! exact billing, retries, bad input and key changes, on SQLite and on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-test";

/// A second model, for channels with their own upstream behaviour.
const LONG_MODEL: &str = "gpt-long";

async fn priced(console: &pylon_tests::Console) {
    set_option(
        console,
        "ModelRatio",
        &json!({ MODEL: 1.5, LONG_MODEL: 1.5 }).to_string(),
    )
    .await;
    set_option(
        console,
        "CompletionRatio",
        &json!({ MODEL: 2, LONG_MODEL: 2 }).to_string(),
    )
    .await;
}

fn channel(name: &str, base_url: &str, priority: i64, headers: Value) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": MODEL,
        "group": "default", "priority": priority, "weight": 0,
        "header_override": if headers.is_null() { String::new() } else { headers.to_string() },
    })
}

async fn chat(pylon: &Pylon, key: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("relay reachable")
}

async fn chat_streams_and_bills_exactly(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let channel_id =
        create_channel(&console, channel("mock", &mock.base_url(), 0, Value::Null)).await;
    let (token_id, key) = create_key(&console, "relay-key", 10_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;
    let user_before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;

    // Non-streaming: the upstream's answer, untouched.
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], MODEL);
    let usage = body["usage"].clone();

    // Streaming without asking for usage: chunks and [DONE], and no usage chunk.
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let text = answer.text().await.expect("stream");
    assert!(text.contains("chat.completion.chunk"));
    assert!(text.trim_end().ends_with("data: [DONE]"));
    assert!(
        !text.contains("\"usage\":{"),
        "usage chunk must be stripped: {text}"
    );
    // The upstream was asked for usage all the same.
    let upstream = mock.requests();
    let last = upstream.last().expect("upstream saw the stream");
    assert_eq!(
        last.json
            .as_ref()
            .map(|b| b["stream_options"]["include_usage"].clone()),
        Some(json!(true))
    );
    assert_eq!(last.header("authorization"), Some("Bearer upstream-key"));

    // Streaming asking for usage: the usage chunk reaches the client.
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true}}),
    )
    .await;
    let text = answer.text().await.expect("stream");
    assert!(text.contains("\"usage\":{"), "{text}");

    // Three requests: three log rows, and balances fell by exactly their sum.
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 3).await;
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    let prompt = usage["prompt_tokens"].as_i64().expect("prompt tokens");
    let completion = usage["completion_tokens"]
        .as_i64()
        .expect("completion tokens");
    let first = ((prompt as f64 + completion as f64 * 2.0) * 1.5).round() as i64;
    let first_logged = scalar(
        &db,
        "SELECT quota FROM logs WHERE type = 2 ORDER BY id LIMIT 1",
    )
    .await;
    assert_eq!(
        first_logged, first,
        "quota = (prompt + completion x 2) x 1.5"
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM logs WHERE is_estimated = 1").await,
        0
    );
    assert_eq!(
        user_before - scalar(&db, "SELECT quota FROM users WHERE id = 1").await,
        logged
    );
    assert_eq!(
        scalar(&db, "SELECT used_quota FROM users WHERE id = 1").await,
        logged
    );
    assert_eq!(
        scalar(&db, "SELECT request_count FROM users WHERE id = 1").await,
        3
    );
    let remain: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(token_id)
        .fetch_one(&db)
        .await
        .expect("token");
    assert_eq!(10_000_000 - remain, logged);
    let channel_used: i64 = sqlx::query_scalar("SELECT used_quota FROM channels WHERE id = ?")
        .bind(channel_id)
        .fetch_one(&db)
        .await
        .expect("channel");
    assert_eq!(channel_used, logged);

    // The log APIs show the same rows and sums.
    let own = console.get("/api/log/self?p=1&page_size=2&type=2").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["total"], json!(3));
    let items = own.data()["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "page size honoured");
    assert_eq!(items[0]["model_name"], json!(MODEL));
    assert_eq!(items[0]["channel"], json!(channel_id));
    assert_eq!(items[0]["is_stream"], json!(1));
    let all = console
        .get(&format!("/api/log/?p=1&page_size=10&model_name={MODEL}"))
        .await;
    assert_eq!(all.data()["total"], json!(3));
    let stat = console.get("/api/log/stat?type=2").await;
    assert_eq!(stat.data()["quota"], json!(logged));
    let none = console.get("/api/log/self?model_name=other-model").await;
    assert_eq!(none.data()["total"], json!(0));
    // An unreadable page number reads as the first page, like every list (new-api's leniency);
    // one whose offset overflows is refused.
    let lenient = console.get("/api/log/self?p=abc").await;
    assert_eq!(lenient.data()["page"], json!(1), "{lenient:?}");
    let bad = console.get("/api/log/self?p=9223372036854775807").await;
    assert!(!bad.success());
    db.close().await;
}
on_every_backend!(chat_streams_and_bills_exactly);

async fn failed_channels_are_retried_elsewhere(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    // Highest priority first: one that answers 500, one that refuses connections, then a good one.
    create_channel(
        &console,
        channel(
            "broken",
            &mock.base_url(),
            20,
            json!({"x-mock-status": "500"}),
        ),
    )
    .await;
    let closed = pylon_tests::process::free_port();
    create_channel(
        &console,
        channel(
            "closed",
            &format!("http://127.0.0.1:{closed}"),
            10,
            Value::Null,
        ),
    )
    .await;
    let good = create_channel(&console, channel("good", &mock.base_url(), 0, Value::Null)).await;
    let (_, key) = create_key(&console, "retry-key", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;

    // A 1 MiB prompt, which must be replayed to each channel in turn.
    let prompt = "x".repeat(1024 * 1024);
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "messages": [{"role": "user", "content": prompt}]}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let bodies: Vec<usize> = mock.requests().iter().map(|r| r.body_len).collect();
    assert_eq!(bodies.len(), 2, "the 500 channel and the good one saw it");
    assert!(bodies.iter().all(|len| *len > 1024 * 1024), "{bodies:?}");

    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 1).await;
    let (channel, retries): (i64, i64) =
        sqlx::query_as("SELECT channel_id, retries FROM logs WHERE type = 2")
            .fetch_one(&db)
            .await
            .expect("log");
    assert_eq!((channel, retries), (good, 2));
    db.close().await;
}
on_every_backend!(failed_channels_are_retried_elsewhere);

async fn bad_input_costs_nothing(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__MAX_BODY_BYTES", "100000")
        .start()
        .await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    create_channel(&console, channel("mock", &mock.base_url(), 0, Value::Null)).await;
    let (_, key) = create_key(&console, "bad-input", 1_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", pylon.base_url);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            client.post(&url).bearer_auth(&key).body("{\"model\": "),
            400,
            "Invalid JSON",
        ),
        (
            client
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({"messages": []})),
            400,
            "model",
        ),
        (
            client
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({"model": "no-such-model"})),
            404,
            "does not exist",
        ),
        (
            client
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({"model": MODEL, "pad": "y".repeat(200_000)})),
            413,
            "larger than",
        ),
        (
            client.post(&url).json(&json!({"model": MODEL})),
            401,
            "API key",
        ),
        (
            client
                .post(&url)
                .bearer_auth("sk-not-a-real-key")
                .json(&json!({"model": MODEL})),
            401,
            "Incorrect API key",
        ),
    ];
    for (request, status, message) in cases {
        let answer = request.send().await.expect("reachable");
        assert_eq!(answer.status(), status);
        let body: Value = answer.json().await.expect("OpenAI error body");
        let text = body["error"]["message"].as_str().unwrap_or_default();
        assert!(text.contains(message), "{body}");
        assert!(body["error"]["type"].is_string());
    }
    assert_eq!(mock.request_count(), 0, "nothing reached the upstream");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let db = database(&pylon).await;
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM logs WHERE type = 2").await,
        0
    );
    assert_eq!(
        scalar(&db, "SELECT remain_quota FROM tokens").await,
        1_000_000
    );
    db.close().await;
}
on_every_backend!(bad_input_costs_nothing);

async fn disabled_keys_are_refused_quickly(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    create_channel(&console, channel("mock", &mock.base_url(), 0, Value::Null)).await;
    let (id, key) = create_key(&console, "to-disable", 1_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    assert_eq!(
        chat(&pylon, &key, json!({"model": MODEL})).await.status(),
        200
    );

    let answer = console
        .send(
            reqwest::Method::PUT,
            "/api/token/?status_only=true",
            Some(json!({"id": id, "status": 2}).to_string()),
        )
        .await;
    assert!(answer.success(), "{answer:?}");
    let disabled_at = Instant::now();
    let bound = match backend {
        Backend::Sqlite => Duration::from_secs(2),
        Backend::MySqlRedis => Duration::from_secs(1),
    };
    loop {
        let status = chat(&pylon, &key, json!({"model": MODEL})).await.status();
        if status == 401 {
            break;
        }
        assert!(
            disabled_at.elapsed() < bound,
            "still accepted after {:?}",
            disabled_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
on_every_backend!(disabled_keys_are_refused_quickly);

async fn concurrent_streams_never_overdraw(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let pacing = json!({"x-mock-chunk-interval-ms": "20", "x-mock-chunks": "10"});
    create_channel(&console, channel("mock", &mock.base_url(), 0, pacing)).await;
    // Each stream reserves about (prompt estimate + 20 max tokens x 2) x 1.5; the key covers ~10.
    let (token_id, key) = create_key(&console, "tight", 1_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let streams = (0..50).map(|_| {
        let url = format!("{}/v1/chat/completions", pylon.base_url);
        let key = key.clone();
        tokio::spawn(async move {
            let answer = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&json!({"model": MODEL, "stream": true, "max_tokens": 20, "messages": []}))
                .send()
                .await
                .expect("reachable");
            let status = answer.status().as_u16();
            let _ = answer.text().await;
            status
        })
    });
    let mut admitted = 0;
    for stream in streams {
        match stream.await.expect("task") {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((1..50).contains(&admitted), "admitted {admitted}");
    let db = database(&pylon).await;
    let sql_count = "SELECT COUNT(*) FROM logs WHERE type = 2";
    let deadline = Instant::now() + Duration::from_secs(5);
    while scalar(&db, sql_count).await < admitted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        scalar(&db, sql_count).await,
        admitted,
        "every admitted stream is billed once"
    );
    let remain: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(token_id)
        .fetch_one(&db)
        .await
        .expect("token");
    assert!(remain >= 0, "key overdrawn: {remain}");
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    assert_eq!(1_000 - remain, logged);
    db.close().await;
}
on_every_backend!(concurrent_streams_never_overdraw);

async fn refusing_channels_are_disabled_and_slow_first_tokens_fail_over(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__FIRST_TOKEN_TIMEOUT_SECS", "1")
        .start()
        .await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    let revoked = create_channel(
        &console,
        channel(
            "revoked",
            &mock.base_url(),
            30,
            json!({"x-mock-status": "401"}),
        ),
    )
    .await;
    let slow = create_channel(
        &console,
        channel(
            "slow",
            &mock.base_url(),
            20,
            json!({"x-mock-ttft-ms": "3000"}),
        ),
    )
    .await;
    let good = create_channel(&console, channel("good", &mock.base_url(), 0, Value::Null)).await;
    let (_, key) = create_key(&console, "failover", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;

    let started = Instant::now();
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("stream");
    assert!(text.trim_end().ends_with("data: [DONE]"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed over before the slow token"
    );

    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 1).await;
    let (channel_id, retries): (i64, i64) =
        sqlx::query_as("SELECT channel_id, retries FROM logs WHERE type = 2")
            .fetch_one(&db)
            .await
            .expect("log");
    assert_eq!((channel_id, retries), (good, 2));
    // The 401 channel is disabled with its reason; the slow one only failed once.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, reason): (i64, String) =
            sqlx::query_as("SELECT status, status_reason FROM channels WHERE id = ?")
                .bind(revoked)
                .fetch_one(&db)
                .await
                .expect("channel");
        if status == 3 {
            assert!(reason.contains("401"), "{reason}");
            break;
        }
        assert!(Instant::now() < deadline, "revoked channel still enabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let slow_status: i64 = sqlx::query_scalar("SELECT status FROM channels WHERE id = ?")
        .bind(slow)
        .fetch_one(&db)
        .await
        .expect("channel");
    assert_eq!(slow_status, 1);
    let metrics = reqwest::get(&pylon.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("pylon_proxy_relay_retries_total"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!("pylon_proxy_relay_requests_total{{channel=\"{good}\",model=\"{MODEL}\",status=\"2xx\"}} 1")), "{metrics}");
    db.close().await;
}
on_every_backend!(refusing_channels_are_disabled_and_slow_first_tokens_fail_over);

async fn cut_streams_bill_what_was_delivered(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    // MODEL's upstream dies after 3 chunks; LONG_MODEL's streams 200 chunks slowly.
    create_channel(
        &console,
        channel(
            "aborts",
            &mock.base_url(),
            0,
            json!({"x-mock-abort-after-chunks": "3"}),
        ),
    )
    .await;
    let mut long = channel(
        "long",
        &mock.base_url(),
        0,
        json!({"x-mock-chunks": "200", "x-mock-chunk-interval-ms": "20"}),
    );
    long["models"] = json!(LONG_MODEL);
    create_channel(&console, long).await;
    let (_, key) = create_key(&console, "cut", 100_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    wait_until_routable(&pylon, &key, LONG_MODEL).await;

    // The upstream dies after 3 chunks: the client gets those, the charge is an estimate.
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap_or_default();
    assert!(!text.contains("[DONE]"));

    // The client walks away after the first chunk of a long stream.
    let mut answer = chat(
        &pylon,
        &key,
        json!({"model": LONG_MODEL, "stream": true, "messages": []}),
    )
    .await;
    let first = answer.chunk().await.expect("first chunk");
    assert!(first.is_some());
    drop(answer);

    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND is_estimated = 1",
        2,
    )
    .await;
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT quota, completion_tokens, content FROM logs WHERE type = 2 ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    assert!(rows.iter().all(|(quota, _, _)| *quota > 0), "{rows:?}");
    // Three content chunks were delivered; the estimate also counts the opening role chunk.
    assert!((3..=4).contains(&rows[0].1), "{rows:?}");
    assert!(rows[0].2.contains("upstream ended"), "{rows:?}");
    assert!(rows[1].2.contains("client disconnected"), "{rows:?}");
    assert!(rows[1].1 < 200, "billed only what was delivered: {rows:?}");
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    eventually_equals(&db, "SELECT used_quota FROM users WHERE id = 1", logged).await;
    db.close().await;
}
on_every_backend!(cut_streams_bill_what_was_delivered);
