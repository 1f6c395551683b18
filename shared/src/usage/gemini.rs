//! Gemini `streamGenerateContent` responses. With `alt=sse` each event is one response
//! object; without it the stream is one JSON array whose objects arrive piece by piece, framed
//! here by [`ArrayFramer`]. Usage is the last `usageMetadata`; a `finishReason` ends the turn.

use super::Tally;
use super::json::{self, GeminiChunk};

/// One Gemini response object (never removed).
pub(super) fn data(tally: &mut Tally, data: &[u8]) -> bool {
    if json::contains(data, br#""parts""#) {
        tally.content_events += 1;
    }
    if json::contains(data, br#""finishReason""#) {
        tally.terminal = true;
    }
    if json::contains(data, br#""usageMetadata""#)
        && let Some(GeminiChunk {
            usage_metadata: Some(usage),
        }) = json::parse_object(data)
    {
        tally.usage = Some(usage.usage());
    }
    false
}

/// Finds the objects of a streamed top-level JSON array (`[{...},\r\n{...}]`) across chunk
/// boundaries, tracking strings and escapes so braces inside text do not count. Objects longer
/// than the limit are skipped.
pub(super) struct ArrayFramer {
    max_object: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Inside an element object of the array.
    in_object: bool,
    /// The current object's bytes from earlier chunks.
    carry: Vec<u8>,
    oversized: bool,
}

impl ArrayFramer {
    pub(super) fn new(max_object: usize) -> Self {
        ArrayFramer {
            max_object,
            depth: 0,
            in_string: false,
            escaped: false,
            in_object: false,
            carry: Vec::new(),
            oversized: false,
        }
    }

    /// Scans one chunk, handing each completed element object to `on_object`.
    pub(super) fn feed(&mut self, buf: &[u8], on_object: &mut dyn FnMut(&[u8])) {
        // Where the current object starts in `buf` (0 when it began in an earlier chunk).
        let mut start = 0;
        for (i, &b) in buf.iter().enumerate() {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth = self.depth.saturating_add(1);
                    if self.depth == 2 && b == b'{' {
                        self.in_object = true;
                        start = i;
                    }
                }
                b'}' | b']' => {
                    if self.depth == 2 && self.in_object {
                        self.complete(&buf[start..=i], on_object);
                    }
                    self.depth = self.depth.saturating_sub(1);
                }
                _ => {}
            }
        }
        if self.in_object && !self.oversized {
            let tail = &buf[start..];
            if self.carry.len() + tail.len() > self.max_object {
                self.oversized = true;
                self.carry = Vec::new();
            } else {
                self.carry.extend_from_slice(tail);
            }
        }
    }

    #[cfg(test)]
    pub(super) fn carried(&self) -> usize {
        self.carry.len()
    }

    fn complete(&mut self, last: &[u8], on_object: &mut dyn FnMut(&[u8])) {
        let fits = self.carry.len() + last.len() <= self.max_object;
        if !self.oversized && fits {
            if self.carry.is_empty() {
                on_object(last);
            } else {
                self.carry.extend_from_slice(last);
                on_object(&self.carry);
            }
        }
        self.carry.clear();
        self.in_object = false;
        self.oversized = false;
    }
}

#[cfg(test)]
mod tests {
    use crate::pricing::Usage;
    use crate::usage::samples;
    use crate::usage::{StreamFormat, StreamScanner};
    use bytes::Bytes;

    #[test]
    fn sse_usage_is_the_last_usage_metadata() {
        let mut scanner = StreamScanner::new(StreamFormat::Gemini, true);
        let out = scanner.feed(Bytes::from_static(samples::GEMINI_SSE.as_bytes()));
        assert_eq!(out, samples::GEMINI_SSE.as_bytes());
        // prompt 12 (+ 3 tool-use prompt), output 7 candidates + 20 thoughts
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 15,
                completion_tokens: 27,
                cached_tokens: 8,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        assert_eq!(scanner.content_events(), 2);
        assert!(scanner.saw_terminal_event());
    }

    #[test]
    fn json_array_stream_without_alt_sse() {
        let mut scanner = StreamScanner::new(StreamFormat::Gemini, false);
        let out = scanner.feed(Bytes::from_static(samples::GEMINI_ARRAY.as_bytes()));
        assert_eq!(out, samples::GEMINI_ARRAY.as_bytes());
        assert!(scanner.finish().is_empty());
        assert_eq!(
            scanner.usage(),
            Some(Usage {
                prompt_tokens: 6,
                completion_tokens: 4,
                cached_tokens: 0,
                cache_creation_tokens: 0,
                image_output_tokens: 0
            })
        );
        assert_eq!(scanner.content_events(), 2);
        assert!(scanner.saw_terminal_event());
    }
}
