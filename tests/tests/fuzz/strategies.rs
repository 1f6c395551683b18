//! Inputs shared by the properties: arbitrary JSON (with the keys the parsers look for, so
//! the interesting branches are reached), event streams made of real events' fragments and
//! garbage, and the points to split a byte string at.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Cases per property: enough to reach the branches, few enough for a fast suite.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Keys the parsers and converters read, mixed with arbitrary ones.
const KEYS: &[&str] = &[
    "model",
    "stream",
    "messages",
    "role",
    "content",
    "text",
    "type",
    "system",
    "contents",
    "parts",
    "input",
    "instructions",
    "tools",
    "tool_calls",
    "tool_choice",
    "function",
    "arguments",
    "usage",
    "choices",
    "delta",
    "candidates",
    "usageMetadata",
    "max_tokens",
    "stream_options",
    "include_usage",
    "generationConfig",
    "image_url",
    "source",
    "name",
    "id",
    "functionCall",
    "functionResponse",
    "inlineData",
    "output",
    "response",
    "finish_reason",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{0,6}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Floats that print and parse back exactly.
        any::<i32>()
            .prop_map(|i| Number::from_f64(f64::from(i) / 8.0).map_or(Value::Null, Value::Number)),
        prop_oneof![
            proptest::sample::select(&["user", "assistant", "system", "tool", "model", "text"][..])
                .prop_map(str::to_owned),
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ]
}

/// Any JSON value, a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body: arbitrary JSON (mostly objects), or arbitrary bytes.
pub fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Pieces of real events of every streamed format, and the framing around them.
const FRAGMENTS: &[&str] = &[
    "data: ",
    " ",
    "\t",
    "data:",
    "event: ",
    ": keep-alive",
    "\n",
    "\r\n",
    "\n\n",
    "\r\n\r\n",
    "[DONE]",
    "data: [DONE]\n\n",
    "[",
    "]",
    ",",
    "{",
    "}",
    "\"",
    "\\",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":9223372036854775807}}",
    "data: {\"choices\":[{\"text\":\"!\",\"index\":0,\"finish_reason\":\"stop\"}]}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hel\"}\n\n",
    "data: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":20,\"output_tokens\":5}}}\n\n",
    "event: message_start\r\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12}}\r\n\r\n",
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{\"a\":1}}}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":7,\"totalTokenCount\":19}}\n\n",
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a {b} \\\"q\\\" ]\"}]}}],\"usageMetadata\":{\"promptTokenCount\":6}}",
];

/// A stream of real events' fragments, framing and garbage bytes, in any order.
pub fn event_stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(|f| f.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..6),
        1 => json().prop_map(|v| format!("data: {v}\n\n").into_bytes()),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Where to cut a byte string (positions are taken modulo its length).
pub fn cuts() -> impl Strategy<Value = Vec<usize>> {
    // Near the start as often as anywhere: the first bytes decide a stream's framing.
    proptest::collection::vec(prop_oneof![any::<usize>(), 0usize..8], 0..12)
}

/// `bytes` cut at `cuts`, into pieces that may be empty.
pub fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for end in at.into_iter().chain([bytes.len()]) {
        pieces.push(Bytes::copy_from_slice(&bytes[start..end]));
        start = end;
    }
    pieces
}
