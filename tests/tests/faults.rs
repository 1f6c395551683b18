//! Upstream faults end to end, on SQLite and on MySQL + Redis: every deadline of an exchange
//! fires within its bound (response header, first token, idle between chunks, whole request);
//! a deadline that fires before anything reached the client fails over to another channel,
//! one that fires later ends the answer in the client's format; a non-streamed answer cut by
//! its upstream closes the client's connection and is logged as an upstream failure; balances
//! are exact afterwards. A channel whose address takes no connection is given up at the
//! connect deadline.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-test";
/// A model served by a channel that stalls mid-body.
const STALL_MODEL: &str = "gpt-stall";
const BALANCE: i64 = 10_000_000;

fn channel(name: &str, base_url: &str, priority: i64, headers: Value) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": MODEL,
        "group": "default", "priority": priority, "weight": 0,
        "header_override": if headers.is_null() { String::new() } else { headers.to_string() },
    })
}

/// A Pylon whose relay deadlines are short (1 s each, `request_secs` for the whole request),
/// with its console and the test models priced.
async fn pylon_with_deadlines(
    backend: Backend,
    request_secs: u64,
) -> (Pylon, pylon_tests::Console) {
    let request_secs = request_secs.to_string();
    pylon_with(
        backend,
        &[
            ("PYLON__RELAY__RESPONSE_HEADER_TIMEOUT_SECS", "1"),
            ("PYLON__RELAY__FIRST_TOKEN_TIMEOUT_SECS", "1"),
            ("PYLON__RELAY__IDLE_TIMEOUT_SECS", "1"),
            ("PYLON__RELAY__REQUEST_TIMEOUT_SECS", &request_secs),
        ],
    )
    .await
}

/// A Pylon with the settings `env`, its console and the test models priced.
async fn pylon_with(backend: Backend, env: &[(&str, &str)]) -> (Pylon, pylon_tests::Console) {
    let mut builder = Pylon::builder(backend);
    for (name, value) in env {
        builder = builder.env(name, *value);
    }
    let pylon = builder.start().await;
    let console = root_console(&pylon).await;
    set_option(
        &console,
        "ModelRatio",
        &json!({ MODEL: 1.5, STALL_MODEL: 1.5 }).to_string(),
    )
    .await;
    (pylon, console)
}

/// Sends a chat request; the client gives up after 30 s (far beyond every bound asserted).
async fn chat(pylon: &Pylon, key: &str, body: Value) -> reqwest::Response {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("relay answers")
}

/// Waits until every request of the key is settled: `rows` log rows, and the key's balance
/// exactly its start minus what they charged (no reservation left behind).
async fn settled_exactly(db: &sqlx::AnyPool, token_id: i64, rows: i64) -> Vec<(i64, i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT quota, channel_id, content FROM logs WHERE token_id = ? AND type = 2 ORDER BY id",
        )
        .bind(token_id)
        .fetch_all(db)
        .await
        .expect("logs");
        let remain: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
            .bind(token_id)
            .fetch_one(db)
            .await
            .expect("token");
        let charged: i64 = logged.iter().map(|(quota, _, _)| quota).sum();
        if i64::try_from(logged.len()).ok() == Some(rows) && remain == BALANCE - charged {
            return logged;
        }
        assert!(
            Instant::now() < deadline,
            "rows {logged:?}, remain {remain}, expected {rows} rows and {BALANCE} - charged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn silent_upstreams_time_out_and_fail_over(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (pylon, console) = pylon_with_deadlines(backend, 60).await;
    // The preferred channels never answer (no response header) or never send a first token;
    // the last one is healthy.
    create_channel(
        &console,
        channel(
            "silent",
            &mock.base_url(),
            30,
            json!({"x-mock-delay-ms": "120000"}),
        ),
    )
    .await;
    create_channel(
        &console,
        channel(
            "tokenless",
            &mock.base_url(),
            20,
            json!({"x-mock-ttft-ms": "120000"}),
        ),
    )
    .await;
    let good = create_channel(&console, channel("good", &mock.base_url(), 0, Value::Null)).await;
    let (token_id, key) = create_key(&console, "faults", BALANCE, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    // Non-streamed: the silent channel's header deadline (1 s) fires, the tokenless one answers
    // its header at once, then the body (no delay knob for it) arrives: it is served there or
    // by the good channel, within two deadlines.
    let started = Instant::now();
    let answer = chat(&pylon, &key, json!({"model": MODEL, "messages": []})).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json answer");
    assert_eq!(body["object"], "chat.completion");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "header deadline fired late: {:?}",
        started.elapsed()
    );

    // Streamed: header deadline, then first-token deadline, then the good channel.
    let started = Instant::now();
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("stream");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "deadlines fired late: {:?}",
        started.elapsed()
    );
    let rows = settled_exactly(&db, token_id, 2).await;
    assert_eq!(rows[1].1, good, "the stream was served by the good channel");
    let retries = scalar(&db, "SELECT MAX(retries) FROM logs WHERE type = 2").await;
    assert_eq!(retries, 2);
    db.close().await;
}
on_every_backend!(silent_upstreams_time_out_and_fail_over);

async fn stalls_mid_answer_end_the_answer_cleanly(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (pylon, console) = pylon_with_deadlines(backend, 60).await;
    // The first chunk, then silence: the idle deadline (1 s) ends the stream.
    create_channel(
        &console,
        channel(
            "stalling",
            &mock.base_url(),
            0,
            json!({"x-mock-chunks": "3", "x-mock-chunk-interval-ms": "120000"}),
        ),
    )
    .await;
    let (token_id, key) = create_key(&console, "stalls", BALANCE, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    // The client has its first chunk; the idle deadline ends the stream with [DONE].
    let started = Instant::now();
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("a cleanly ended stream");
    assert!(text.contains("chat.completion.chunk"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stream not ended by its deadline: {:?}",
        started.elapsed()
    );
    let rows = settled_exactly(&db, token_id, 1).await;
    assert!(
        rows[0].2.contains("upstream ended the answer early"),
        "{rows:?}"
    );
    assert!(rows[0].0 > 0, "billed for what was delivered: {rows:?}");
    db.close().await;
}
on_every_backend!(stalls_mid_answer_end_the_answer_cleanly);

async fn whole_request_deadline_ends_a_slow_stream(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (pylon, console) = pylon_with_deadlines(backend, 2).await;
    // A chunk every 300 ms never trips the idle deadline; 100 of them outlast the request's.
    create_channel(
        &console,
        channel(
            "slow",
            &mock.base_url(),
            0,
            json!({"x-mock-chunks": "100", "x-mock-chunk-interval-ms": "300"}),
        ),
    )
    .await;
    let (token_id, key) = create_key(&console, "slow", BALANCE, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    let started = Instant::now();
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("a cleanly ended stream");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1_500) && elapsed < Duration::from_secs(4),
        "request deadline fired at {elapsed:?}"
    );
    let chunks = text.matches("chat.completion.chunk").count();
    assert!((2..100).contains(&chunks), "{chunks} chunks");
    let rows = settled_exactly(&db, token_id, 1).await;
    assert!(rows[0].2.contains("deadline"), "{rows:?}");
    db.close().await;
}
on_every_backend!(whole_request_deadline_ends_a_slow_stream);

async fn cut_answers_close_the_connection(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (pylon, console) = pylon_with_deadlines(backend, 60).await;
    create_channel(
        &console,
        channel(
            "cut",
            &mock.base_url(),
            0,
            json!({"x-mock-cut-body-bytes": "20", "x-mock-stall-body-ms": "100"}),
        ),
    )
    .await;
    let mut stall = channel(
        "stall",
        &mock.base_url(),
        0,
        json!({"x-mock-cut-body-bytes": "20", "x-mock-stall-body-ms": "120000"}),
    );
    stall["models"] = json!(STALL_MODEL);
    create_channel(&console, stall).await;
    let (token_id, key) = create_key(&console, "cut", BALANCE, false).await;
    wait_until_routable(&pylon, &key, STALL_MODEL).await;
    let db = database(&pylon).await;

    // Cut by the upstream, then stalled by it: either way the client's read ends with an
    // error quickly (the connection closed), never a hang on the missing bytes.
    for model in [MODEL, STALL_MODEL] {
        let started = Instant::now();
        let answer = chat(&pylon, &key, json!({"model": model, "messages": []})).await;
        assert_eq!(answer.status(), 200, "{model}");
        let body = answer.bytes().await;
        let error = body.expect_err("a cut body cannot complete");
        assert!(!error.is_timeout(), "{model}: the client hung: {error}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{model}: closed late: {:?}",
            started.elapsed()
        );
    }
    let rows = settled_exactly(&db, token_id, 2).await;
    for (_, _, content) in &rows {
        assert!(
            content.contains("upstream ended the answer early"),
            "{rows:?}"
        );
        assert!(!content.contains("client disconnected"), "{rows:?}");
    }
    // The proxy still serves the key afterwards.
    let answer = chat(
        &pylon,
        &key,
        json!({"model": MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    db.close().await;
}
on_every_backend!(cut_answers_close_the_connection);

async fn converted_answers_fail_over_and_end_cleanly(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (pylon, console) = pylon_with_deadlines(backend, 60).await;
    // Anthropic channels answering an OpenAI client: answers go through the formats layer.
    let anthropic = |name: &str, model: &str, priority: i64, knobs: Value| {
        let mut channel = channel(name, &mock.base_url(), priority, knobs);
        channel["type"] = json!(14);
        channel["models"] = json!(model);
        channel
    };
    create_channel(
        &console,
        anthropic(
            "cut",
            MODEL,
            10,
            json!({"x-mock-cut-body-bytes": "20", "x-mock-stall-body-ms": "120000"}),
        ),
    )
    .await;
    let good = create_channel(&console, anthropic("good", MODEL, 0, Value::Null)).await;
    create_channel(
        &console,
        anthropic(
            "stalling",
            STALL_MODEL,
            0,
            json!({"x-mock-chunks": "3", "x-mock-chunk-interval-ms": "120000"}),
        ),
    )
    .await;
    let (token_id, key) = create_key(&console, "converted", BALANCE, false).await;
    wait_until_routable(&pylon, &key, STALL_MODEL).await;
    let db = database(&pylon).await;

    // A converted answer is read whole before anything is sent: its stall (idle deadline)
    // fails over to the good channel.
    let started = Instant::now();
    let answer = chat(&pylon, &key, json!({"model": MODEL, "messages": []})).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json answer");
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "failed over late: {:?}",
        started.elapsed()
    );

    // A transcoded stream that stalls after its first event ends with [DONE].
    let started = Instant::now();
    let answer = chat(
        &pylon,
        &key,
        json!({"model": STALL_MODEL, "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("a cleanly ended stream");
    assert!(text.contains("chat.completion.chunk"), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stream not ended by its deadline: {:?}",
        started.elapsed()
    );
    let rows = settled_exactly(&db, token_id, 2).await;
    assert_eq!(rows[0].1, good, "{rows:?}");
    assert!(
        rows[1].2.contains("upstream ended the answer early"),
        "{rows:?}"
    );
    db.close().await;
}
on_every_backend!(converted_answers_fail_over_and_end_cleanly);

/// A listening address that accepts no connection: a backlog of 1, never accepted, its queue
/// filled with idle connections until a further one cannot complete (the kernel drops its
/// SYNs), which is checked before it is used. Keep the returned values alive.
async fn unconnectable_address() -> (tokio::net::TcpListener, Vec<tokio::net::TcpStream>, String) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("address");
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(error)) => panic!("filling the accept queue failed: {error}"),
            // A connection that cannot complete: the queue is full.
            Err(_) => return (listener, fillers, format!("http://{addr}")),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

async fn unconnectable_channels_time_out_and_fail_over(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let (_listener, _fillers, blackhole) = unconnectable_address().await;
    let (pylon, console) =
        pylon_with(backend, &[("PYLON__RELAY__CONNECT_TIMEOUT_SECS", "1")]).await;
    // The preferred channel's address takes no connection; the other one is healthy. The
    // second model is served by the unconnectable address alone.
    let unconnectable = create_channel(
        &console,
        channel("unconnectable", &blackhole, 10, Value::Null),
    )
    .await;
    let good = create_channel(&console, channel("good", &mock.base_url(), 0, Value::Null)).await;
    let mut alone = channel("alone", &blackhole, 0, Value::Null);
    alone["models"] = json!(STALL_MODEL);
    create_channel(&console, alone).await;
    let (token_id, key) = create_key(&console, "connect", BALANCE, false).await;
    wait_until_routable(&pylon, &key, STALL_MODEL).await;
    let db = database(&pylon).await;

    // The connect deadline (1 s) fires and the good channel answers.
    let started = Instant::now();
    let answer = chat(&pylon, &key, json!({"model": MODEL, "messages": []})).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("json answer");
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "failed over at {elapsed:?}"
    );
    let rows = settled_exactly(&db, token_id, 1).await;
    assert_eq!(rows[0].1, good, "{rows:?}");
    let retries = scalar(&db, "SELECT MAX(retries) FROM logs WHERE type = 2").await;
    assert_eq!(
        retries, 1,
        "the unconnectable channel #{unconnectable} was tried first"
    );

    // Alone, the unconnectable channel's timeout is the answer, in the client's format.
    let started = Instant::now();
    let answer = chat(&pylon, &key, json!({"model": STALL_MODEL, "messages": []})).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status(), 502);
    let body: Value = answer.json().await.expect("an OpenAI error envelope");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("connect"), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3),
        "answered at {elapsed:?}: not the connect deadline"
    );
    let anthropic = reqwest::Client::new()
        .post(format!("{}/v1/messages", pylon.base_url))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": STALL_MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("relay answers");
    assert_eq!(anthropic.status(), 502);
    let body: Value = anthropic.json().await.expect("an Anthropic error envelope");
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("connect")),
        "{body}"
    );
    // Nothing was charged for the failures: the balance is the one answer's.
    settled_exactly(&db, token_id, 1).await;
    db.close().await;
}
on_every_backend!(unconnectable_channels_time_out_and_fail_over);
