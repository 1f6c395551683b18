//! Properties every format must keep: however the stream is split, the same bytes are
//! forwarded and the same usage is read; removal takes out exactly the usage-only chunk; long
//! events and garbage neither grow memory nor panic; untouched chunks are not copied.

use bytes::Bytes;

use super::samples::{
    ANTHROPIC, CHAT, CHAT_USAGE_EVENT, COMPLETIONS, GEMINI_ARRAY, GEMINI_SSE, RESPONSES,
};
use super::{StreamFormat, StreamScanner, Usage};

/// What one run of a scanner produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    forwarded: Vec<u8>,
    usage: Option<Usage>,
    content_events: u64,
    terminal: bool,
}

fn run(mut scanner: StreamScanner, chunks: &[&[u8]]) -> Outcome {
    let mut forwarded = Vec::new();
    for chunk in chunks {
        forwarded.extend_from_slice(&scanner.feed(Bytes::copy_from_slice(chunk)));
    }
    forwarded.extend_from_slice(&scanner.finish());
    Outcome {
        forwarded,
        usage: scanner.usage(),
        content_events: scanner.content_events(),
        terminal: scanner.saw_terminal_event(),
    }
}

fn cases() -> Vec<(StreamFormat, bool, String)> {
    let mut cases = Vec::new();
    for strip in [false, true] {
        cases.push((StreamFormat::OpenAiChat, strip, CHAT.to_string()));
        cases.push((StreamFormat::OpenAiChat, strip, CHAT.replace('\n', "\r\n")));
        cases.push((
            StreamFormat::OpenAiCompletions,
            strip,
            COMPLETIONS.to_string(),
        ));
        cases.push((StreamFormat::OpenAiResponses, strip, RESPONSES.to_string()));
        cases.push((StreamFormat::Anthropic, strip, ANTHROPIC.to_string()));
        cases.push((
            StreamFormat::Anthropic,
            strip,
            ANTHROPIC.replace("\r\n", "\n"),
        ));
        cases.push((StreamFormat::Gemini, strip, GEMINI_SSE.to_string()));
        cases.push((StreamFormat::Gemini, strip, GEMINI_ARRAY.to_string()));
    }
    cases
}

/// A cheap deterministic pseudo-random sequence (no dependency needed).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn every_split_gives_the_same_result_as_one_chunk() {
    for (format, strip, stream) in cases() {
        let bytes = stream.as_bytes();
        let whole = run(StreamScanner::new(format, strip), &[bytes]);
        assert!(whole.usage.is_some(), "{format:?}: no usage in sample");
        assert!(whole.terminal, "{format:?}: no terminal event in sample");
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            let parts = run(StreamScanner::new(format, strip), &[a, b]);
            assert_eq!(parts, whole, "{format:?} strip={strip} split at {split}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(StreamScanner::new(format, strip), &singles), whole);
        let mut seed = bytes.len() as u64;
        for _ in 0..50 {
            let mut chunks = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                let take = (lcg(&mut seed) as usize % 40).min(rest.len());
                let (head, tail) = rest.split_at(take);
                chunks.push(head);
                rest = tail;
            }
            assert_eq!(run(StreamScanner::new(format, strip), &chunks), whole);
        }
    }
}

#[test]
fn stripping_removes_exactly_the_usage_only_chunk() {
    for ending in ["\n", "\r\n"] {
        let stream = CHAT.replace('\n', ending);
        let usage_event = CHAT_USAGE_EVENT.replace('\n', ending);
        let expected = stream.replace(&usage_event, "");
        assert_eq!(expected.len(), stream.len() - usage_event.len());
        let bytes = stream.as_bytes();
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            let out = run(StreamScanner::new(StreamFormat::OpenAiChat, true), &[a, b]);
            assert_eq!(
                String::from_utf8(out.forwarded).unwrap(),
                expected,
                "split {split}"
            );
            assert_eq!(out.usage.unwrap().completion_tokens, 2);
        }
        let kept = run(
            StreamScanner::new(StreamFormat::OpenAiChat, false),
            &[bytes],
        );
        assert_eq!(kept.forwarded, bytes);
    }
}

#[test]
fn a_held_back_event_is_released_by_the_next_feed_or_finish() {
    let mut scanner = StreamScanner::new(StreamFormat::OpenAiChat, true);
    let (head, tail) = CHAT_USAGE_EVENT.split_at(30);
    assert!(scanner.feed(Bytes::from_static(head.as_bytes())).is_empty());
    // The rest of the usage-only chunk completes it: removed, nothing forwarded.
    assert!(scanner.feed(Bytes::from_static(tail.as_bytes())).is_empty());
    assert_eq!(scanner.usage().unwrap().prompt_tokens, 9);
    // A content event cut short by the end of the stream comes out at finish.
    let partial = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}";
    assert!(
        scanner
            .feed(Bytes::from_static(partial.as_bytes()))
            .is_empty()
    );
    assert_eq!(scanner.finish(), partial.as_bytes());
    assert_eq!(scanner.content_events(), 1);
}

#[test]
fn untouched_chunks_are_forwarded_without_copying() {
    for strip in [false, true] {
        let mut scanner = StreamScanner::new(StreamFormat::OpenAiChat, strip);
        let first = CHAT.split_inclusive("\n\n").next().unwrap();
        let chunk = Bytes::from_static(first.as_bytes());
        let out = scanner.feed(chunk.clone());
        assert_eq!((out.as_ptr(), out.len()), (chunk.as_ptr(), chunk.len()));
    }
    // Without removal even a chunk ending mid-event is forwarded whole and uncopied.
    let mut scanner = StreamScanner::new(StreamFormat::Anthropic, false);
    let chunk = Bytes::from_static(&ANTHROPIC.as_bytes()[..100]);
    let out = scanner.feed(chunk.clone());
    assert_eq!((out.as_ptr(), out.len()), (chunk.as_ptr(), chunk.len()));
    // With removal, the complete events before a held tail are a slice of the chunk.
    let mut scanner = StreamScanner::new(StreamFormat::OpenAiChat, true);
    let cut = CHAT
        .find("data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},")
        .unwrap()
        + 10;
    let chunk = Bytes::from_static(&CHAT.as_bytes()[..cut]);
    let out = scanner.feed(chunk.clone());
    assert_eq!(out.as_ptr(), chunk.as_ptr());
    assert!(out.len() < chunk.len());
}

#[test]
fn oversized_events_are_forwarded_unparsed_and_scanning_resumes() {
    let big = format!(
        "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}],\"usage\":{{\"prompt_tokens\":999}}}}\n\n",
        "x".repeat(300)
    );
    let usage =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
    let big_usage = format!(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":7,\"completion_tokens\":7}},\"pad\":\"{}\"}}\n\n",
        "y".repeat(300)
    );
    let stream = format!("{big}{usage}data: [DONE]\n\n");
    let bytes = stream.as_bytes();
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let scanner = StreamScanner::with_max_event(StreamFormat::OpenAiChat, true, 128);
        let out = run(scanner, &[a, b]);
        // The long event is neither parsed (no content, no usage 999) nor lost.
        assert_eq!(
            out.forwarded,
            format!("{big}data: [DONE]\n\n").as_bytes(),
            "{split}"
        );
        assert_eq!(out.content_events, 0);
        assert_eq!(
            out.usage,
            Some(Usage {
                prompt_tokens: 1,
                completion_tokens: 2,
                cached_tokens: 0,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        assert!(out.terminal);
    }
    // An oversized usage-only chunk is forwarded, not removed, and its numbers are unknown.
    let stream = format!("{big_usage}data: [DONE]\n\n");
    let singles: Vec<&[u8]> = stream.as_bytes().chunks(7).collect();
    let scanner = StreamScanner::with_max_event(StreamFormat::OpenAiChat, true, 128);
    let out = run(scanner, &singles);
    assert_eq!(out.forwarded, stream.as_bytes());
    assert_eq!(out.usage, None);
    // Carry never exceeds the limit, however long the event.
    let mut scanner = StreamScanner::with_max_event(StreamFormat::Anthropic, false, 128);
    scanner.feed(Bytes::from_static(
        b"data: {\"type\":\"content_block_delta\"",
    ));
    for _ in 0..1000 {
        scanner.feed(Bytes::from_static(
            b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ));
        assert!(scanner.carried() <= 128);
    }
    let mut gemini = StreamScanner::with_max_event(StreamFormat::Gemini, false, 128);
    gemini.feed(Bytes::from_static(b"[{\"candidates\":\""));
    for _ in 0..1000 {
        gemini.feed(Bytes::from_static(
            b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
        ));
        assert!(gemini.carried() <= 128);
    }
}

#[test]
fn a_stream_without_usage_still_counts_content() {
    let stream = CHAT.replace(CHAT_USAGE_EVENT, "");
    let out = run(
        StreamScanner::new(StreamFormat::OpenAiChat, true),
        &[stream.as_bytes()],
    );
    assert_eq!(out.forwarded, stream.as_bytes());
    assert_eq!(out.usage, None);
    assert_eq!(out.content_events, 3);
    assert!(out.terminal);
    // A client that went away mid-stream: no terminal event either.
    let cut = &ANTHROPIC[..ANTHROPIC.find("event: content_block_stop").unwrap()];
    let cut = cut.replace("\"usage\"", "\"u\"");
    let out = run(
        StreamScanner::new(StreamFormat::Anthropic, false),
        &[cut.as_bytes()],
    );
    assert_eq!(
        (out.usage, out.content_events, out.terminal),
        (None, 2, false)
    );
}

#[test]
fn garbage_never_panics_and_is_forwarded() {
    let garbage: &[&[u8]] = &[
        b"data: {not json \"usage\" \"choices\":[] \"usageMetadata\"\n\n",
        b"data: [\n\ndata: \"message_start\" \"message_delta\" \"message_stop\"\n\n",
        b"data: {\"type\":\"response.completed\",\"response\":7}\n\n",
        b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":\"x\"}}\n\n",
        b"\xff\xfe\x00data:\r\r\n\n\n\n: comment\nevent: x\ndata\n\n",
        b"data: {\"usageMetadata\":[1,2]}\n\ndata: {\"type\":\"message_delta\",\"usage\":5}\n\n",
        b"]]]]}}}}[[[[{{{{\"\\\"",
    ];
    let formats = [
        StreamFormat::OpenAiChat,
        StreamFormat::OpenAiCompletions,
        StreamFormat::OpenAiResponses,
        StreamFormat::Anthropic,
        StreamFormat::Gemini,
    ];
    let alphabet: &[u8] = b"{}[]\":,\\ \n\r\nadtu:[DONE]usage";
    let mut seed = 7;
    for format in formats {
        let out = run(StreamScanner::new(format, false), garbage);
        assert_eq!(out.forwarded, garbage.concat());
        for strip in [false, true] {
            let mut scanner = StreamScanner::with_max_event(format, strip, 64);
            for _ in 0..300 {
                let len = lcg(&mut seed) as usize % 50;
                let chunk: Vec<u8> = (0..len)
                    .map(|_| alphabet[lcg(&mut seed) as usize % alphabet.len()])
                    .collect();
                let out = scanner.feed(Bytes::from(chunk.clone()));
                if !strip {
                    assert_eq!(out, chunk);
                }
            }
            scanner.finish();
        }
    }
    // A Gemini array stream that turns out to be an error object is scanned as events.
    let mut scanner = StreamScanner::new(StreamFormat::Gemini, false);
    assert_eq!(scanner.feed(Bytes::from_static(b"  \n")), &b"  \n"[..]);
    scanner.feed(Bytes::from_static(b"{\"error\":{\"code\":429}}"));
    assert_eq!(scanner.usage(), None);
}

#[test]
fn usage_that_is_not_an_object_is_no_report() {
    // serde's derived structs read an array by position: `[]` would be a report of 0 tokens
    // (billed 0 and not estimated). The property tests found it (tests/tests/fuzz).
    use super::{BodyFormat, usage_from_json};
    let bodies: [(BodyFormat, &[u8]); 5] = [
        (BodyFormat::OpenAiChat, b"[[]]"),
        (BodyFormat::OpenAiChat, b"[{}]"),
        (BodyFormat::OpenAiChat, br#"{"usage":[]}"#),
        (BodyFormat::Anthropic, br#"{"usage":[1,2]}"#),
        (BodyFormat::Gemini, br#"{"usageMetadata":[]}"#),
    ];
    for (format, body) in bodies {
        assert_eq!(usage_from_json(format, body), None, "{format:?} {body:?}");
    }
    let mut scanner = StreamScanner::new(StreamFormat::OpenAiChat, false);
    scanner.feed(Bytes::from_static(
        b"data: {\"choices\":[],\"usage\":[]}\n\n",
    ));
    assert_eq!(scanner.usage(), None);
    let reported = usage_from_json(BodyFormat::OpenAiChat, br#" {"usage":{"prompt_tokens":3}}"#);
    assert_eq!(reported.map(|u| u.prompt_tokens), Some(3));
}

#[test]
fn blank_bytes_before_a_gemini_stream_do_not_depend_on_the_split() {
    let stream: &[u8] = b" data: {\"usageMetadata\":{\"promptTokenCount\":5}}\n\n";
    let whole = run(StreamScanner::new(StreamFormat::Gemini, false), &[stream]);
    let split = run(
        StreamScanner::new(StreamFormat::Gemini, false),
        &[&stream[..1], &stream[1..]],
    );
    assert_eq!(split, whole);
}
