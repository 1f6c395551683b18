//! The format converters: arbitrary request and answer bodies between every pair of
//! convertible formats, and arbitrary event streams through every streaming pair, split
//! anywhere: refused or converted, never a panic, the same stream whatever the split and
//! always ended in the client's format; a valid chat request converted to each format and back
//! keeps its model, system text, messages and stream flag.

use crate::strategies::{body, config, cuts, event_stream, split};
use bytes::Bytes;
use proptest::prelude::*;
use pylon_shared::llm::convert::{request_from_ir, request_to_ir};
use pylon_shared::llm::{ApiFormat, ClientStream, Transcoder, convert_request, convert_response};
use serde_json::{Value, json};

const CONVERTIBLE: [ApiFormat; 4] = [
    ApiFormat::OpenAiChat,
    ApiFormat::OpenAiResponses,
    ApiFormat::Anthropic,
    ApiFormat::Gemini,
];

/// Upstreams that stream into another format.
const STREAMING_UPSTREAMS: [ApiFormat; 3] = [
    ApiFormat::OpenAiChat,
    ApiFormat::Anthropic,
    ApiFormat::Gemini,
];

/// An upstream and a client of another format.
fn streaming_pair() -> impl Strategy<Value = (ApiFormat, ApiFormat)> {
    let pairs: Vec<(ApiFormat, ApiFormat)> = STREAMING_UPSTREAMS
        .iter()
        .flat_map(|&up| CONVERTIBLE.iter().map(move |&client| (up, client)))
        .filter(|(up, client)| up != client)
        .collect();
    proptest::sample::select(pairs)
}

fn format() -> impl Strategy<Value = ApiFormat> {
    proptest::sample::select(&CONVERTIBLE[..])
}

fn is_object(bytes: &[u8]) -> bool {
    matches!(serde_json::from_slice::<Value>(bytes), Ok(Value::Object(_)))
}

/// Runs a transcoder over `pieces`: the client's bytes, with the clock (`created`,
/// `created_at`) blanked out since two runs may straddle a second.
fn transcode(upstream: ApiFormat, client: &ClientStream, pieces: Vec<Bytes>) -> String {
    let mut transcoder = Transcoder::new(upstream, client.clone()).expect("a streaming pair");
    let mut out = Vec::new();
    for piece in pieces {
        out.extend_from_slice(&transcoder.feed(piece));
    }
    out.extend_from_slice(&transcoder.finish());
    let text = String::from_utf8(out).expect("the client's stream is UTF-8");
    let mut blanked = String::with_capacity(text.len());
    for (i, part) in text.split("\"created").enumerate() {
        if i > 0 {
            blanked.push_str("\"created");
            let digits =
                part.trim_start_matches(|c: char| !c.is_ascii_digit() && c != ',' && c != '}');
            let prefix = &part[..part.len() - digits.len()];
            blanked.push_str(prefix);
            blanked.push_str(digits.trim_start_matches(|c: char| c.is_ascii_digit()));
        } else {
            blanked.push_str(part);
        }
    }
    blanked
}

/// The client's stream ends with its format's terminator.
fn ends_in_format(client: &ClientStream, text: &str) -> bool {
    let text = text.trim_end();
    match client.format {
        ApiFormat::OpenAiChat => text.ends_with("data: [DONE]"),
        ApiFormat::Anthropic => text.ends_with("data: {\"type\":\"message_stop\"}"),
        ApiFormat::OpenAiResponses => [
            "response.completed",
            "response.incomplete",
            "response.failed",
        ]
        .iter()
        .any(|end| {
            text.rsplit("event: ")
                .next()
                .is_some_and(|last| last.starts_with(end))
        }),
        ApiFormat::Gemini if !client.sse => text.starts_with('[') && text.ends_with(']'),
        _ => true,
    }
}

/// A streaming pair: the upstream's format and how a client of another format wants it.
fn streaming() -> impl Strategy<Value = (ApiFormat, ClientStream)> {
    (streaming_pair(), any::<bool>(), any::<bool>()).prop_map(
        |((upstream, format), sse, include_usage)| {
            let client = ClientStream {
                format,
                sse,
                include_usage,
                model: "client-model".into(),
            };
            (upstream, client)
        },
    )
}

/// A valid chat request: a model, optional system text, alternating turns (user first) of
/// non-blank text, and a stream flag.
fn chat_request() -> impl Strategy<Value = (String, bool, Value)> {
    let text = "[a-zA-Z0-9][ -~]{0,20}";
    (
        "[a-z][a-z0-9.-]{0,15}",
        any::<bool>(),
        proptest::option::of(text),
        proptest::collection::vec(text, 1..6),
    )
        .prop_map(|(model, stream, system, turns)| {
            let mut messages: Vec<Value> = system
                .map(|s| json!({"role": "system", "content": s}))
                .into_iter()
                .collect();
            for (i, turn) in turns.into_iter().enumerate() {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                messages.push(json!({"role": role, "content": turn}));
            }
            let body = json!({"model": model, "stream": stream, "messages": messages});
            (model, stream, body)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_requests_are_converted_or_refused(
        from in format(),
        to in format(),
        body in body(),
        model_from_path in proptest::option::of("[a-z0-9.-]{1,12}"),
    ) {
        if let Ok((request, out)) = convert_request(from, to, &body, model_from_path.as_deref(), "up") {
            prop_assert_eq!(request.model, "up");
            prop_assert!(is_object(&out), "{}", String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn arbitrary_answers_are_converted_or_refused(
        from in format(),
        to in format(),
        body in body(),
    ) {
        if let Ok((out, _usage)) = convert_response(from, to, &body, "client-model") {
            prop_assert!(is_object(&out), "{}", String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn arbitrary_streams_are_transcoded_whatever_the_split(
        (upstream, client) in streaming(),
        stream in event_stream(),
        cuts in cuts(),
    ) {
        let whole = transcode(upstream, &client, vec![Bytes::from(stream.clone())]);
        let pieces = transcode(upstream, &client, split(&stream, &cuts));
        prop_assert_eq!(&pieces, &whole);
        prop_assert!(ends_in_format(&client, &whole), "{:?} -> {:?}: {}", upstream, client, whole);
    }

    #[test]
    fn requests_converted_there_and_back_keep_what_matters(
        (model, stream, body) in chat_request(),
        to in format(),
    ) {
        let chat = ApiFormat::OpenAiChat;
        let bytes = body.to_string().into_bytes();
        let original = request_to_ir(chat, &bytes, None).map_err(|e| TestCaseError::fail(e.message))?;
        let there = request_from_ir(to, &original).map_err(|e| TestCaseError::fail(e.message))?;
        // Gemini names the model and asks for a stream in its path, not its body.
        let gemini = to == ApiFormat::Gemini;
        let mut read = request_to_ir(to, there.to_string().as_bytes(), gemini.then_some(model.as_str()))
            .map_err(|e| TestCaseError::fail(e.message))?;
        read.stream |= gemini && stream;
        let back = request_from_ir(chat, &read).map_err(|e| TestCaseError::fail(e.message))?;
        let round = request_to_ir(chat, back.to_string().as_bytes(), None)
            .map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(&round.model, &model);
        prop_assert_eq!(round.stream, stream);
        prop_assert_eq!(&round.system, &original.system, "{} via {:?}", there, to);
        prop_assert_eq!(&round.messages, &original.messages, "{} via {:?}", there, to);
    }
}
