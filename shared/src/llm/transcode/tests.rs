//! Transcoder tests: every converting pair on recorded-style streams, split at every byte,
//! cut short, and passed through.

use bytes::Bytes;
use serde_json::Value;

use super::samples::{ANTHROPIC_STREAM, GEMINI_STREAM, OPENAI_STREAM};
use super::*;

fn client(format: ApiFormat, sse: bool, include_usage: bool) -> ClientStream {
    ClientStream {
        format,
        sse,
        include_usage,
        model: "client-model".into(),
    }
}

/// Feeds `stream` in pieces of `piece` bytes; returns the client's bytes and the transcoder.
fn run(
    upstream: ApiFormat,
    to: ClientStream,
    stream: &[u8],
    piece: usize,
) -> (Vec<u8>, Transcoder) {
    let mut transcoder = Transcoder::new(upstream, to).unwrap();
    let mut out = Vec::new();
    for chunk in stream.chunks(piece.max(1)) {
        out.extend_from_slice(&transcoder.feed(Bytes::copy_from_slice(chunk)));
    }
    out.extend_from_slice(&transcoder.finish());
    (out, transcoder)
}

/// SSE events as (event name, data JSON or the raw `[DONE]`).
fn parse_events(bytes: &[u8]) -> Vec<(Option<String>, Value)> {
    let text = std::str::from_utf8(bytes).unwrap().replace("\r\n", "\n");
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let mut name = None;
            let mut data = String::new();
            for line in event.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let value = if data == "[DONE]" {
                Value::String(data)
            } else {
                serde_json::from_str(&data).unwrap()
            };
            (name, value)
        })
        .collect()
}

fn names(events: &[(Option<String>, Value)]) -> Vec<&str> {
    events
        .iter()
        .map(|(n, _)| n.as_deref().unwrap_or(""))
        .collect()
}

#[test]
fn openai_upstream_to_anthropic_client() {
    let (out, transcoder) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Anthropic, true, false),
        OPENAI_STREAM.as_bytes(),
        usize::MAX,
    );
    let events = parse_events(&out);
    assert_eq!(
        names(&events),
        vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(events[0].1["message"]["model"], "client-model");
    assert_eq!(events[0].1["message"]["id"], "msg_chatcmpl-AbC");
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Grüße, 世界 🌍");
    assert_eq!(events[5].1["content_block"]["type"], "tool_use");
    assert_eq!(events[5].1["content_block"]["id"], "call_DdmO9");
    assert_eq!(events[5].1["index"], 1);
    let arguments: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(arguments, "{\"city\":\"Paris\"}");
    let delta = &events[9].1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["input_tokens"], 18);
    assert_eq!(delta["usage"]["cache_read_input_tokens"], 64);
    assert_eq!(delta["usage"]["output_tokens"], 17);
    let usage = transcoder.usage().unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens
        ),
        (82, 64, 17)
    );
    assert!(transcoder.saw_terminal_event());
    assert!(!transcoder.is_passthrough());
}

#[test]
fn anthropic_upstream_to_openai_client() {
    let (out, transcoder) = run(
        ApiFormat::Anthropic,
        client(ApiFormat::OpenAiChat, true, true),
        ANTHROPIC_STREAM.as_bytes(),
        usize::MAX,
    );
    let events = parse_events(&out);
    let chunks: Vec<&Value> = events.iter().map(|(_, v)| v).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        chunks[0]["choices"][0]["delta"]["reasoning_content"],
        "Need the weather."
    );
    assert_eq!(chunks[0]["object"], "chat.completion.chunk");
    assert_eq!(chunks[0]["model"], "client-model");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Okay, checking — one moment.");
    let tool_start = chunks
        .iter()
        .find(|c| c["choices"][0]["delta"]["tool_calls"][0]["id"].is_string())
        .unwrap();
    assert_eq!(
        tool_start["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(
        tool_start["choices"][0]["delta"]["tool_calls"][0]["index"],
        0
    );
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, "{\"location\": \"San Francisco, CA\"}");
    let n = chunks.len();
    assert_eq!(chunks[n - 3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[n - 2]["choices"], Value::Array(vec![]));
    assert_eq!(chunks[n - 2]["usage"]["prompt_tokens"], 472 + 2048 + 1800);
    assert_eq!(
        chunks[n - 2]["usage"]["prompt_tokens_details"]["cached_tokens"],
        1800
    );
    assert_eq!(*chunks[n - 1], Value::String("[DONE]".into()));
    let usage = transcoder.usage().unwrap();
    assert_eq!(usage.cache_creation_tokens, 2048);
    assert_eq!(usage.output_tokens, 89);
}

#[test]
fn usage_chunk_only_when_the_openai_client_asked() {
    let (out, transcoder) = run(
        ApiFormat::Anthropic,
        client(ApiFormat::OpenAiChat, true, false),
        ANTHROPIC_STREAM.as_bytes(),
        7,
    );
    assert!(!String::from_utf8(out).unwrap().contains("\"usage\""));
    assert_eq!(
        transcoder.usage().unwrap().output_tokens,
        89,
        "the relay still bills"
    );
}

#[test]
fn gemini_upstream_to_openai_and_anthropic() {
    let (out, transcoder) = run(
        ApiFormat::Gemini,
        client(ApiFormat::OpenAiChat, true, true),
        GEMINI_STREAM.as_bytes(),
        usize::MAX,
    );
    let events = parse_events(&out);
    assert_eq!(
        events[0].1["choices"][0]["delta"]["reasoning_content"],
        "Considering lights."
    );
    assert_eq!(
        events[1].1["choices"][0]["delta"]["content"],
        "Turning them on."
    );
    assert_eq!(
        events[2].1["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "set_light"
    );
    assert_eq!(
        events[3].1["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"on\":true}"
    );
    assert_eq!(events[4].1["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(events[5].1["usage"]["completion_tokens"], 80);
    assert_eq!(
        events[5].1["usage"]["completion_tokens_details"]["reasoning_tokens"],
        50
    );
    let usage = transcoder.usage().unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens
        ),
        (120, 80, 64)
    );

    let (out, _) = run(
        ApiFormat::Gemini,
        client(ApiFormat::Anthropic, true, false),
        GEMINI_STREAM.as_bytes(),
        3,
    );
    let events = parse_events(&out);
    assert_eq!(
        events[0].1["message"]["usage"]["input_tokens"], 120,
        "input known from the first chunk"
    );
    assert_eq!(events[1].1["content_block"]["type"], "thinking");
    assert_eq!(events[4].1["content_block"]["type"], "text");
    assert_eq!(events[7].1["content_block"]["name"], "set_light");
    let last = &events[events.len() - 2].1;
    assert_eq!(last["delta"]["stop_reason"], "tool_use");
    assert_eq!(last["usage"]["output_tokens"], 80);
}

#[test]
fn openai_upstream_to_gemini_client_as_array_and_as_sse() {
    let (out, _) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Gemini, false, false),
        OPENAI_STREAM.as_bytes(),
        5,
    );
    let array: Value = serde_json::from_slice(&out).unwrap();
    let chunks = array.as_array().unwrap();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Grüße, 世界 🌍");
    let last = chunks.last().unwrap();
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0]["functionCall"],
        serde_json::json!({"name": "get_weather", "args": {"city": "Paris"}})
    );
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 82);

    let (out, _) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Gemini, true, false),
        OPENAI_STREAM.as_bytes(),
        5,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("data: {") && text.ends_with("\r\n\r\n"));
    assert_eq!(parse_events(text.as_bytes()).len(), 3);
}

#[test]
fn splitting_anywhere_changes_nothing() {
    let pairs = [
        (ApiFormat::OpenAiChat, OPENAI_STREAM, ApiFormat::Anthropic),
        (ApiFormat::Anthropic, ANTHROPIC_STREAM, ApiFormat::Gemini),
        (ApiFormat::Gemini, GEMINI_STREAM, ApiFormat::OpenAiChat),
    ];
    for (upstream, stream, to) in pairs {
        let strip = |bytes: Vec<u8>| {
            // `created` is the clock; everything else must match exactly.
            let text = String::from_utf8(bytes).unwrap();
            text.split("\"created\":")
                .map(|s| s.trim_start_matches(char::is_numeric).to_owned())
                .collect::<Vec<_>>()
        };
        let (whole, _) = run(
            upstream,
            client(to, true, true),
            stream.as_bytes(),
            usize::MAX,
        );
        for piece in [1, 2, 3, 13, 64] {
            let (split, transcoder) =
                run(upstream, client(to, true, true), stream.as_bytes(), piece);
            assert_eq!(
                strip(split),
                strip(whole.clone()),
                "{upstream:?} -> {to:?} in pieces of {piece}"
            );
            assert!(transcoder.saw_terminal_event());
        }
    }
}

#[test]
fn cut_streams_still_end_in_the_clients_format() {
    let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM
        .find("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}")
        .unwrap()];
    // Cut inside an event too.
    let cut = &cut[..cut.len() - 10];

    let (out, transcoder) = run(
        ApiFormat::Anthropic,
        client(ApiFormat::OpenAiChat, true, true),
        cut.as_bytes(),
        4,
    );
    assert!(!transcoder.saw_terminal_event());
    let events = parse_events(&out);
    let n = events.len();
    assert_eq!(events[n - 1].1, Value::String("[DONE]".into()));
    assert_eq!(
        events[n - 2].1["usage"]["prompt_tokens"],
        4320,
        "input known from message_start"
    );
    assert_eq!(events[n - 3].1["error"]["type"], "api_error");

    let (out, _) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Anthropic, true, false),
        &OPENAI_STREAM.as_bytes()[..700],
        9,
    );
    let events = parse_events(&out);
    assert_eq!(
        names(&events)[events.len() - 3..],
        ["error", "message_delta", "message_stop"]
    );

    let (out, _) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Gemini, false, false),
        &OPENAI_STREAM.as_bytes()[..700],
        9,
    );
    let array: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        array.as_array().unwrap().last().unwrap()["candidates"][0]["finishReason"],
        "OTHER"
    );

    // Nothing at all from the upstream: still a well-formed answer.
    let (out, transcoder) = run(
        ApiFormat::Gemini,
        client(ApiFormat::Anthropic, true, false),
        b"",
        1,
    );
    assert_eq!(
        names(&parse_events(&out)),
        ["message_start", "error", "message_delta", "message_stop"]
    );
    assert_eq!(transcoder.usage(), None);
}

#[test]
fn errors_inside_the_stream_are_relayed_in_the_clients_shape() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let (out, transcoder) = run(
        ApiFormat::Anthropic,
        client(ApiFormat::OpenAiChat, true, false),
        stream.as_bytes(),
        11,
    );
    let events = parse_events(&out);
    assert_eq!(events[0].1["error"]["message"], "Overloaded");
    assert_eq!(events[0].1["error"]["type"], "server_error");
    assert_eq!(events[1].1, Value::String("[DONE]".into()));
    assert_eq!(events.len(), 2, "nothing after the terminator");
    assert!(transcoder.saw_terminal_event());
}

#[test]
fn passthrough_forwards_the_same_bytes_and_reads_wide_usage() {
    let mut transcoder = Transcoder::new(
        ApiFormat::Anthropic,
        client(ApiFormat::Anthropic, true, false),
    )
    .unwrap();
    assert!(transcoder.is_passthrough());
    let chunk = Bytes::from_static(ANTHROPIC_STREAM.as_bytes());
    let out = transcoder.feed(chunk.clone());
    assert_eq!(out.as_ptr(), chunk.as_ptr(), "no copy");
    assert!(transcoder.finish().is_empty());
    let usage = transcoder.usage().unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cache_creation_tokens,
            usage.cache_read_tokens,
            usage.output_tokens
        ),
        (4320, 2048, 1800, 89)
    );
    assert!(transcoder.saw_terminal_event());
    assert_eq!(transcoder.content_events(), 7);

    let (out, transcoder) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::OpenAiChat, true, true),
        OPENAI_STREAM.as_bytes(),
        10,
    );
    assert_eq!(out, OPENAI_STREAM.as_bytes());
    assert_eq!(transcoder.usage().unwrap().cache_read_tokens, 64);

    let (out, transcoder) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::OpenAiChat, true, false),
        OPENAI_STREAM.as_bytes(),
        10,
    );
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("prompt_tokens") && text.ends_with("data: [DONE]\n\n"));
    assert_eq!(transcoder.usage().unwrap().input_tokens, 82);
}

#[test]
fn gemini_sse_is_reframed_for_a_json_array_client() {
    let (out, transcoder) = run(
        ApiFormat::Gemini,
        client(ApiFormat::Gemini, false, false),
        GEMINI_STREAM.as_bytes(),
        17,
    );
    let array: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 3);
    assert_eq!(array[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(transcoder.usage().unwrap().reasoning_tokens, 50);
    let (out, _) = run(
        ApiFormat::Gemini,
        client(ApiFormat::Gemini, false, false),
        b"",
        1,
    );
    assert_eq!(out, b"[]");
}

#[test]
fn carry_over_is_bounded() {
    let mut transcoder = Transcoder::new(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Anthropic, true, false),
    )
    .unwrap();
    let piece = vec![b'x'; 64 * 1024];
    transcoder.feed(Bytes::from_static(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"",
    ));
    for _ in 0..40 {
        transcoder.feed(Bytes::from(piece.clone()));
        assert!(transcoder.carried() <= MAX_EVENT_BYTES);
    }
    transcoder.feed(Bytes::from_static(b"\"}}]}\n\n"));
    let out = transcoder.feed(Bytes::from_static(OPENAI_STREAM.as_bytes()));
    assert!(
        String::from_utf8(out.to_vec()).unwrap().contains("Grüße"),
        "decoding resumes after the oversized event"
    );
}

#[test]
fn unsupported_pairs_are_refused() {
    assert!(
        Transcoder::new(
            ApiFormat::OpenAiResponses,
            client(ApiFormat::Anthropic, true, false)
        )
        .is_err()
    );
    assert!(
        Transcoder::new(
            ApiFormat::Anthropic,
            client(ApiFormat::OpenAiCompletions, true, false)
        )
        .is_err()
    );
    assert!(
        Transcoder::new(
            ApiFormat::OpenAiResponses,
            client(ApiFormat::OpenAiResponses, true, false)
        )
        .unwrap()
        .is_passthrough()
    );
}

#[test]
fn anthropic_upstream_to_responses_client() {
    let (out, transcoder) = run(
        ApiFormat::Anthropic,
        client(ApiFormat::OpenAiResponses, true, false),
        ANTHROPIC_STREAM.as_bytes(),
        9,
    );
    let events = parse_events(&out);
    let kinds = names(&events);
    assert_eq!(kinds[..2], ["response.created", "response.in_progress"]);
    assert_eq!(kinds[kinds.len() - 1], "response.completed");
    for (i, (_, event)) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], i, "sequence numbers count up");
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("response.output_text.delta"))
        .filter_map(|(_, v)| v["delta"].as_str())
        .collect();
    assert_eq!(text, "Okay, checking — one moment.");
    let completed = &events[events.len() - 1].1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["model"], "client-model");
    let output = completed["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0]["summary"][0]["text"], "Need the weather.");
    assert_eq!(
        output[1]["content"][0]["text"],
        "Okay, checking — one moment."
    );
    assert_eq!(output[2]["type"], "function_call");
    assert_eq!(output[2]["call_id"], "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(
        output[2]["arguments"],
        "{\"location\": \"San Francisco, CA\"}"
    );
    assert_eq!(completed["usage"]["input_tokens"], 4320);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        1800
    );
    assert!(transcoder.saw_terminal_event());

    let cut = &GEMINI_STREAM[..GEMINI_STREAM.len() - 40];
    let (out, _) = run(
        ApiFormat::Gemini,
        client(ApiFormat::OpenAiResponses, true, false),
        cut.as_bytes(),
        5,
    );
    let events = parse_events(&out);
    assert_eq!(events.last().unwrap().0.as_deref(), Some("response.failed"));
}

#[test]
fn only_the_first_choice_is_carried() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}},{\"index\":1,\"delta\":{\"content\":\"B\"}}]}\n\n",
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
        "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let (out, _) = run(
        ApiFormat::OpenAiChat,
        client(ApiFormat::Anthropic, true, false),
        stream.as_bytes(),
        6,
    );
    let events = parse_events(&out);
    let text: String = events
        .iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "A");
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "end_turn"
    );
}
