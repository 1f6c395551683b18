//! Anthropic Messages stream events: `message_start` carries the input counts (and cache
//! reads/writes), each `message_delta` the output count so far (later wins), `message_stop`
//! ends the stream, `content_block_delta` is generated content.

use super::Tally;
use super::json::{self, AnthropicEvent};

/// One Anthropic data event (never removed).
pub(super) fn data(tally: &mut Tally, data: &[u8]) -> bool {
    if json::contains(data, br#""content_block_delta""#) {
        tally.content_events += 1;
        return false;
    }
    let interesting = [
        &br#""message_start""#[..],
        br#""message_delta""#,
        br#""message_stop""#,
    ];
    if !interesting.iter().any(|name| json::contains(data, name)) {
        return false;
    }
    let Some(event) = json::parse_object::<AnthropicEvent>(data) else {
        return false;
    };
    let usage = match event.kind.as_str() {
        "message_start" => event.message.and_then(|m| m.usage),
        "message_delta" => event.usage,
        "message_stop" => {
            tally.terminal = true;
            None
        }
        _ => None,
    };
    if let Some(usage) = usage {
        tally.anthropic.merge(&usage);
        tally.usage = Some(tally.anthropic.usage());
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::pricing::Usage;
    use crate::usage::samples::ANTHROPIC as STREAM;
    use crate::usage::{StreamFormat, StreamScanner};
    use bytes::Bytes;

    #[test]
    fn input_from_message_start_output_from_message_delta() {
        let mut scanner = StreamScanner::new(StreamFormat::Anthropic, true);
        let out = scanner.feed(Bytes::from_static(STREAM.as_bytes()));
        assert_eq!(out, STREAM.as_bytes());
        assert!(scanner.finish().is_empty());
        // prompt = 25 input + 100 cache reads + 10 cache writes
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 135,
                completion_tokens: 15,
                cached_tokens: 100,
                cache_creation_tokens: 10,
                image_output_tokens: 0
            })
        );
        assert_eq!(scanner.content_events(), 2);
        assert!(scanner.saw_terminal_event());
    }

    #[test]
    fn message_start_alone_gives_input_and_later_deltas_win() {
        let start = STREAM.split("event: content_block_start").next().unwrap();
        let mut scanner = StreamScanner::new(StreamFormat::Anthropic, false);
        scanner.feed(Bytes::copy_from_slice(start.as_bytes()));
        assert_eq!(scanner.usage().unwrap().completion_tokens, 1);
        assert!(!scanner.saw_terminal_event());
        let delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":30,\"output_tokens\":4}}\n\n";
        scanner.feed(Bytes::from_static(delta.as_bytes()));
        scanner.feed(Bytes::from(delta.replace("4}", "9}")));
        // Input restated by the delta (some compatible upstreams send it only there): 30 + 100 + 10
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 140,
                completion_tokens: 9,
                cached_tokens: 100,
                cache_creation_tokens: 10,
                image_output_tokens: 0
            })
        );
    }
}
