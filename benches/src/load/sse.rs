//! Watching a streamed chat completion (or Anthropic message) as it arrives: which `data:` lines
//! carry a content delta (the first one is the time to first token), the time between
//! successive ones, and whether the stream ended (`data: [DONE]`, or Anthropic's
//! `message_stop`). Lines may be split anywhere across body chunks.

use std::time::Duration;

/// Longest line kept across chunks; a longer one is skipped (no chat chunk comes near this).
const MAX_LINE: usize = 1 << 20;

/// The per-stream state.
#[derive(Debug, Default)]
pub struct SseProbe {
    /// The incomplete last line of the previous chunk.
    carry: Vec<u8>,
    /// The carried line grew past [`MAX_LINE`]: drop bytes up to the next newline.
    skipping: bool,
    content_chunks: u64,
    first_content: Option<Duration>,
    last_content: Option<Duration>,
    done: bool,
}

impl SseProbe {
    /// A probe for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one body chunk that arrived `at` (since the request was sent); `on_gap` gets the
    /// time since the previous content line for every content line after the first.
    pub fn feed(&mut self, chunk: &[u8], at: Duration, on_gap: &mut impl FnMut(Duration)) {
        let mut rest = chunk;
        if !self.carry.is_empty() || self.skipping {
            let Some(end) = newline(rest) else {
                self.hold(rest);
                return;
            };
            let (head, tail) = rest.split_at(end);
            rest = tail.get(1..).unwrap_or_default();
            if self.skipping {
                self.skipping = false;
            } else {
                self.carry.extend_from_slice(head);
                // Taken out and put back so the buffer keeps its capacity for the next split.
                let line = std::mem::take(&mut self.carry);
                self.line(&line, at, on_gap);
                self.carry = line;
            }
            self.carry.clear();
        }
        while let Some(end) = newline(rest) {
            let (line, tail) = rest.split_at(end);
            self.line(line, at, on_gap);
            rest = tail.get(1..).unwrap_or_default();
        }
        self.hold(rest);
    }

    fn hold(&mut self, partial: &[u8]) {
        if self.skipping || partial.is_empty() {
            return;
        }
        if self.carry.len() + partial.len() > MAX_LINE {
            self.carry.clear();
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(partial);
        }
    }

    fn line(&mut self, line: &[u8], at: Duration, on_gap: &mut impl FnMut(Duration)) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.strip_prefix(b" ").unwrap_or(data);
        if data == b"[DONE]" || is_message_stop(data) {
            self.done = true;
            return;
        }
        if !carries_content(data) {
            return;
        }
        self.content_chunks += 1;
        match self.last_content {
            Some(last) => on_gap(at.saturating_sub(last)),
            None => self.first_content = Some(at),
        }
        self.last_content = Some(at);
    }

    /// When the first content line arrived.
    pub fn first_token(&self) -> Option<Duration> {
        self.first_content
    }

    /// How many content lines arrived.
    pub fn content_chunks(&self) -> u64 {
        self.content_chunks
    }

    /// Whether the stream's end marker arrived.
    pub fn saw_done(&self) -> bool {
        self.done
    }
}

/// Anthropic's last event: `{"type":"message_stop"}`.
fn is_message_stop(data: &[u8]) -> bool {
    const STOP: &[u8] = b"\"message_stop\"";
    data.len() < 128 && data.windows(STOP.len()).any(|w| w == STOP)
}

fn newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

/// Whether a chunk's JSON has a non-empty `"content": "..."` string: a delta's content, or its
/// `reasoning_content` (hence the key is matched by its end), or an Anthropic `text_delta`'s
/// `"text": "..."`. The role chunk's `"content":""` and `"content":null` do not count.
pub fn carries_content(data: &[u8]) -> bool {
    has_text_value(data, b"content\"") || has_text_value(data, b"\"text\"")
}

/// Whether some key ending in `key` has a non-empty string value.
fn has_text_value(data: &[u8], key: &[u8]) -> bool {
    let mut rest = data;
    while let Some(pos) = rest.windows(key.len()).position(|w| w == key) {
        rest = rest.get(pos + key.len()..).unwrap_or_default();
        let value = skip_space(rest);
        let Some(value) = value.strip_prefix(b":") else {
            continue;
        };
        if let Some(text) = skip_space(value).strip_prefix(b"\"")
            && text.first().is_some_and(|b| *b != b'"')
        {
            return true;
        }
    }
    false
}

fn skip_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}}]}\n\n";
    const FINISH: &str =
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";

    fn content(text: &str) -> String {
        format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn reads_anthropic_streams() {
        let mut probe = SseProbe::new();
        let events = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"content\":[]}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        probe.feed(events.as_bytes(), ms(5), &mut |_| {});
        assert_eq!(probe.content_chunks(), 1);
        assert_eq!(probe.first_token(), Some(ms(5)));
        assert!(probe.saw_done());
    }

    #[test]
    fn detects_content_deltas_only() {
        assert!(carries_content(br#"{"delta":{"content":"Hi"}}"#));
        assert!(carries_content(br#"{"delta": {"content" : "\"quoted\""}}"#));
        assert!(carries_content(
            br#"{"delta":{"role":"assistant","content":""},"x":{"reasoning_content":"th"}}"#
        ));
        assert!(!carries_content(
            br#"{"delta":{"role":"assistant","content":""}}"#
        ));
        assert!(!carries_content(br#"{"delta":{"content":null}}"#));
        assert!(!carries_content(br#"{"delta":{},"finish_reason":"stop"}"#));
        assert!(!carries_content(
            br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        ));
        assert!(!carries_content(br#"{"content""#));
        assert!(!carries_content(
            br#"{"content_filter_results":{"hate":"x"}}"#
        ));
    }

    #[test]
    fn first_token_is_the_first_content_line_not_the_role_chunk() {
        let mut probe = SseProbe::new();
        let mut gaps = Vec::new();
        probe.feed(ROLE.as_bytes(), ms(10), &mut |g| gaps.push(g));
        assert_eq!(probe.first_token(), None);
        probe.feed(content("Hel").as_bytes(), ms(50), &mut |g| gaps.push(g));
        probe.feed(content("lo").as_bytes(), ms(70), &mut |g| gaps.push(g));
        probe.feed(
            format!("{}{FINISH}data: [DONE]\n\n", content("!")).as_bytes(),
            ms(75),
            &mut |g| gaps.push(g),
        );
        assert_eq!(probe.first_token(), Some(ms(50)));
        assert_eq!(probe.content_chunks(), 3);
        assert_eq!(gaps, vec![ms(20), ms(5)]);
        assert!(probe.saw_done());
    }

    #[test]
    fn lines_split_anywhere_are_joined() {
        let stream = format!(
            "{ROLE}{}{}{FINISH}data: [DONE]\r\n\r\n",
            content("a"),
            content("b").replace('\n', "\r\n")
        );
        for split in 0..stream.len() {
            let (a, b) = stream.as_bytes().split_at(split);
            let mut probe = SseProbe::new();
            let mut gaps = 0;
            probe.feed(a, ms(1), &mut |_| gaps += 1);
            probe.feed(b, ms(2), &mut |_| gaps += 1);
            assert_eq!(probe.content_chunks(), 2, "split at {split}");
            assert_eq!(gaps, 1, "split at {split}");
            assert!(probe.saw_done(), "split at {split}");
        }
        // Byte by byte: the first token is stamped with the chunk that completed its line.
        let mut probe = SseProbe::new();
        for (i, byte) in stream.as_bytes().iter().enumerate() {
            probe.feed(std::slice::from_ref(byte), ms(i as u64), &mut |_| {});
        }
        let first_end = ROLE.len() + content("a").find('\n').unwrap();
        assert_eq!(probe.first_token(), Some(ms(first_end as u64)));
    }

    #[test]
    fn an_endless_line_is_skipped_with_bounded_memory() {
        let mut probe = SseProbe::new();
        let junk = vec![b'x'; 64 * 1024];
        for _ in 0..40 {
            probe.feed(&junk, ms(1), &mut |_| {});
        }
        assert!(probe.carry.len() <= MAX_LINE);
        probe.feed(
            format!("tail\n{}data: [DONE]\n", content("z")).as_bytes(),
            ms(2),
            &mut |_| {},
        );
        assert_eq!(probe.content_chunks(), 1);
        assert!(probe.saw_done());
    }

    #[test]
    fn a_stream_without_done_is_visible() {
        let mut probe = SseProbe::new();
        probe.feed(content("a").as_bytes(), ms(1), &mut |_| {});
        assert!(!probe.saw_done());
    }
}
