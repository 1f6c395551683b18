//! OpenAI stream events: chat and legacy completions chunks (usage in the final chunk, the
//! usage-only chunk that may be removed) and Responses API events (`response.completed`).

use super::Tally;
use super::json::{self, OpenAiChunk, ResponsesEvent};

/// One chat/completions data event; returns whether to remove it (the usage-only chunk, when
/// removal is on).
pub(super) fn chat_data(tally: &mut Tally, data: &[u8]) -> bool {
    let data = data.trim_ascii();
    if data == b"[DONE]" {
        tally.terminal = true;
        return false;
    }
    if json::nonempty_array(data, br#""choices""#) {
        tally.content_events += 1;
    }
    // Only the chunks that report usage are worth parsing: not those that do not mention it,
    // nor those (every chunk of a stream that asked for usage, at OpenAI) with `"usage":null`.
    if !json::may_report_usage(data) {
        return false;
    }
    let Some(chunk) = json::parse_object::<OpenAiChunk>(data) else {
        return false;
    };
    let Some(usage) = chunk.usage else {
        return false;
    };
    tally.usage = Some(usage.usage());
    tally.remove_usage_only && chunk.choices.is_some_and(|choices| choices.is_empty())
}

/// One Responses API data event. Deltas are content; the final `response.completed` (or
/// `response.incomplete` / `response.failed`) carries the usage and ends the stream.
pub(super) fn responses_data(tally: &mut Tally, data: &[u8]) -> bool {
    if json::string_field(data, br#""type""#).is_some_and(|kind| kind.ends_with(b".delta")) {
        tally.content_events += 1;
        return false;
    }
    let terminal = [
        &br#""response.completed""#[..],
        br#""response.incomplete""#,
        br#""response.failed""#,
    ];
    if !terminal.iter().any(|name| json::contains(data, name)) {
        return false;
    }
    let Some(event) = json::parse_object::<ResponsesEvent>(data) else {
        return false;
    };
    if !matches!(
        event.kind.as_str(),
        "response.completed" | "response.incomplete" | "response.failed"
    ) {
        return false;
    }
    tally.terminal = true;
    if let Some(usage) = event.response.and_then(|r| r.usage) {
        tally.usage = Some(usage.usage());
    }
    false
}

#[cfg(test)]
mod tests {
    use crate::pricing::Usage;
    use crate::usage::samples::{CHAT, CHAT_USAGE_EVENT, COMPLETIONS, RESPONSES};
    use crate::usage::{StreamFormat, StreamScanner};
    use bytes::Bytes;

    fn scan(format: StreamFormat, remove: bool, stream: &str) -> (StreamScanner, Vec<u8>) {
        let mut scanner = StreamScanner::new(format, remove);
        let mut out = scanner
            .feed(Bytes::copy_from_slice(stream.as_bytes()))
            .to_vec();
        out.extend_from_slice(&scanner.finish());
        (scanner, out)
    }

    #[test]
    fn chat_usage_from_the_final_chunk() {
        let (scanner, out) = scan(StreamFormat::OpenAiChat, false, CHAT);
        assert_eq!(out, CHAT.as_bytes());
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 9,
                completion_tokens: 2,
                cached_tokens: 3,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        // role chunk, content chunk, finish chunk
        assert_eq!(scanner.content_events(), 3);
        assert!(scanner.saw_terminal_event());
    }

    #[test]
    fn usage_only_chunk_is_removed_on_request() {
        let (scanner, out) = scan(StreamFormat::OpenAiChat, true, CHAT);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            CHAT.replace(CHAT_USAGE_EVENT, "")
        );
        assert_eq!(scanner.usage().unwrap().prompt_tokens, 9);
        let (scanner, out) = scan(StreamFormat::OpenAiCompletions, true, COMPLETIONS);
        assert!(!String::from_utf8(out).unwrap().contains("prompt_tokens"));
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 4,
                completion_tokens: 2,
                cached_tokens: 0,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        assert_eq!(scanner.content_events(), 2);
    }

    #[test]
    fn usage_inside_a_content_chunk_is_never_removed() {
        let stream = "data: {\"choices\":[{\"text\":\"a\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
        let (scanner, out) = scan(StreamFormat::OpenAiCompletions, true, stream);
        assert_eq!(out, stream.as_bytes());
        assert_eq!(scanner.usage().unwrap().completion_tokens, 1);
        assert_eq!(scanner.content_events(), 1);
    }

    #[test]
    fn removal_applies_to_chat_and_completions_only() {
        let (_, out) = scan(StreamFormat::OpenAiResponses, true, RESPONSES);
        assert_eq!(out, RESPONSES.as_bytes());
    }

    #[test]
    fn responses_usage_from_response_completed() {
        let (scanner, out) = scan(StreamFormat::OpenAiResponses, false, RESPONSES);
        assert_eq!(out, RESPONSES.as_bytes());
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 20,
                completion_tokens: 5,
                cached_tokens: 8,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        assert_eq!(scanner.content_events(), 2);
        assert!(scanner.saw_terminal_event());
    }

    #[test]
    fn responses_without_completion_has_no_usage() {
        let cut = RESPONSES.split("event: response.completed").next().unwrap();
        let (scanner, _) = scan(StreamFormat::OpenAiResponses, false, cut);
        assert_eq!(scanner.usage(), None);
        assert!(!scanner.saw_terminal_event());
        assert_eq!(scanner.content_events(), 2);
    }
}
