//! Prompt-cache billing across formats: upstreams answer with recorded payloads that report
//! cache reads and cache writes (Anthropic's `cache_creation_input_tokens` and
//! `cache_read_input_tokens`, OpenAI's `prompt_tokens_details.cached_tokens`, Gemini's
//! `cachedContentTokenCount`), streamed and not, passed through and converted. Each answer is
//! priced as new-api prices it: fresh prompt tokens at the model ratio, reads at `CacheRatio`,
//! writes at `CreateCacheRatio`; the log row's `other` shows the counts and ratios, and the
//! balance falls by exactly the logged cost. On SQLite and on MySQL + Redis.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use sqlx::Row;

const CLAUDE: &str = "claude-cache";
const GPT: &str = "gpt-cache";
const GEMINI: &str = "gemini-cache";

/// What one model's upstream reports, in Pylon's terms (prompt counts every input token).
struct Reported {
    model: &'static str,
    prompt: i64,
    cached: i64,
    created: i64,
    completion: i64,
    cache_ratio: f64,
    create_cache_ratio: f64,
}

const MODEL_RATIO: f64 = 1.5;
const COMPLETION_RATIO: f64 = 2.0;

/// Anthropic: 20 fresh + 400 read + 300 written.
const CLAUDE_USAGE: Reported = Reported {
    model: CLAUDE,
    prompt: 720,
    cached: 400,
    created: 300,
    completion: 6,
    cache_ratio: 0.1,
    create_cache_ratio: 2.0,
};
/// OpenAI: 1100 prompt of which 1024 cached.
const GPT_USAGE: Reported = Reported {
    model: GPT,
    prompt: 1100,
    cached: 1024,
    created: 0,
    completion: 6,
    cache_ratio: 0.5,
    create_cache_ratio: 1.25,
};
/// Gemini: 2100 prompt of which 2048 from the cached content.
const GEMINI_USAGE: Reported = Reported {
    model: GEMINI,
    prompt: 2100,
    cached: 2048,
    created: 0,
    completion: 6,
    cache_ratio: 0.25,
    create_cache_ratio: 1.25,
};

impl Reported {
    /// new-api's charge: `(fresh + read * CacheRatio + written * CreateCacheRatio + completion
    /// * CompletionRatio) * ModelRatio`, rounded half away from zero.
    fn quota(&self) -> i64 {
        let fresh = (self.prompt - self.cached - self.created) as f64;
        ((fresh
            + self.cached as f64 * self.cache_ratio
            + self.created as f64 * self.create_cache_ratio
            + self.completion as f64 * COMPLETION_RATIO)
            * MODEL_RATIO)
            .round() as i64
    }
}

/// A recorded Anthropic answer (2025 API, cache write split by lifetime), streamed or not.
fn anthropic(stream: bool) -> Canned {
    let usage = json!({"input_tokens": 20, "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 400,
        "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 6, "service_tier": "standard"});
    let message = |content: Value, stop: Value, usage: Value| {
        json!({"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": content, "stop_reason": stop,
            "stop_sequence": null, "usage": usage})
    };
    if !stream {
        return Canned::json(&message(
            json!([{"type": "text", "text": "Hello! How can I help?"}]),
            json!("end_turn"),
            usage,
        ));
    }
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let delta = |text: &str| {
        json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": text}})
    };
    Canned::sse([
        (
            Some("message_start"),
            json!({"type": "message_start", "message": message(json!([]), Value::Null, start_usage)}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
        ),
        (Some("ping"), json!({"type": "ping"})),
        (Some("content_block_delta"), delta("Hello!")),
        (Some("content_block_delta"), delta(" How can I help?")),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"output_tokens": 6}}),
        ),
        (Some("message_stop"), json!({"type": "message_stop"})),
    ])
}

/// A recorded OpenAI chat completion with an automatic prompt-cache hit.
fn openai(stream: bool) -> Canned {
    let usage = json!({"prompt_tokens": 1100, "completion_tokens": 6, "total_tokens": 1106,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}});
    let head = |object: &str| {
        json!({"id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "object": object,
            "created": 1_741_570_283, "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_f9f4fb6dbf"})
    };
    if !stream {
        let mut body = head("chat.completion");
        body["choices"] = json!([{"index": 0, "message": {"role": "assistant",
            "content": "Hello! How can I help?", "refusal": null},
            "logprobs": null, "finish_reason": "stop"}]);
        body["usage"] = usage;
        return Canned::json(&body);
    }
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = head("chat.completion.chunk");
        chunk["choices"] =
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        chunk
    };
    let mut usage_chunk = head("chat.completion.chunk");
    usage_chunk["choices"] = json!([]);
    usage_chunk["usage"] = usage;
    Canned::sse_done([
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hello!"}), Value::Null),
        chunk(json!({"content": " How can I help?"}), Value::Null),
        chunk(json!({}), json!("stop")),
        usage_chunk,
    ])
}

/// A recorded Gemini answer that used cached content.
fn gemini(stream: bool) -> Canned {
    let usage = json!({"promptTokenCount": 2100, "candidatesTokenCount": 6,
        "totalTokenCount": 2106, "cachedContentTokenCount": 2048,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2100}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2048}]});
    let part = |text: &str, finish: Option<&str>| {
        let mut candidate = json!({"content": {"parts": [{"text": text}], "role": "model"},
            "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        json!({"candidates": [candidate], "modelVersion": "gemini-2.5-flash",
            "responseId": "mK1NaOu5BqGlqtsPpe2p6Qk"})
    };
    if !stream {
        let mut body = part("Hello! How can I help?", Some("STOP"));
        body["usageMetadata"] = usage;
        return Canned::json(&body);
    }
    let mut first = part("Hello!", None);
    first["usageMetadata"] = json!({"promptTokenCount": 2100, "candidatesTokenCount": 2,
        "totalTokenCount": 2102, "cachedContentTokenCount": 2048});
    let mut last = part(" How can I help?", Some("STOP"));
    last["usageMetadata"] = usage;
    Canned::sse([(None, first), (None, last)])
}

fn channel(kind: i64, name: &str, base_url: &str, model: &str) -> Value {
    json!({"type": kind, "name": name, "key": "upstream-key", "base_url": base_url,
        "models": model, "group": "default", "priority": 0, "weight": 0})
}

async fn post(pylon: &Pylon, path: &str, headers: &[(&str, &str)], body: &Value) -> String {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", pylon.base_url))
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.expect("relay reachable");
    let status = answer.status().as_u16();
    let text = answer.text().await.expect("body");
    assert_eq!(status, 200, "{path}: {text}");
    text
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The usage object of the last OpenAI chunk that has one.
fn streamed_openai_usage(text: &str) -> Value {
    text.lines()
        .rev()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .find_map(|chunk| chunk.get("usage").filter(|u| !u.is_null()).cloned())
        .unwrap_or_else(|| panic!("no usage in the stream: {text}"))
}

async fn cache_tokens_are_billed(backend: Backend) {
    let claude = CannedUpstream::start(|_, stream| anthropic(stream)).await;
    let gpt = CannedUpstream::start(|_, stream| openai(stream)).await;
    let google = CannedUpstream::start(|_, stream| gemini(stream)).await;
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let all = [&CLAUDE_USAGE, &GPT_USAGE, &GEMINI_USAGE];
    let by_model = |f: &dyn Fn(&Reported) -> Value| -> String {
        Value::Object(all.iter().map(|r| (r.model.to_string(), f(r))).collect()).to_string()
    };
    set_option(&console, "ModelRatio", &by_model(&|_| json!(MODEL_RATIO))).await;
    set_option(
        &console,
        "CompletionRatio",
        &by_model(&|_| json!(COMPLETION_RATIO)),
    )
    .await;
    set_option(&console, "CacheRatio", &by_model(&|r| json!(r.cache_ratio))).await;
    // Only Claude's write ratio is set; the others would fall back to new-api's 1.25.
    set_option(
        &console,
        "CreateCacheRatio",
        &json!({CLAUDE: CLAUDE_USAGE.create_cache_ratio}).to_string(),
    )
    .await;
    create_channel(&console, channel(14, "claude", &claude.base_url, CLAUDE)).await;
    create_channel(&console, channel(1, "openai", &gpt.base_url, GPT)).await;
    create_channel(&console, channel(24, "gemini", &google.base_url, GEMINI)).await;
    let (_, key) = create_key(&console, "cache-key", 10_000_000, true).await;
    for model in [CLAUDE, GPT, GEMINI] {
        wait_until_routable(&pylon, &key, model).await;
    }
    let db = database(&pylon).await;
    let before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;
    let anthropic_client = [
        ("x-api-key", key.as_str()),
        ("anthropic-version", "2023-06-01"),
    ];
    let bearer = format!("Bearer {key}");
    let openai_client = [("authorization", bearer.as_str())];
    let gemini_client = [("x-goog-api-key", key.as_str())];
    let message = |model: &str, stream: bool| {
        json!({"model": model, "max_tokens": 64, "stream": stream,
            "system": [{"type": "text", "text": "A long, cached system prompt.",
                "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hello"}]})
    };
    let chat = |model: &str, stream: bool| {
        let mut body = json!({"model": model, "stream": stream, "max_tokens": 64,
            "messages": [{"role": "user", "content": "Hello"}]});
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    };
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]});
    let mut rows = 0;

    for stream in [false, true] {
        // Anthropic client, Anthropic channel: passed through, the cache counts as sent.
        let text = post(
            &pylon,
            "/v1/messages",
            &anthropic_client,
            &message(CLAUDE, stream),
        )
        .await;
        assert!(
            text.contains("\"cache_creation_input_tokens\":300"),
            "{text}"
        );
        assert_eq!(
            claude.last().json.expect("JSON")["system"][0]["cache_control"]["type"],
            "ephemeral",
            "cache_control reaches Anthropic"
        );

        // OpenAI client, Anthropic channel: the converted usage carries reads and writes.
        let text = post(
            &pylon,
            "/v1/chat/completions",
            &openai_client,
            &chat(CLAUDE, stream),
        )
        .await;
        let usage = if stream {
            streamed_openai_usage(&text)
        } else {
            json_of(&text)["usage"].clone()
        };
        assert_eq!(usage["prompt_tokens"], 720, "{text}");
        assert_eq!(
            usage["prompt_tokens_details"]["cached_tokens"], 400,
            "{text}"
        );
        assert_eq!(
            usage["prompt_tokens_details"]["cached_creation_tokens"], 300,
            "{text}"
        );

        // Anthropic client, OpenAI channel: cached prompt tokens in Anthropic's terms.
        let text = post(
            &pylon,
            "/v1/messages",
            &anthropic_client,
            &message(GPT, stream),
        )
        .await;
        assert!(text.contains("\"cache_read_input_tokens\":1024"), "{text}");
        assert!(text.contains("\"input_tokens\":76"), "{text}");

        // Gemini client, Gemini channel (passed through) and OpenAI client, Gemini channel.
        let action = if stream {
            "streamGenerateContent?alt=sse"
        } else {
            "generateContent"
        };
        let path = format!("/v1beta/models/{GEMINI}:{action}");
        let text = post(&pylon, &path, &gemini_client, &contents).await;
        assert!(text.contains("\"cachedContentTokenCount\":2048"), "{text}");
        let text = post(
            &pylon,
            "/v1/chat/completions",
            &openai_client,
            &chat(GEMINI, stream),
        )
        .await;
        let usage = if stream {
            streamed_openai_usage(&text)
        } else {
            json_of(&text)["usage"].clone()
        };
        assert_eq!(
            usage["prompt_tokens_details"]["cached_tokens"], 2048,
            "{text}"
        );
        rows += 5;
    }

    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", rows).await;
    let logged = sqlx::query(
        "SELECT model_name, prompt_tokens, completion_tokens, cached_tokens, quota, \
         is_estimated, other, is_stream FROM logs WHERE type = 2 ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .expect("logs");
    let mut sum = 0;
    for row in &logged {
        let model: String = row.get(0);
        let reported = all
            .iter()
            .find(|r| r.model == model)
            .unwrap_or_else(|| panic!("unexpected model {model}"));
        let (prompt, completion, cached, quota, estimated): (i64, i64, i64, i64, i64) =
            (row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        let other = json_of(&row.get::<String, _>(6));
        let what = format!("{model} (stream {}): {other}", row.get::<i64, _>(7));
        assert_eq!(estimated, 0, "{what}");
        assert_eq!(
            (prompt, completion, cached),
            (reported.prompt, reported.completion, reported.cached),
            "{what}"
        );
        assert_eq!(quota, reported.quota(), "{what}");
        assert_eq!(other["cache_tokens"], reported.cached, "{what}");
        assert_eq!(other["cache_ratio"], reported.cache_ratio, "{what}");
        if reported.created > 0 {
            assert_eq!(other["cache_creation_tokens"], reported.created, "{what}");
            assert_eq!(
                other["cache_creation_ratio"], reported.create_cache_ratio,
                "{what}"
            );
        } else {
            assert!(other.get("cache_creation_tokens").is_none(), "{what}");
        }
        sum += quota;
    }
    // Claude's: (20 + 400 * 0.1 + 300 * 2 + 6 * 2) * 1.5 = 1008.
    assert_eq!(CLAUDE_USAGE.quota(), 1008);
    eventually_equals(&db, "SELECT quota FROM users WHERE id = 1", before - sum).await;
}
on_every_backend!(cache_tokens_are_billed);
