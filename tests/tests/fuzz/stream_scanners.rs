//! The usage scanners: every stream format, with and without removal of OpenAI's usage-only
//! chunk, fed arbitrary bytes split anywhere. Nothing panics, and what is forwarded and read
//! (usage, content events, the end marker) is the same whatever the split; without removal
//! the bytes are forwarded unchanged. Complete bodies of every format never panic either.

use crate::strategies::{body, config, cuts, event_stream, split};
use bytes::Bytes;
use proptest::prelude::*;
use pylon_shared::usage::{BodyFormat, StreamFormat, StreamScanner, Usage, usage_from_json};

const STREAMS: [StreamFormat; 5] = [
    StreamFormat::OpenAiChat,
    StreamFormat::OpenAiCompletions,
    StreamFormat::OpenAiResponses,
    StreamFormat::Anthropic,
    StreamFormat::Gemini,
];

const BODIES: [BodyFormat; 6] = [
    BodyFormat::OpenAiChat,
    BodyFormat::OpenAiCompletions,
    BodyFormat::OpenAiEmbeddings,
    BodyFormat::OpenAiResponses,
    BodyFormat::Anthropic,
    BodyFormat::Gemini,
];

/// What a scanner forwarded and read from a stream fed in `pieces`.
#[derive(Debug, PartialEq)]
struct Scanned {
    forwarded: Vec<u8>,
    usage: Option<Usage>,
    content_events: u64,
    terminal: bool,
}

fn scan(format: StreamFormat, strip: bool, pieces: Vec<Bytes>) -> Scanned {
    let mut scanner = StreamScanner::new(format, strip);
    let mut forwarded = Vec::new();
    for piece in pieces {
        forwarded.extend_from_slice(&scanner.feed(piece));
    }
    forwarded.extend_from_slice(&scanner.finish());
    Scanned {
        forwarded,
        usage: scanner.usage(),
        content_events: scanner.content_events(),
        terminal: scanner.saw_terminal_event(),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scanning_does_not_depend_on_the_split(
        stream in event_stream(),
        cuts in cuts(),
        format in proptest::sample::select(&STREAMS[..]),
        strip in any::<bool>(),
    ) {
        let whole = scan(format, strip, vec![Bytes::from(stream.clone())]);
        let pieces = scan(format, strip, split(&stream, &cuts));
        prop_assert_eq!(&pieces, &whole, "{:?} strip={}", format, strip);
        let removes = strip
            && matches!(format, StreamFormat::OpenAiChat | StreamFormat::OpenAiCompletions);
        if !removes {
            prop_assert_eq!(&whole.forwarded, &stream, "forwarded unchanged");
        }
    }

    #[test]
    fn removal_touches_only_usage_chunks(stream in event_stream(), cuts in cuts()) {
        let scanned = scan(StreamFormat::OpenAiChat, true, split(&stream, &cuts));
        prop_assert!(scanned.forwarded.len() <= stream.len());
        if !contains(&stream, b"usage") {
            prop_assert_eq!(&scanned.forwarded, &stream);
        }
    }

    #[test]
    fn bodies_of_any_shape_never_panic(
        body in body(),
        format in proptest::sample::select(&BODIES[..]),
    ) {
        let usage = usage_from_json(format, &body);
        // Usage is only ever read from a usage object (`usage`, `usageMetadata`).
        if !contains(&body, b"usage") {
            prop_assert_eq!(usage, None);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
