//! Admission by affordability, end to end on SQLite and on MySQL + Redis: a small balance is
//! served (the upstream's completion limit lowered to what it pays for), never overdrawn under
//! concurrency; per-request prices charge exactly their price; a charge above the reservation is
//! recorded as an overrun; absurd upstream usage is billed as the estimate.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::Duration;

const MODEL: &str = "gpt-test";
/// Completion tokens of a full mock answer (one per chunk).
const CHUNKS: u32 = 40;
/// A full answer: the mock's 10 prompt and 40 completion tokens; (10 + 40 x 2) x 1.5 = 135.
const COST: i64 = 135;

async fn priced(console: &pylon_tests::Console) {
    set_option(console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    set_option(console, "CompletionRatio", &json!({ MODEL: 2 }).to_string()).await;
    set_option(
        console,
        "ModelPrice",
        &json!({"gpt-image-1": 0.04}).to_string(),
    )
    .await;
}

fn channel(name: &str, base_url: &str, models: &str, headers: Value) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": models,
        "group": "default", "priority": 0, "weight": 0,
        "header_override": if headers.is_null() { String::new() } else { headers.to_string() },
    })
}

async fn post(pylon: &Pylon, key: &str, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", pylon.base_url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("relay reachable")
}

/// The quota of `(prompt, completion)` tokens at ratio 1.5, completion ratio 2.
fn cost(prompt: i64, completion: i64) -> i64 {
    ((prompt + 2 * completion) * 3 + 1) / 2
}

async fn key_quota(db: &sqlx::AnyPool, id: i64) -> i64 {
    sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(id)
        .fetch_one(db)
        .await
        .expect("key")
}

/// Waits until the key's stored balance stops moving at `expected`.
async fn eventually_key_quota(db: &sqlx::AnyPool, id: i64, expected: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let value = key_quota(db, id).await;
        if value == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "key quota {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn small_balances_are_served_never_overdrawn(backend: Backend) {
    let mock = MockUpstream::start(MockConfig {
        chunks: CHUNKS,
        chunk_interval_ms: 20,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    create_channel(
        &console,
        channel("mock", &mock.base_url(), MODEL, Value::Null),
    )
    .await;
    let start = 10 * COST;
    let (key_id, key) = create_key(&console, "ten-requests", start, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    // 50 concurrent streams without max_tokens on a key worth 10 requests.
    let body =
        json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let requests = (0..50).map(|_| {
        let (pylon, key, body) = (&pylon, key.clone(), body.clone());
        async move {
            let answer = post(pylon, &key, "/v1/chat/completions", &body).await;
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap_or_default();
            (status, text)
        }
    });
    let answers = futures::future::join_all(requests).await;
    let wins = answers.iter().filter(|(status, _)| *status == 200).count();
    assert!((1..=10).contains(&wins), "{wins} of 50 succeeded");
    for (status, text) in &answers {
        match status {
            200 => assert!(text.trim_end().ends_with("data: [DONE]"), "{text}"),
            429 => assert!(text.contains("insufficient_quota"), "{text}"),
            other => panic!("unexpected status {other}: {text}"),
        }
    }
    let wins = i64::try_from(wins).expect("count");
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'ten-requests'",
        wins,
    )
    .await;
    let charged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2 AND token_name = 'ten-requests'",
    )
    .await;
    assert!(
        charged > 0 && charged <= wins * COST,
        "every success billed: {charged}"
    );
    eventually_key_quota(&db, key_id, start - charged).await;

    // Then one at a time until refused: the last answers are shorter (finish reason "length"),
    // and the key ends above zero with less than a request's minimum left.
    let plain = json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]});
    let mut served = wins;
    let mut shortened = 0;
    loop {
        // Each answer ends only once its charge has settled: the next request, on a new
        // connection, sees the balance that is left.
        let answer = post(&pylon, &key, "/v1/chat/completions", &plain).await;
        if answer.status() == 429 {
            break;
        }
        assert_eq!(answer.status(), 200);
        let answer: Value = answer.json().await.expect("json");
        if answer["choices"][0]["finish_reason"] == "length" {
            shortened += 1;
        }
        served += 1;
        assert!(served <= 10, "more answers than the key pays for");
    }
    // When the concurrent streams already spent the whole key (10 of 10 won), nothing is left
    // to serve; otherwise the last answer served was cut to what the balance still paid for.
    if served > wins {
        assert!(
            shortened >= 1,
            "the last answer was cut to the balance: {wins} concurrent wins, {served} served, \
             key quota {}",
            key_quota(&db, key_id).await
        );
    }
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'ten-requests'",
        served,
    )
    .await;
    let charged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2 AND token_name = 'ten-requests'",
    )
    .await;
    let left = start - charged;
    eventually_key_quota(&db, key_id, left).await;
    let prompt = i64::try_from(plain.to_string().len().div_ceil(3)).expect("len");
    assert!(
        (0..cost(prompt, 16)).contains(&left),
        "{left} left: not below zero, and too little for the prompt and 16 tokens"
    );

    if backend == Backend::MySqlRedis {
        // The shared counters did the admission: the key's mirror equals the database.
        let stored = redis_value(&pylon, &format!("bal:t:{key_id}:stored")).await;
        assert_eq!(stored, Some(left), "Redis mirror of the key");
    }
    db.close().await;
}
on_every_backend!(small_balances_are_served_never_overdrawn);

async fn one_request_balance_gets_a_shorter_answer(backend: Backend) {
    let mock = MockUpstream::start(MockConfig {
        chunks: 40,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    create_channel(
        &console,
        channel("mock", &mock.base_url(), MODEL, Value::Null),
    )
    .await;
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "hello"}]});
    // Admission assumes one prompt token per 3 bytes of body.
    let prompt = i64::try_from(body.to_string().len().div_ceil(3)).expect("len");
    // Worth exactly the prompt and 20 completion tokens.
    let start = cost(prompt, 20);
    let (key_id, key) = create_key(&console, "one-request", start, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;

    let answer = post(&pylon, &key, "/v1/chat/completions", &body).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["choices"][0]["finish_reason"], "length", "{answer}");
    assert_eq!(answer["usage"]["completion_tokens"], 20);
    let upstream = mock.requests();
    let seen = upstream.last().and_then(|r| r.json.clone()).expect("body");
    assert_eq!(seen["max_tokens"], 20, "the upstream saw the lowered limit");

    // The mock's 10 prompt tokens and 20 completion tokens: (10 + 40) x 1.5 = 75.
    let db = database(&pylon).await;
    eventually_key_quota(&db, key_id, start - 75).await;
    // What is left pays for less than the prompt plus 16 completion tokens: refused.
    let answer = post(&pylon, &key, "/v1/chat/completions", &body).await;
    assert_eq!(answer.status(), 429);

    // A client limit below what the balance pays for is left alone.
    let (_, rich) = create_key(&console, "rich", 1_000_000, false).await;
    wait_until_routable(&pylon, &rich, MODEL).await;
    let limited = json!({"model": MODEL, "max_completion_tokens": 7, "messages": []});
    let answer = post(&pylon, &rich, "/v1/chat/completions", &limited).await;
    assert_eq!(answer.status(), 200);
    let seen = mock
        .requests()
        .last()
        .and_then(|r| r.json.clone())
        .expect("body");
    assert_eq!(seen["max_completion_tokens"], 7);
    assert!(seen.get("max_tokens").is_none(), "{seen}");
    db.close().await;
}
on_every_backend!(one_request_balance_gets_a_shorter_answer);

async fn images_cost_their_model_price(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    create_channel(
        &console,
        channel("images", &mock.base_url(), "gpt-image-1", Value::Null),
    )
    .await;
    let (key_id, key) = create_key(&console, "images", 100_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-image-1").await;
    let answer = post(
        &pylon,
        &key,
        "/v1/images/generations",
        &json!({"model": "gpt-image-1", "prompt": "a cat"}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let answer = post(
        &pylon,
        &key,
        "/v1/images/generations",
        &json!({"model": "gpt-image-1", "prompt": "two cats", "n": 2}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM logs WHERE type = 2 AND model_name = 'gpt-image-1'",
        60_000,
    )
    .await;
    // 0.04 USD x 500 000 = 20 000 per image.
    eventually_key_quota(&db, key_id, 100_000 - 60_000).await;
    // 40 000 left does not buy three images (60 000): refused, nothing charged.
    let answer = post(
        &pylon,
        &key,
        "/v1/images/generations",
        &json!({"model": "gpt-image-1", "prompt": "cats", "n": 3}),
    )
    .await;
    assert_eq!(answer.status(), 429);
    db.close().await;
}
on_every_backend!(images_cost_their_model_price);

async fn overruns_and_absurd_usage_are_recorded(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console).await;
    set_option(
        &console,
        "ModelRatio",
        &json!({ MODEL: 1.5, "gpt-big": 1.5, "gpt-absurd": 1.5, "gpt-negative": 1.5 }).to_string(),
    )
    .await;
    // An upstream that reports 5 000 prompt tokens for a tiny body (an image by URL would).
    create_channel(
        &console,
        channel(
            "big",
            &mock.base_url(),
            "gpt-big",
            json!({"x-mock-usage": "5000,10"}),
        ),
    )
    .await;
    create_channel(
        &console,
        channel(
            "absurd",
            &mock.base_url(),
            "gpt-absurd",
            json!({"x-mock-usage": "9223372036854775807,10"}),
        ),
    )
    .await;
    create_channel(
        &console,
        channel(
            "negative",
            &mock.base_url(),
            "gpt-negative",
            json!({"x-mock-usage": "10,-5"}),
        ),
    )
    .await;
    let (key_id, key) = create_key(&console, "overrun", 1_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-big").await;
    let db = database(&pylon).await;

    let body = json!({"model": "gpt-big", "messages": []});
    let answer = post(&pylon, &key, "/v1/chat/completions", &body).await;
    assert_eq!(answer.status(), 200);
    // (5000 + 10) x 1.5 = 7515, charged in full although 1 000 was reserved.
    eventually_key_quota(&db, key_id, 1_000 - 7_515).await;
    let other: String = sqlx::query_scalar("SELECT other FROM logs WHERE model_name = 'gpt-big'")
        .fetch_one(&db)
        .await
        .expect("log row");
    let other: Value = serde_json::from_str(&other).expect("other JSON");
    assert_eq!(other["overrun"], 6_515, "{other}");
    assert_eq!(
        metric(
            &pylon,
            "pylon_proxy_billing_anomalies_total{kind=\"overrun\"}"
        )
        .await,
        1
    );
    // The account is refused until the overrun is covered.
    let answer = post(&pylon, &key, "/v1/chat/completions", &body).await;
    assert_eq!(answer.status(), 429);

    // Absurd usage: billed as the estimate, marked estimated, never 9.2e18.
    let (_, rich) = create_key(&console, "absurd", 10_000_000, false).await;
    wait_until_routable(&pylon, &rich, "gpt-absurd").await;
    for model in ["gpt-absurd", "gpt-negative"] {
        let body = json!({"model": model, "messages": []});
        let answer = post(&pylon, &rich, "/v1/chat/completions", &body).await;
        assert_eq!(answer.status(), 200, "{model}");
    }
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE token_name = 'absurd' AND is_estimated = 1",
        2,
    )
    .await;
    let quotas: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT quota, prompt_tokens FROM logs WHERE token_name = 'absurd' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("rows");
    for (quota, prompt) in &quotas {
        assert!(*quota > 0 && *quota < 1_000, "{quotas:?}");
        assert!(*prompt > 0 && *prompt < 1_000, "{quotas:?}");
    }
    assert_eq!(
        metric(
            &pylon,
            "pylon_proxy_billing_anomalies_total{kind=\"usage_out_of_range\"}"
        )
        .await,
        2
    );
    let used = scalar(&db, "SELECT used_quota FROM users WHERE id = 1").await;
    assert!(used < 100_000, "used_quota stays sane: {used}");
    db.close().await;
}
on_every_backend!(overruns_and_absurd_usage_are_recorded);
