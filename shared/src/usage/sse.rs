//! Server-sent event framing over arbitrarily split chunks: finds where each event ends (a
//! blank line, `\n` or `\r\n` line endings), hands complete events to the scanner, keeps the
//! bounded carry-over of an event that spans chunks, and — when removal is on — holds back an
//! incomplete trailing event and assembles what is forwarded with as little copying as can be.

use std::borrow::Cow;

use bytes::Bytes;

/// Splits an SSE byte stream into events.
pub(super) struct SseFramer {
    /// Events longer than this are forwarded unparsed.
    max_event: usize,
    /// Whether events can be removed, so an incomplete one must be held back.
    removing: bool,
    /// The part of the current event seen in earlier chunks (parsing copy; when removing, also
    /// not yet forwarded).
    carry: Vec<u8>,
    /// The current event outgrew `max_event`: it is neither kept nor held, only forwarded.
    oversized: bool,
    /// Bytes of the current, unfinished line seen so far (without its `\n`).
    line_len: usize,
    /// The unfinished line so far is exactly `\r` (its `\n` may come in the next chunk).
    line_is_cr: bool,
}

impl SseFramer {
    pub(super) fn new(max_event: usize, removing: bool) -> Self {
        SseFramer {
            max_event,
            removing,
            carry: Vec::new(),
            oversized: false,
            line_len: 0,
            line_is_cr: false,
        }
    }

    /// Feeds one chunk; `on_event` sees every event completed by it and answers whether to
    /// remove it. Returns what to forward now.
    pub(super) fn feed(&mut self, chunk: &Bytes, on_event: &mut dyn FnMut(&[u8]) -> bool) -> Bytes {
        let buf = &chunk[..];
        let mut out = Output::Empty;
        // Start, in `buf`, of the current event's bytes (the rest is in `carry`).
        let mut event_start = 0;
        // When removing: `buf[..kept_from]` is already emitted or dropped.
        let mut kept_from = 0;
        let mut line_start = 0;
        for newline in memchr::memchr_iter(b'\n', buf) {
            let blank = self.ends_blank_line(&buf[line_start..newline]);
            line_start = newline + 1;
            if !blank {
                continue;
            }
            let end = newline + 1;
            let held = self.carry.len();
            let remove = if self.oversized || held + (end - event_start) > self.max_event {
                false
            } else if held == 0 {
                on_event(&buf[event_start..end])
            } else {
                self.carry.extend_from_slice(&buf[event_start..end]);
                let remove = on_event(&self.carry);
                self.carry.truncate(held);
                remove
            };
            if self.removing {
                if remove {
                    out.push_range(chunk, kept_from, event_start);
                    kept_from = end;
                } else if held > 0 {
                    // The event began in an earlier chunk: its held bytes go out first.
                    out.push_held(chunk, std::mem::take(&mut self.carry));
                }
            }
            self.carry.clear();
            self.oversized = false;
            event_start = end;
        }
        self.extend_line(&buf[line_start..]);
        let tail = &buf[event_start..];
        if !tail.is_empty() && !self.oversized {
            if self.carry.len() + tail.len() > self.max_event {
                // Too long to hold or parse: forward all of it from now on.
                self.oversized = true;
                if self.removing && !self.carry.is_empty() {
                    out.push_held(chunk, std::mem::take(&mut self.carry));
                }
                self.carry = Vec::new();
            } else {
                self.carry.extend_from_slice(tail);
                if self.removing {
                    out.push_range(chunk, kept_from, event_start);
                    kept_from = buf.len();
                }
            }
        }
        if !self.removing {
            return chunk.clone();
        }
        out.push_range(chunk, kept_from, buf.len());
        out.into_bytes(chunk)
    }

    /// End of stream: an unterminated last event is still scanned (upstreams that omit the
    /// final blank line still report usage), and, when removing, forwarded unless removed.
    pub(super) fn finish(&mut self, on_event: &mut dyn FnMut(&[u8]) -> bool) -> Bytes {
        let carry = std::mem::take(&mut self.carry);
        let was_oversized = std::mem::replace(&mut self.oversized, false);
        self.line_len = 0;
        self.line_is_cr = false;
        if carry.is_empty() || was_oversized {
            return Bytes::new();
        }
        let remove = on_event(&carry);
        if self.removing && !remove {
            Bytes::from(carry)
        } else {
            Bytes::new()
        }
    }

    #[cfg(test)]
    pub(super) fn carried(&self) -> usize {
        self.carry.len()
    }

    /// Whether the line completed by a `\n` after `segment` is blank (empty or just `\r`),
    /// counting what earlier chunks contributed to it.
    fn ends_blank_line(&mut self, segment: &[u8]) -> bool {
        let len = self.line_len + segment.len();
        let blank = len == 0
            || (len == 1
                && match segment {
                    [] => self.line_is_cr,
                    [only] => *only == b'\r',
                    _ => false,
                });
        self.line_len = 0;
        self.line_is_cr = false;
        blank
    }

    /// Records the start of a line that continues in the next chunk.
    fn extend_line(&mut self, segment: &[u8]) {
        if segment.is_empty() {
            return;
        }
        self.line_is_cr = self.line_len == 0 && segment == b"\r";
        self.line_len += segment.len();
    }
}

/// What one feed forwards, built lazily: a slice of the chunk while it is one contiguous
/// range, a fresh buffer only once pieces must be joined.
enum Output {
    Empty,
    Range(usize, usize),
    Built(Vec<u8>),
}

impl Output {
    fn push_range(&mut self, chunk: &Bytes, start: usize, end: usize) {
        if start >= end {
            return;
        }
        *self = match std::mem::replace(self, Output::Empty) {
            Output::Empty => Output::Range(start, end),
            Output::Range(a, b) if b == start => Output::Range(a, end),
            Output::Range(a, b) => {
                let mut joined = Vec::with_capacity(b - a + end - start);
                joined.extend_from_slice(&chunk[a..b]);
                joined.extend_from_slice(&chunk[start..end]);
                Output::Built(joined)
            }
            Output::Built(mut joined) => {
                joined.extend_from_slice(&chunk[start..end]);
                Output::Built(joined)
            }
        };
    }

    fn push_held(&mut self, chunk: &Bytes, held: Vec<u8>) {
        *self = match std::mem::replace(self, Output::Empty) {
            Output::Empty => Output::Built(held),
            Output::Range(a, b) => {
                let mut joined = Vec::with_capacity(b - a + held.len());
                joined.extend_from_slice(&chunk[a..b]);
                joined.extend_from_slice(&held);
                Output::Built(joined)
            }
            Output::Built(mut joined) => {
                joined.extend_from_slice(&held);
                Output::Built(joined)
            }
        };
    }

    fn into_bytes(self, chunk: &Bytes) -> Bytes {
        match self {
            Output::Empty => Bytes::new(),
            Output::Range(0, end) if end == chunk.len() => chunk.clone(),
            Output::Range(start, end) => chunk.slice(start..end),
            Output::Built(joined) => Bytes::from(joined),
        }
    }
}

/// The data of one event: its `data:` lines' values (one optional space after the colon
/// removed) joined by `\n`; `None` when it has none. Borrowed unless there are several.
pub(super) fn event_data(event: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut data: Option<Cow<'_, [u8]>> = None;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', event).chain(std::iter::once(event.len()));
    for end in ends {
        let line = &event[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(value) = line.strip_prefix(b"data:") else {
            continue;
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        data = Some(match data {
            None => Cow::Borrowed(value),
            Some(earlier) => {
                let mut joined = earlier.into_owned();
                joined.push(b'\n');
                joined.extend_from_slice(value);
                Cow::Owned(joined)
            }
        });
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_of(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut framer = SseFramer::new(1 << 20, false);
        let mut seen = Vec::new();
        for chunk in chunks {
            let chunk = Bytes::copy_from_slice(chunk);
            let out = framer.feed(&chunk, &mut |e| {
                seen.push(e.to_vec());
                false
            });
            assert_eq!(out, chunk);
        }
        framer.finish(&mut |e| {
            seen.push(e.to_vec());
            false
        });
        seen
    }

    #[test]
    fn blank_lines_end_events_whatever_the_line_endings_and_splits() {
        let events = events_of(&[
            b"data: a\n",
            b"\ndata: b\r",
            b"\n\r",
            b"\ndata: c\n\ndata: d",
        ]);
        let expected: Vec<&[u8]> = vec![
            b"data: a\n\n",
            b"data: b\r\n\r\n",
            b"data: c\n\n",
            b"data: d",
        ];
        assert_eq!(events, expected);
    }

    #[test]
    fn data_lines_are_joined() {
        assert_eq!(
            event_data(b"event: x\ndata: a\ndata:b\n\n").as_deref(),
            Some(&b"a\nb"[..])
        );
        assert_eq!(
            event_data(b"data: one\r\n\r\n").as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(event_data(b": comment\n\n"), None);
    }
}
