//! Claude and Gemini clients and channels through the relay: Anthropic `/v1/messages` and Gemini
//! `/v1beta/models/{m}:{action}` ingress, Anthropic (14) and Gemini (24) channels, passed on when
//! the client speaks the channel's format and converted otherwise, streamed and not. The mock
//! upstreams record what they receive (path, authentication headers, body) and the tests check
//! it; every successful call is billed exactly from the upstream's usage (cache reads included),
//! bad input gets the client format's error and costs nothing, and a stream cut mid-way ends in
//! the client's format and is billed for what was delivered. On SQLite and on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream, RecordedRequest};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use sqlx::Row;

const PROMPT: u64 = 20;
const COMPLETION: u64 = 6;
const CACHED: u64 = 4;
/// `CacheRatio` of the Anthropic models.
const CACHE_RATIO: f64 = 0.5;
const UPSTREAM_KEY: &str = "upstream-key";

fn mock_config() -> MockConfig {
    MockConfig {
        chunks: 3,
        prompt_tokens: PROMPT,
        completion_tokens: Some(COMPLETION),
        ..MockConfig::default()
    }
}

/// Prices every model at ratio 1.5, completion 2; Anthropic models read cache at 0.5.
async fn priced(console: &pylon_tests::Console, models: &[&str], cached: &[&str]) {
    let ratios: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(1.5))).collect();
    let completion: serde_json::Map<String, Value> =
        models.iter().map(|m| (m.to_string(), json!(2))).collect();
    let cache: serde_json::Map<String, Value> = cached
        .iter()
        .map(|m| (m.to_string(), json!(CACHE_RATIO)))
        .collect();
    set_option(console, "ModelRatio", &Value::Object(ratios).to_string()).await;
    set_option(
        console,
        "CompletionRatio",
        &Value::Object(completion).to_string(),
    )
    .await;
    set_option(console, "CacheRatio", &Value::Object(cache).to_string()).await;
}

fn channel(kind: i64, name: &str, base_url: &str, model: &str) -> Value {
    json!({
        "type": kind, "name": name, "key": UPSTREAM_KEY, "base_url": base_url, "models": model,
        "group": "default", "priority": 0, "weight": 0,
    })
}

/// A POST with extra headers; the answer's status and body text.
async fn post(
    pylon: &Pylon,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, String, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", pylon.base_url))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.expect("relay reachable");
    let status = answer.status().as_u16();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, answer.text().await.expect("body"))
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn last(mock: &MockUpstream) -> RecordedRequest {
    mock.requests()
        .last()
        .cloned()
        .expect("the upstream was called")
}

/// Every successful log row: billed from the upstream's usage, exactly, and the balance fell
/// by their sum. `cache_ratio_of` gives each model's cache ratio.
async fn billed_exactly(
    pylon: &Pylon,
    before: i64,
    rows: usize,
    cache_ratio_of: impl Fn(&str) -> f64,
) {
    let db = database(pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2",
        i64::try_from(rows).expect("small"),
    )
    .await;
    let logged = sqlx::query(
        "SELECT model_name, prompt_tokens, completion_tokens, cached_tokens, quota, is_estimated \
         FROM logs WHERE type = 2 ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    let mut sum = 0i64;
    for row in &logged {
        let model: String = row.get(0);
        let (prompt, completion, cached, quota, estimated): (i64, i64, i64, i64, i64) =
            (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        assert_eq!(estimated, 0, "{model}: usage read from the upstream");
        let expected = (((prompt - cached) as f64
            + cached as f64 * cache_ratio_of(&model)
            + completion as f64 * 2.0)
            * 1.5)
            .round() as i64;
        assert!(quota > 0, "{model} charged");
        assert_eq!(quota, expected, "{model}: {prompt}/{completion}/{cached}");
        sum += quota;
    }
    eventually_equals(&db, "SELECT quota FROM users WHERE id = 1", before - sum).await;
}

const ANTHROPIC: &str = "claude-test";
const ANTHROPIC_VIA_OPENAI: &str = "claude-on-openai";

async fn anthropic_clients(backend: Backend) {
    let claude = MockUpstream::start(MockConfig {
        cached_tokens: CACHED,
        ..mock_config()
    })
    .await
    .expect("mock");
    let openai = MockUpstream::start(mock_config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console, &[ANTHROPIC, ANTHROPIC_VIA_OPENAI], &[ANTHROPIC]).await;
    create_channel(
        &console,
        channel(14, "claude", &claude.base_url(), ANTHROPIC),
    )
    .await;
    create_channel(
        &console,
        channel(1, "openai", &openai.base_url(), ANTHROPIC_VIA_OPENAI),
    )
    .await;
    let (_, key) = create_key(&console, "claude-key", 10_000_000, true).await;
    wait_until_routable(&pylon, &key, ANTHROPIC).await;
    wait_until_routable(&pylon, &key, ANTHROPIC_VIA_OPENAI).await;
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;
    let headers = [
        ("x-api-key", key.as_str()),
        ("anthropic-version", "2023-06-01"),
    ];
    let message = |model: &str, stream: bool| {
        json!({"model": model, "max_tokens": 64, "stream": stream,
               "messages": [{"role": "user", "content": "Hello"}]})
        .to_string()
    };

    // Passed on to an Anthropic channel: the same body, the channel's key, the client's version.
    let sent = message(ANTHROPIC, false);
    let (status, _, body) = post(&pylon, "/v1/messages", &headers, sent.clone()).await;
    assert_eq!(status, 200, "{body}");
    let answer = json_of(&body);
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["usage"]["cache_read_input_tokens"], CACHED);
    let seen = last(&claude);
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("authorization"), None, "no Bearer to Anthropic");
    assert_eq!(seen.json, Some(json_of(&sent)), "passed on untouched");

    let (status, content_type, text) =
        post(&pylon, "/v1/messages", &headers, message(ANTHROPIC, true)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert!(text.contains("event: message_start"), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");

    // Converted for an OpenAI channel: chat completions out, Anthropic's shapes back.
    let (status, _, body) = post(
        &pylon,
        "/v1/messages",
        &headers,
        message(ANTHROPIC_VIA_OPENAI, false),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer = json_of(&body);
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["model"], ANTHROPIC_VIA_OPENAI);
    assert_eq!(answer["content"][0]["type"], "text");
    assert!(
        !answer["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .is_empty()
    );
    assert_eq!(answer["usage"]["input_tokens"], PROMPT);
    assert_eq!(answer["usage"]["output_tokens"], COMPLETION);
    let seen = last(&openai);
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    let upstream_body = seen.json.expect("JSON body");
    assert_eq!(upstream_body["messages"][0]["content"], "Hello");
    assert_eq!(upstream_body["max_tokens"], 64);

    let (status, content_type, text) = post(
        &pylon,
        "/v1/messages",
        &headers,
        message(ANTHROPIC_VIA_OPENAI, true),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains("content_block_delta"), "{text}");
    assert!(
        text.trim_end()
            .ends_with("data: {\"type\":\"message_stop\"}"),
        "{text}"
    );
    assert!(!text.contains("chat.completion"), "{text}");
    let upstream_body = last(&openai).json.expect("JSON body");
    assert_eq!(upstream_body["stream"], true);
    assert_eq!(upstream_body["stream_options"]["include_usage"], true);

    // Bad input, in Anthropic's error shape, costs nothing and reaches no upstream.
    let calls = claude.request_count() + openai.request_count();
    let (status, _, body) = post(&pylon, "/v1/messages", &headers, "{".into()).await;
    assert_eq!(status, 400, "{body}");
    let error = json_of(&body);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let (status, _, body) = post(
        &pylon,
        "/v1/messages",
        &[
            ("x-api-key", "sk-wrong"),
            ("anthropic-version", "2023-06-01"),
        ],
        message(ANTHROPIC, false),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(json_of(&body)["error"]["type"], "authentication_error");
    let (status, _, body) = post(&pylon, "/v1/messages", &headers, message("nope", false)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json_of(&body)["error"]["type"], "not_found_error");
    assert_eq!(claude.request_count() + openai.request_count(), calls);

    // The model list in Anthropic's shape for an Anthropic client.
    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", pylon.base_url))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .expect("relay")
        .json()
        .await
        .expect("json");
    assert!(list["has_more"] == false, "{list}");
    assert!(
        list["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|m| m["type"] == "model"))
    );

    billed_exactly(&pylon, before, 4, |model| {
        if model == ANTHROPIC { CACHE_RATIO } else { 1.0 }
    })
    .await;
}
on_every_backend!(anthropic_clients);

const GEMINI: &str = "gemini-test";
const GEMINI_VIA_OPENAI: &str = "gemini-on-openai";

async fn gemini_clients(backend: Backend) {
    let gemini = MockUpstream::start(mock_config()).await.expect("mock");
    let openai = MockUpstream::start(mock_config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console, &[GEMINI, GEMINI_VIA_OPENAI], &[]).await;
    create_channel(&console, channel(24, "gemini", &gemini.base_url(), GEMINI)).await;
    create_channel(
        &console,
        channel(1, "openai", &openai.base_url(), GEMINI_VIA_OPENAI),
    )
    .await;
    let (_, key) = create_key(&console, "gemini-key", 10_000_000, true).await;
    wait_until_routable(&pylon, &key, GEMINI).await;
    wait_until_routable(&pylon, &key, GEMINI_VIA_OPENAI).await;
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;
    let headers = [("x-goog-api-key", key.as_str())];
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
                         "generationConfig": {"maxOutputTokens": 64}})
    .to_string();

    // Passed on to a Gemini channel, key in the header.
    let (status, _, body) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI}:generateContent"),
        &headers,
        request.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(json_of(&body)["candidates"][0]["content"]["parts"][0]["text"].is_string());
    let seen = last(&gemini);
    assert_eq!(
        seen.path,
        format!("/v1beta/models/{GEMINI}:generateContent")
    );
    assert_eq!(seen.header("x-goog-api-key"), Some(UPSTREAM_KEY));
    assert_eq!(seen.json, Some(json_of(&request)));

    // Streamed, key in the query (never sent upstream), SSE asked for.
    let (status, content_type, text) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse&key={key}"),
        &[],
        request.clone(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert!(text.contains("\"finishReason\":\"STOP\""), "{text}");
    let seen = last(&gemini);
    assert!(
        !seen.path.contains(&key) && !seen.query.as_deref().unwrap_or("").contains(&key),
        "key not passed"
    );
    assert_eq!(seen.header("x-goog-api-key"), Some(UPSTREAM_KEY));

    // Converted for an OpenAI channel, complete and as a streamed JSON array.
    let (status, _, body) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI_VIA_OPENAI}:generateContent"),
        &headers,
        request.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer = json_of(&body);
    assert!(
        answer["candidates"][0]["content"]["parts"][0]["text"].is_string(),
        "{answer}"
    );
    assert_eq!(answer["usageMetadata"]["promptTokenCount"], PROMPT);
    assert_eq!(answer["usageMetadata"]["candidatesTokenCount"], COMPLETION);
    let seen = last(&openai);
    assert_eq!(seen.path, "/v1/chat/completions");
    let sent = seen.json.expect("JSON body");
    assert_eq!(sent["model"], GEMINI_VIA_OPENAI);
    assert_eq!(sent["messages"][0]["content"], "Hello");

    let (status, _, text) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI_VIA_OPENAI}:streamGenerateContent"),
        &headers,
        request.clone(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let chunks = json_of(&text);
    let chunks = chunks.as_array().expect("a JSON array of chunks");
    assert!(chunks.len() >= 2, "{text}");
    assert!(
        chunks
            .iter()
            .any(|c| c["candidates"][0]["finishReason"] == "STOP"),
        "{text}"
    );
    assert_eq!(last(&openai).json.expect("JSON")["stream"], true);

    // Bad input in Gemini's error shape, free, and an unknown model in the path.
    let calls = gemini.request_count() + openai.request_count();
    let (status, _, body) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI}:generateContent"),
        &headers,
        "{".into(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = json_of(&body);
    assert_eq!(error["error"]["code"], 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    let (status, _, body) = post(
        &pylon,
        "/v1beta/models/unknown-model:generateContent",
        &headers,
        request.clone(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(json_of(&body)["error"]["status"], "NOT_FOUND");
    let (status, _, body) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI}:generateContent"),
        &[("x-goog-api-key", "sk-wrong")],
        request.clone(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(json_of(&body)["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(gemini.request_count() + openai.request_count(), calls);

    // Gemini's model list.
    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1beta/models?key={key}", pylon.base_url))
        .send()
        .await
        .expect("relay")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = list["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(names.contains(&"models/gemini-test"), "{list}");

    billed_exactly(&pylon, before, 4, |_| 1.0).await;
}
on_every_backend!(gemini_clients);

const CLAUDE_FOR_OPENAI: &str = "claude-for-openai";
const GEMINI_FOR_OPENAI: &str = "gemini-for-openai";
const CUT: &str = "claude-cut";

async fn openai_clients_on_other_channels(backend: Backend) {
    let claude = MockUpstream::start(mock_config()).await.expect("mock");
    let gemini = MockUpstream::start(mock_config()).await.expect("mock");
    let cut = MockUpstream::start(MockConfig {
        chunks: 6,
        abort_after_chunks: Some(2),
        ..mock_config()
    })
    .await
    .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console, &[CLAUDE_FOR_OPENAI, GEMINI_FOR_OPENAI, CUT], &[]).await;
    create_channel(
        &console,
        channel(14, "claude", &claude.base_url(), CLAUDE_FOR_OPENAI),
    )
    .await;
    create_channel(
        &console,
        channel(24, "gemini", &gemini.base_url(), GEMINI_FOR_OPENAI),
    )
    .await;
    create_channel(&console, channel(14, "cut", &cut.base_url(), CUT)).await;
    let (_, key) = create_key(&console, "openai-key", 10_000_000, true).await;
    for model in [CLAUDE_FOR_OPENAI, GEMINI_FOR_OPENAI, CUT] {
        wait_until_routable(&pylon, &key, model).await;
    }
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;
    let bearer = format!("Bearer {key}");
    let headers = [("authorization", bearer.as_str())];
    let chat = |model: &str, stream: bool| {
        json!({"model": model, "stream": stream, "max_tokens": 64,
               "messages": [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Hello"}]})
        .to_string()
    };

    for (model, mock) in [(CLAUDE_FOR_OPENAI, &claude), (GEMINI_FOR_OPENAI, &gemini)] {
        let (status, _, body) =
            post(&pylon, "/v1/chat/completions", &headers, chat(model, false)).await;
        assert_eq!(status, 200, "{model}: {body}");
        let answer = json_of(&body);
        assert_eq!(answer["object"], "chat.completion");
        assert_eq!(answer["model"], model);
        assert!(
            answer["choices"][0]["message"]["content"].is_string(),
            "{answer}"
        );
        assert_eq!(answer["usage"]["prompt_tokens"], PROMPT);
        assert_eq!(answer["usage"]["completion_tokens"], COMPLETION);

        let (status, content_type, text) =
            post(&pylon, "/v1/chat/completions", &headers, chat(model, true)).await;
        assert_eq!(status, 200, "{model}: {text}");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        assert!(text.contains("chat.completion.chunk"), "{text}");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
        assert!(
            !text.contains("\"usage\":{"),
            "no usage chunk unasked: {text}"
        );
        let seen = last(mock);
        assert!(
            seen.header("authorization").is_none(),
            "{model}: no Bearer upstream"
        );
        let sent = seen.json.clone().expect("JSON body");
        if model == CLAUDE_FOR_OPENAI {
            assert_eq!(seen.path, "/v1/messages");
            assert_eq!(seen.header("x-api-key"), Some(UPSTREAM_KEY));
            assert!(seen.header("anthropic-version").is_some());
            assert_eq!(sent["system"][0]["text"], "Be brief.", "{sent}");
            assert_eq!(sent["max_tokens"], 64);
            assert_eq!(sent["stream"], true);
        } else {
            assert_eq!(
                seen.path,
                format!("/v1beta/models/{GEMINI_FOR_OPENAI}:streamGenerateContent")
            );
            assert_eq!(seen.query.as_deref(), Some("alt=sse"));
            assert_eq!(seen.header("x-goog-api-key"), Some(UPSTREAM_KEY));
            assert_eq!(sent["generationConfig"]["maxOutputTokens"], 64, "{sent}");
        }
    }

    // Bad input in OpenAI's shape, free.
    let calls = claude.request_count() + gemini.request_count();
    let (status, _, body) = post(
        &pylon,
        "/v1/chat/completions",
        &headers,
        json!({"model": CLAUDE_FOR_OPENAI, "messages": "not a list"}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(json_of(&body)["error"]["type"], "invalid_request_error");
    assert_eq!(claude.request_count() + gemini.request_count(), calls);

    // A stream cut mid-way: still ends in OpenAI's format, billed for what was delivered.
    let (status, _, text) = post(&pylon, "/v1/chat/completions", &headers, chat(CUT, true)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = 'claude-cut'",
        1,
    )
    .await;
    let cut_row = sqlx::query(
        "SELECT prompt_tokens, content FROM logs WHERE type = 2 AND model_name = 'claude-cut'",
    )
    .fetch_one(&db)
    .await
    .expect("cut log");
    assert_eq!(
        cut_row.get::<i64, _>(0),
        i64::try_from(PROMPT).expect("small")
    );
    assert!(cut_row.get::<String, _>(1).contains("early"));

    billed_exactly(&pylon, before, 5, |_| 1.0).await;
}
on_every_backend!(openai_clients_on_other_channels);

const MIXED: &str = "claude-mixed";
const AZURE: &str = "gpt-4.1-azure";
const REFUSED: &str = "claude-refused";

/// Routing across types: a model served by a failing Anthropic channel and an OpenAI one fails
/// over; an Azure channel gets its deployment path, `api-version` and `api-key`; an upstream's
/// own refusal reaches an Anthropic client in Anthropic's shape, free; counting tokens is free;
/// a small balance lowers the limit of a converted request, and a balance too small is refused
/// in each client's format.
async fn routing_across_types(backend: Backend) {
    let mock = MockUpstream::start(mock_config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console, &[MIXED, AZURE, REFUSED, ANTHROPIC], &[]).await;
    let with_headers = |mut channel: Value, priority: i64, headers: Value| {
        channel["priority"] = json!(priority);
        channel["header_override"] = json!(headers.to_string());
        channel
    };
    create_channel(
        &console,
        with_headers(
            channel(14, "claude-down", &mock.base_url(), MIXED),
            10,
            json!({"x-mock-status": "500"}),
        ),
    )
    .await;
    create_channel(&console, channel(1, "openai-up", &mock.base_url(), MIXED)).await;
    let mut azure = channel(3, "azure", &mock.base_url(), AZURE);
    azure["other"] = json!("2024-10-21");
    create_channel(&console, azure).await;
    create_channel(
        &console,
        with_headers(
            channel(1, "refusing", &mock.base_url(), REFUSED),
            0,
            json!({"x-mock-status": "400"}),
        ),
    )
    .await;
    create_channel(&console, channel(14, "claude", &mock.base_url(), ANTHROPIC)).await;
    let (_, key) = create_key(&console, "mixed-key", 10_000_000, true).await;
    for model in [MIXED, AZURE, REFUSED, ANTHROPIC] {
        wait_until_routable(&pylon, &key, model).await;
    }
    let db = database(&pylon).await;
    let anthropic = [
        ("x-api-key", key.as_str()),
        ("anthropic-version", "2023-06-01"),
    ];
    let message = |model: &str, max_tokens: u64| {
        json!({"model": model, "max_tokens": max_tokens,
               "messages": [{"role": "user", "content": "Hello"}]})
        .to_string()
    };

    // Fail-over from the Anthropic channel to the OpenAI one, answered in Anthropic's shape.
    let (status, _, body) = post(&pylon, "/v1/messages", &anthropic, message(MIXED, 64)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["type"], "message");
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/v1/messages", "/v1/chat/completions"],
        "tried in turn"
    );

    // Azure: deployment in the path (dots dropped), api-version, api-key and no Bearer.
    let bearer = format!("Bearer {key}");
    let (status, _, body) = post(
        &pylon,
        "/v1/chat/completions",
        &[("authorization", bearer.as_str())],
        json!({"model": AZURE, "messages": [{"role": "user", "content": "Hello"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let seen = last(&mock);
    assert_eq!(
        seen.path,
        "/openai/deployments/gpt-41-azure/chat/completions"
    );
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(seen.header("api-key"), Some(UPSTREAM_KEY));
    assert_eq!(seen.header("authorization"), None);

    // The upstream refuses a converted request: Anthropic's error shape, nothing charged.
    let (status, _, body) = post(&pylon, "/v1/messages", &anthropic, message(REFUSED, 64)).await;
    assert_eq!(status, 400, "{body}");
    let error = json_of(&body);
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");

    // Counting tokens is passed on and free.
    let (status, _, body) = post(
        &pylon,
        "/v1/messages/count_tokens",
        &anthropic,
        json!({"model": ANTHROPIC, "messages": [{"role": "user", "content": "Hello"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["input_tokens"], PROMPT);
    assert_eq!(last(&mock).path, "/v1/messages/count_tokens");
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 3).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND model_name = 'claude-test' AND quota = 0"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM logs WHERE model_name = 'claude-refused'"
        )
        .await,
        0
    );

    // A key worth the prompt and 20 completion tokens: the converted request asks for 20.
    let body = message(MIXED, 4096);
    let prompt = i64::try_from(body.len().div_ceil(3)).expect("len");
    let (_, small) = create_key(
        &console,
        "small-key",
        ((prompt as f64 + 40.0) * 1.5).round() as i64,
        false,
    )
    .await;
    wait_until_routable(&pylon, &small, MIXED).await;
    let small_anthropic = [
        ("x-api-key", small.as_str()),
        ("anthropic-version", "2023-06-01"),
    ];
    let (status, _, answer) = post(&pylon, "/v1/messages", &small_anthropic, body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = last(&mock).json.expect("JSON body");
    assert_eq!(
        sent["max_tokens"], 20,
        "the lowered limit, converted: {sent}"
    );
    let (status, _, answer) = post(
        &pylon,
        "/v1/messages",
        &small_anthropic,
        message(MIXED, 4096),
    )
    .await;
    assert_eq!(status, 402, "{answer}");
    assert_eq!(json_of(&answer)["error"]["type"], "billing_error");
    let (status, _, answer) = post(
        &pylon,
        &format!("/v1beta/models/{MIXED}:generateContent?key={small}"),
        &[],
        json!({"contents": [{"parts": [{"text": "Hello"}]}]}).to_string(),
    )
    .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(json_of(&answer)["error"]["status"], "RESOURCE_EXHAUSTED");
}
on_every_backend!(routing_across_types);

const GEMINI_IMAGE: &str = "gemini-test-image";
/// `ImageRatio` of the image model: an image output token costs 30 prompt tokens.
const IMAGE_RATIO: f64 = 30.0;

/// Gemini image models: the IMAGE output tokens Gemini lists in `candidatesTokensDetails` are
/// billed at the model's `ImageRatio`, the text tokens at its completion ratio, as new-api
/// bills them; passed on (complete and streamed) and converted for an OpenAI client alike.
async fn gemini_image_models(backend: Backend) {
    let gemini = MockUpstream::start(mock_config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    priced(&console, &[GEMINI_IMAGE], &[]).await;
    set_option(
        &console,
        "ImageRatio",
        &json!({ GEMINI_IMAGE: IMAGE_RATIO }).to_string(),
    )
    .await;
    create_channel(
        &console,
        channel(24, "gemini-image", &gemini.base_url(), GEMINI_IMAGE),
    )
    .await;
    let (_, key) = create_key(&console, "image-key", 100_000_000, true).await;
    wait_until_routable(&pylon, &key, GEMINI_IMAGE).await;
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;
    let headers = [("x-goog-api-key", key.as_str())];
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "Draw a cat"}]}],
                         "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}})
    .to_string();

    let (status, _, body) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI_IMAGE}:generateContent"),
        &headers,
        request.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let parts = &json_of(&body)["candidates"][0]["content"]["parts"];
    assert_eq!(parts[1]["inlineData"]["mimeType"], "image/png", "{body}");
    let (status, _, text) = post(
        &pylon,
        &format!("/v1beta/models/{GEMINI_IMAGE}:streamGenerateContent?alt=sse"),
        &headers,
        request,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("inlineData"), "{text}");
    let bearer = format!("Bearer {key}");
    let (status, _, body) = post(
        &pylon,
        "/v1/chat/completions",
        &[("authorization", bearer.as_str())],
        json!({"model": GEMINI_IMAGE, "messages": [{"role": "user", "content": "Draw a cat"}]})
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 3).await;
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT prompt_tokens, completion_tokens, quota FROM logs WHERE type = 2 ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    let image = pylon_benches::mock::GEMINI_IMAGE_TOKENS;
    let text_tokens = i64::try_from(COMPLETION).expect("small");
    // (prompt + text * completion ratio 2 + image * ImageRatio) * model ratio 1.5
    let expected = ((i64::try_from(PROMPT).expect("small") as f64
        + text_tokens as f64 * 2.0
        + image as f64 * IMAGE_RATIO)
        * 1.5)
        .round() as i64;
    for (prompt, completion, quota) in &rows {
        assert_eq!(*prompt, i64::try_from(PROMPT).expect("small"));
        assert_eq!(*completion, text_tokens + image, "the image is output");
        assert_eq!(*quota, expected, "image tokens at the image ratio");
    }
    let spent: i64 = rows.iter().map(|(_, _, quota)| quota).sum();
    eventually_equals(&db, "SELECT quota FROM users WHERE id = 1", before - spent).await;
}
on_every_backend!(gemini_image_models);
