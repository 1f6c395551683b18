//! Micro-benchmarks of the relay's per-request work, on the proxy's own code
//! (`pylon_proxy::relay`, `pylon_shared`): key lookup and authentication against a snapshot of
//! 100k keys, channel selection over 50 channels in 3 tiers, price computation, the SSE usage
//! scan of a 200-chunk stream, request body parsing and rewriting, and the formats layer: the
//! ingress recognition every request now pays, and the cost of converting an Anthropic request
//! for an OpenAI channel (request, complete answer, and a 200-chunk stream transcoded).
//!
//! Run: `cargo bench -p pylon-benches --bench hot_path` (add `-- --quick` for a fast pass).
#![expect(
    clippy::expect_used,
    reason = "benchmark setup: a fixture that cannot be built must stop the run"
)]

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use pingora::http::RequestHeader;
use pylon_proxy::relay::auth::authenticate;
use pylon_proxy::relay::health::ChannelHealth;
use pylon_proxy::relay::request::{Endpoint, RelayRequest};
use pylon_proxy::relay::select::choose;
use pylon_proxy::relay::snapshot::{
    BillingPreference, KeyCacheSettings, RoutingTable, Snapshot, TOKEN_ENABLED, TokenEntry,
    UserEntry,
};
use pylon_shared::db::ChannelRow;
use pylon_shared::keys::lookup_hash;
use pylon_shared::pricing::{PriceTable, Usage};
use pylon_shared::roles::STATUS_ENABLED;
use pylon_shared::usage::{StreamFormat, StreamScanner};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

const KEYS: usize = 100_000;
const USERS: i64 = 10_000;
/// Distinct presented keys the auth benchmark cycles through, so it is not one hot cache line.
const PROBES: usize = 1024;
const MODEL: &str = "gpt-4o-mini";
const GROUP: &str = "default";
const NOW: i64 = 1_750_000_000;

fn key(i: usize) -> String {
    format!("sk-{i:08}Xq3vRkP9wLm2NtY7bZc4HdFg6JsA1eUo5iK8rT2w")
}

/// A snapshot whose key cache holds `KEYS` enabled keys of `USERS` users (all in use).
fn snapshot() -> Snapshot {
    let settings = KeyCacheSettings {
        capacity: 2 * KEYS,
        unknown_ttl: Duration::from_secs(1),
    };
    let snapshot = Snapshot::new(settings, None);
    let users: Vec<Arc<UserEntry>> = (1..=USERS)
        .map(|id| {
            Arc::new(UserEntry {
                id,
                username: format!("user{id}"),
                status: STATUS_ENABLED,
                group: GROUP.to_string(),
                billing: BillingPreference::SubscriptionFirst,
                subscriptions: Vec::new(),
            })
        })
        .collect();
    for i in 0..KEYS {
        let id = i64::try_from(i).expect("small") + 1;
        let user_id = id % USERS + 1;
        let user = Arc::clone(&users[usize::try_from(user_id - 1).expect("small")]);
        snapshot.keys.put(
            lookup_hash(&key(i)),
            Arc::new(TokenEntry {
                id,
                user_id,
                name: format!("key {i}"),
                status: TOKEN_ENABLED,
                expired_time: -1,
                unlimited: false,
                model_limits: None,
                allow_ips: Vec::new(),
                group: String::new(),
                rpm_limit: 0,
                tpm_limit: 0,
                model_rpm_limit: Default::default(),
                model_tpm_limit: Default::default(),
                user_channels: Vec::new(),
            }),
            user,
        );
    }
    snapshot
}

fn request_header(key: &str) -> RequestHeader {
    let mut header =
        RequestHeader::build("POST", b"/v1/chat/completions", None).expect("request header");
    header
        .insert_header("authorization", format!("Bearer {key}"))
        .expect("authorization header");
    header
        .insert_header("content-type", "application/json")
        .expect("content-type header");
    header
}

fn key_lookup(c: &mut Criterion) {
    let snapshot = snapshot();
    let probes: Vec<usize> = (0..PROBES).map(|i| i * (KEYS / PROBES) + 7).collect();
    let keys: Vec<String> = probes.iter().map(|&i| key(i)).collect();
    let hashes: Vec<String> = keys.iter().map(|k| lookup_hash(k)).collect();
    let headers: Vec<RequestHeader> = keys.iter().map(|k| request_header(k)).collect();
    let ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert!(
        headers
            .iter()
            .all(|h| block_on(authenticate(&snapshot, h, ip, NOW)).is_ok())
    );

    let mut group = c.benchmark_group("key");
    let mut n = 0usize;
    group.bench_function("lookup_hash", |b| {
        b.iter(|| {
            n = (n + 1) % PROBES;
            black_box(lookup_hash(black_box(&keys[n])))
        })
    });
    group.bench_function("snapshot_get_100k", |b| {
        b.iter(|| {
            n = (n + 1) % PROBES;
            black_box(block_on(snapshot.keys.token(black_box(&hashes[n]))).is_ok())
        })
    });
    group.bench_function("authenticate_100k", |b| {
        b.iter(|| {
            n = (n + 1) % PROBES;
            black_box(block_on(authenticate(&snapshot, black_box(&headers[n]), ip, NOW)).is_ok())
        })
    });
    let unknown = request_header("sk-not-a-key-of-anyone-at-all-0000000000000");
    group.bench_function("authenticate_unknown_key", |b| {
        b.iter(|| {
            black_box(block_on(authenticate(&snapshot, black_box(&unknown), ip, NOW)).is_err())
        })
    });
    group.finish();
}

fn channel_row(id: i64, priority: i64, weight: i64) -> ChannelRow {
    ChannelRow {
        id,
        r#type: 1,
        name: format!("channel {id}"),
        keys: format!("sk-upstream-{id}-a\nsk-upstream-{id}-b"),
        key_mode: "random".to_string(),
        status: 1,
        status_reason: String::new(),
        base_url: format!("http://127.0.0.1:{}", 9000 + id),
        models: format!("{MODEL},gpt-4o,claude-sonnet-4-5,gemini-2.5-flash"),
        group: format!("{GROUP},vip"),
        model_mapping: String::new(),
        header_override: String::new(),
        priority,
        weight,
        test_model: String::new(),
        openai_organization: String::new(),
        auto_ban: 1,
        tag: String::new(),
        other: String::new(),
        setting: String::new(),
        settings: String::new(),
        remark: String::new(),
        balance: 0.0,
        balance_updated_time: 0,
        response_time: 0,
        test_time: 0,
        used_quota: 0,
        created_time: 0,
        group_multipliers: String::new(),
    }
}

fn channel_selection(c: &mut Criterion) {
    // 50 channels: 5 in the top tier, 15 in the middle, 30 in the fallback tier.
    let rows: Vec<ChannelRow> = (1..=50)
        .map(|id| {
            let priority = match id {
                1..=5 => 10,
                6..=20 => 5,
                _ => 0,
            };
            channel_row(id, priority, id % 7 * 10)
        })
        .collect();
    let table = RoutingTable::build(&rows);
    let tiers = table.tiers(GROUP, MODEL);
    assert_eq!(tiers.len(), 3);
    let health = ChannelHealth::new(5, Duration::from_secs(60), Duration::from_secs(30));
    let top_tier: Vec<i64> = (1..=5).collect();

    let mut group = c.benchmark_group("select");
    group.bench_function("routing_table_lookup", |b| {
        b.iter(|| black_box(table.tiers(black_box(GROUP), black_box(MODEL)).len()))
    });
    group.bench_function("weighted_50_in_3_tiers", |b| {
        b.iter(|| black_box(choose(black_box(tiers), &[], &health, None)))
    });
    group.bench_function("sticky_50_in_3_tiers", |b| {
        b.iter(|| black_box(choose(black_box(tiers), &[], &health, Some("user-4242"))))
    });
    group.bench_function("failover_past_top_tier", |b| {
        b.iter(|| black_box(choose(black_box(tiers), &top_tier, &health, None)))
    });
    group.finish();
}

fn price_table() -> PriceTable {
    let mut model_ratio = serde_json::Map::new();
    let mut completion_ratio = serde_json::Map::new();
    for i in 0..200 {
        model_ratio.insert(
            format!("model-{i}"),
            serde_json::json!(0.5 + f64::from(i) / 100.0),
        );
        completion_ratio.insert(format!("model-{i}"), serde_json::json!(4));
    }
    model_ratio.insert(MODEL.to_string(), serde_json::json!(0.075));
    completion_ratio.insert(MODEL.to_string(), serde_json::json!(4));
    let model_ratio = serde_json::Value::Object(model_ratio).to_string();
    let completion_ratio = serde_json::Value::Object(completion_ratio).to_string();
    let options = [
        ("ModelRatio", model_ratio.as_str()),
        ("CompletionRatio", completion_ratio.as_str()),
        ("CacheRatio", r#"{"gpt-4o-mini": 0.5}"#),
        ("ModelPrice", r#"{"dall-e-3": 0.04}"#),
        ("GroupRatio", r#"{"default": 1, "vip": 0.8, "svip": 1.5}"#),
    ];
    let (table, problems) = PriceTable::from_options(options);
    assert!(problems.is_empty(), "{problems:?}");
    table
}

fn pricing(c: &mut Criterion) {
    let table = price_table();
    let usage = Usage {
        prompt_tokens: 1234,
        completion_tokens: 567,
        cached_tokens: 1000,
        cache_creation_tokens: 0,
        image_output_tokens: 0,
    };
    let price = table.price(MODEL, "vip").expect("priced model");
    let mut group = c.benchmark_group("price");
    group.bench_function("price_lookup", |b| {
        b.iter(|| black_box(table.price(black_box(MODEL), black_box("vip"))))
    });
    group.bench_function("quota", |b| {
        b.iter(|| black_box(black_box(&price).quota(black_box(&usage))))
    });
    group.bench_function("price_and_quota", |b| {
        b.iter(|| {
            black_box(
                table
                    .price(black_box(MODEL), black_box("vip"))
                    .map(|p| p.quota(black_box(&usage))),
            )
        })
    });
    group.finish();
}

/// A realistic chat stream as OpenAI sends it with `include_usage`: a role chunk, 200 content
/// chunks, a finish chunk, the usage-only chunk and `[DONE]`, one event per network read.
/// OpenAI puts `"usage":null` in every chunk then; some compatible upstreams leave it out
/// (`usage_null_everywhere` false), which shows what that key costs the scanner.
fn chat_stream(usage_null_everywhere: bool) -> Vec<Bytes> {
    let prefix = r#"{"id":"chatcmpl-BenchA1b2C3d4E5f6G7h8","object":"chat.completion.chunk","created":1750000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0123456789","choices":"#;
    let event = |choices: &str, usage: &str| match usage {
        "null" if !usage_null_everywhere => Bytes::from(format!("data: {prefix}{choices}}}\n\n")),
        _ => Bytes::from(format!("data: {prefix}{choices},\"usage\":{usage}}}\n\n")),
    };
    let words = [
        "The", " answer", " is", " forty", "-two", ",", " of", " course", ".",
    ];
    let mut events = vec![event(
        r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]"#,
        "null",
    )];
    for i in 0..200 {
        let word = words[i % words.len()];
        events.push(event(
            &format!(
                r#"[{{"index":0,"delta":{{"content":"{word}"}},"logprobs":null,"finish_reason":null}}]"#
            ),
            "null",
        ));
    }
    events.push(event(
        r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]"#,
        "null",
    ));
    events.push(event(
        "[]",
        r#"{"prompt_tokens":1234,"completion_tokens":200,"total_tokens":1434,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#,
    ));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

fn scan(events: &[Bytes], strip: bool) -> Option<Usage> {
    let mut scanner = StreamScanner::new(StreamFormat::OpenAiChat, strip);
    for event in events {
        black_box(scanner.feed(event.clone()));
    }
    black_box(scanner.finish());
    scanner.usage()
}

fn sse_scan(c: &mut Criterion) {
    let events = chat_stream(true);
    let lean = chat_stream(false);
    let bytes: usize = events.iter().map(Bytes::len).sum();
    assert_eq!(scan(&events, true).map(|u| u.completion_tokens), Some(200));
    assert_eq!(scan(&lean, true).map(|u| u.completion_tokens), Some(200));
    let mut group = c.benchmark_group("sse_scan_200_chunks");
    group.throughput(Throughput::Bytes(u64::try_from(bytes).expect("small")));
    group.bench_function("forward", |b| b.iter(|| scan(black_box(&events), false)));
    group.bench_function("strip_usage_chunk", |b| {
        b.iter(|| scan(black_box(&events), true))
    });
    let lean_bytes: usize = lean.iter().map(Bytes::len).sum();
    group.throughput(Throughput::Bytes(u64::try_from(lean_bytes).expect("small")));
    group.bench_function("strip_no_usage_null_per_chunk", |b| {
        b.iter(|| scan(black_box(&lean), true))
    });
    group.finish();
}

/// A chat body of exactly `size` bytes (at least the smallest one): a system prompt, turns of
/// code-like text (newlines, quotes and tabs, so the JSON has escapes as real agent prompts
/// do) and a last user message padded to the size.
fn chat_body(size: usize, stream: bool) -> Bytes {
    let render = |messages: &[serde_json::Value]| {
        serde_json::to_vec(&serde_json::json!({
            "model": MODEL,
            "stream": stream,
            "temperature": 0.2,
            "max_tokens": 1024,
            "messages": messages,
        }))
        .expect("body")
    };
    let turn = "fn main() {\n\tprintln!(\"hello, \\\"world\\\"\");\n}\n// explain this please\n";
    let message =
        |role: &str, content: String| serde_json::json!({"role": role, "content": content});
    let mut messages = vec![message("system", "You are a helpful assistant.".into())];
    let question = message("user", String::new());
    let question_len = serde_json::to_vec(&question).expect("message").len() + 1;
    // The body's length is the empty body's plus each message and a comma between two.
    let mut len = render(&messages).len() + question_len;
    for i in 0.. {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        let next = message(role, turn.repeat(64));
        let next_len = serde_json::to_vec(&next).expect("message").len() + 1;
        if len + next_len > size {
            break;
        }
        len += next_len;
        messages.push(next);
    }
    messages.push(message("user", "?".repeat(size.saturating_sub(len))));
    Bytes::from(render(&messages))
}

fn body_parse(c: &mut Criterion) {
    let content_type = || Some("application/json".to_string());
    let chat = || {
        pylon_shared::llm::recognise("POST", "/v1/chat/completions", |_| None)
            .expect("a relay path")
    };
    for (name, size) in [("200B", 200), ("1MiB", 1 << 20)] {
        let plain = chat_body(size, false);
        let streamed = chat_body(size, true);
        assert_eq!(plain.len(), size);
        let plain_request =
            RelayRequest::parse(chat(), Endpoint::ChatCompletions, plain.clone(), None)
                .expect("plain body parses");
        let request =
            RelayRequest::parse(chat(), Endpoint::ChatCompletions, streamed, content_type())
                .expect("streamed body parses");
        assert!(request.injects_usage() && !plain_request.injects_usage());
        let mut group = c.benchmark_group(format!("body_{name}"));
        // Costs nothing whatever the size (the body is shared, not copied): no throughput.
        group.bench_function("upstream_body_unchanged", |b| {
            b.iter(|| black_box(plain_request.upstream_body(black_box(MODEL), None)))
        });
        group.throughput(Throughput::Bytes(u64::try_from(size).expect("small")));
        group.bench_function("parse", |b| {
            b.iter_batched(
                || (chat(), plain.clone(), content_type()),
                |(ingress, body, ct)| {
                    black_box(RelayRequest::parse(
                        ingress,
                        Endpoint::ChatCompletions,
                        body,
                        ct,
                    ))
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("upstream_body_inject_usage", |b| {
            b.iter(|| black_box(request.upstream_body(black_box(MODEL), None)))
        });
        group.finish();
    }
}

/// An Anthropic Messages request of about 2 KB: a system prompt, three turns and a tool.
fn anthropic_request() -> Vec<u8> {
    let turn = "Explain, briefly, why the sky looks blue at noon and red at dusk. ".repeat(5);
    serde_json::json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": false,
        "system": "You are a concise assistant.",
        "messages": [
            {"role": "user", "content": turn},
            {"role": "assistant", "content": [{"type": "text", "text": turn}]},
            {"role": "user", "content": [{"type": "text", "text": turn}]},
        ],
        "tools": [{"name": "get_weather", "description": "Weather in a city.",
                   "input_schema": {"type": "object",
                                    "properties": {"city": {"type": "string"}},
                                    "required": ["city"]}}],
    })
    .to_string()
    .into_bytes()
}

fn formats(c: &mut Criterion) {
    use pylon_shared::llm::{self, ApiFormat, ChannelType, Transcoder};
    let mut group = c.benchmark_group("formats");
    group.bench_function("recognise_openai_chat", |b| {
        b.iter(|| {
            black_box(llm::recognise(
                "POST",
                black_box("/v1/chat/completions"),
                |_| None,
            ))
        })
    });
    group.bench_function("recognise_gemini_stream", |b| {
        b.iter(|| {
            black_box(llm::recognise(
                "POST",
                black_box("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
                |_| None,
            ))
        })
    });
    let ingress = llm::recognise("POST", "/v1/messages", |_| None).expect("a relay path");
    let body = anthropic_request();
    group.bench_function("anthropic_to_openai_request", |b| {
        b.iter(|| {
            black_box(llm::plan_request(
                &ingress,
                ChannelType::OpenAi,
                black_box(&body),
                "gpt-4o-mini",
            ))
        })
    });
    let plan =
        llm::plan_request(&ingress, ChannelType::OpenAi, &body, "gpt-4o-mini").expect("plan");
    let answer = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1750000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Rayleigh scattering: short wavelengths scatter more; at dusk light crosses more air, so reds remain."},"finish_reason":"stop"}],"usage":{"prompt_tokens":612,"completion_tokens":24,"total_tokens":636,"prompt_tokens_details":{"cached_tokens":512}}}"#;
    group.bench_function("openai_to_anthropic_answer", |b| {
        b.iter(|| black_box(plan.answer(&ingress, black_box(answer), "claude-sonnet-4-5")))
    });
    let events = chat_stream(false);
    let stream_ingress = llm::recognise("POST", "/v1/messages", |_| None).expect("a relay path");
    group.throughput(Throughput::Elements(
        u64::try_from(events.len()).expect("small"),
    ));
    group.bench_function("openai_stream_to_anthropic_200_chunks", |b| {
        b.iter(|| {
            let mut transcoder = Transcoder::new(
                ApiFormat::OpenAiChat,
                plan.client_stream(&stream_ingress, "claude-sonnet-4-5"),
            )
            .expect("a transcoder");
            for event in &events {
                black_box(transcoder.feed(event.clone()));
            }
            black_box(transcoder.finish());
            transcoder.usage()
        })
    });
    group.finish();
}

criterion_group!(
    hot_path,
    key_lookup,
    channel_selection,
    pricing,
    sse_scan,
    body_parse,
    formats
);
criterion_main!(hot_path);
