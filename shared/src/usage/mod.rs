//! Token usage read from upstream responses as they stream past: [`StreamScanner`] watches a
//! streamed response chunk by chunk (forwarding the chunks untouched, or minus OpenAI's
//! usage-only chunk), and [`usage_from_json`] reads a complete body. The numbers are the
//! upstream's own; when it never sends them, [`StreamScanner::content_events`] is the basis of
//! an estimate.
//!
//! Cost: a content event costs a few substring scans; JSON is parsed only for the events that
//! can carry usage. Memory: at most one event (1 MiB) is carried between chunks.

mod anthropic;
mod gemini;
mod json;
mod openai;
#[cfg(test)]
mod samples;
mod sse;
#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use crate::pricing::Usage;
pub use json::usage_from_json;

use gemini::ArrayFramer;
use json::AnthropicUsage;
use sse::SseFramer;

/// The longest event (or Gemini array element) that is parsed; longer ones are forwarded
/// unparsed and scanning resumes at the next event.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The shape of a streamed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFormat {
    /// `/v1/chat/completions` with `stream: true`.
    OpenAiChat,
    /// Legacy `/v1/completions` with `stream: true`.
    OpenAiCompletions,
    /// `/v1/responses` with `stream: true`.
    OpenAiResponses,
    /// Anthropic `/v1/messages` with `stream: true`.
    Anthropic,
    /// Gemini `streamGenerateContent`, with `alt=sse` or as a streamed JSON array.
    Gemini,
}

/// The shape of a complete (non-streaming) response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `/v1/chat/completions`.
    OpenAiChat,
    /// Legacy `/v1/completions`.
    OpenAiCompletions,
    /// `/v1/embeddings` (prompt tokens only).
    OpenAiEmbeddings,
    /// `/v1/responses`.
    OpenAiResponses,
    /// Anthropic `/v1/messages`.
    Anthropic,
    /// Gemini `generateContent`.
    Gemini,
}

/// What has been learnt from the events so far; the format modules update it.
struct Tally {
    format: StreamFormat,
    /// Remove OpenAI's usage-only chunk from what is forwarded.
    remove_usage_only: bool,
    usage: Option<Usage>,
    /// Anthropic's counts arrive in several events and are merged.
    anthropic: AnthropicUsage,
    content_events: u64,
    terminal: bool,
}

impl Tally {
    /// One SSE event; returns whether to remove it from what is forwarded.
    fn on_event(&mut self, event: &[u8]) -> bool {
        match sse::event_data(event) {
            Some(data) => self.on_data(&data),
            None => false,
        }
    }

    /// One event's data (or one Gemini array element).
    fn on_data(&mut self, data: &[u8]) -> bool {
        match self.format {
            StreamFormat::OpenAiChat | StreamFormat::OpenAiCompletions => {
                openai::chat_data(self, data)
            }
            StreamFormat::OpenAiResponses => openai::responses_data(self, data),
            StreamFormat::Anthropic => anthropic::data(self, data),
            StreamFormat::Gemini => gemini::data(self, data),
        }
    }
}

/// How the stream is framed; Gemini's is known from its first non-blank byte. Until then the
/// blank bytes go to the SSE framer it may become (a line they begin is not a `data:` line),
/// so the result does not depend on whether they came in a chunk of their own.
enum Framing {
    Undecided(SseFramer),
    Sse(SseFramer),
    JsonArray(ArrayFramer),
}

/// Watches one streamed response on its way to the client.
pub struct StreamScanner {
    tally: Tally,
    framing: Framing,
    max_event: usize,
}

impl StreamScanner {
    /// A scanner for a stream of `format`. `strip_usage_only_chunk` removes OpenAI's
    /// usage-only chunk (`"choices":[]` with `usage`) from what is forwarded — for when the
    /// relay injected `stream_options.include_usage` and the client did not ask for it. It
    /// only applies to [`StreamFormat::OpenAiChat`] and [`StreamFormat::OpenAiCompletions`].
    pub fn new(format: StreamFormat, strip_usage_only_chunk: bool) -> Self {
        Self::with_max_event(format, strip_usage_only_chunk, MAX_EVENT_BYTES)
    }

    fn with_max_event(format: StreamFormat, strip: bool, max_event: usize) -> Self {
        let remove_usage_only = strip
            && matches!(
                format,
                StreamFormat::OpenAiChat | StreamFormat::OpenAiCompletions
            );
        let framing = match format {
            StreamFormat::Gemini => Framing::Undecided(SseFramer::new(max_event, false)),
            _ => Framing::Sse(SseFramer::new(max_event, remove_usage_only)),
        };
        StreamScanner {
            tally: Tally {
                format,
                remove_usage_only,
                usage: None,
                anthropic: AnthropicUsage::default(),
                content_events: 0,
                terminal: false,
            },
            framing,
            max_event,
        }
    }

    /// Feeds one upstream chunk (split anywhere) and returns what to forward now. Unless an
    /// event is removed or held back, that is `chunk` itself (no copy). With removal on, an
    /// incomplete trailing event is held back until it completes (so a split usage chunk can
    /// still be removed) and released by a later feed or by [`StreamScanner::finish`].
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        let tally = &mut self.tally;
        if let Framing::Undecided(waiting) = &mut self.framing {
            self.framing = match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                // Only blank bytes so far.
                None => return waiting.feed(&chunk, &mut |event| tally.on_event(event)),
                Some(b'[') => Framing::JsonArray(ArrayFramer::new(self.max_event)),
                Some(_) => Framing::Sse(std::mem::replace(
                    waiting,
                    SseFramer::new(self.max_event, false),
                )),
            };
        }
        match &mut self.framing {
            Framing::Sse(framer) => framer.feed(&chunk, &mut |event| tally.on_event(event)),
            Framing::JsonArray(framer) => {
                framer.feed(&chunk, &mut |object| {
                    tally.on_data(object);
                });
                chunk
            }
            Framing::Undecided(_) => chunk,
        }
    }

    /// End of stream: whatever was still held back (empty unless removal is on and the stream
    /// ended inside an event). An unterminated last event is scanned too.
    pub fn finish(&mut self) -> Bytes {
        let tally = &mut self.tally;
        match &mut self.framing {
            Framing::Sse(framer) | Framing::Undecided(framer) => {
                framer.finish(&mut |event| tally.on_event(event))
            }
            Framing::JsonArray(_) => Bytes::new(),
        }
    }

    /// The upstream's own usage numbers, once seen (the latest report wins).
    pub fn usage(&self) -> Option<Usage> {
        self.tally.usage
    }

    /// How many events carried generated content (about one token each): the basis of an
    /// estimate when the upstream never reported usage (client gone, upstream error
    /// mid-stream).
    pub fn content_events(&self) -> u64 {
        self.tally.content_events
    }

    /// Whether the stream's end marker was seen: `[DONE]`, `message_stop`,
    /// `response.completed` (or `.incomplete` / `.failed`), or a Gemini `finishReason`.
    pub fn saw_terminal_event(&self) -> bool {
        self.tally.terminal
    }

    /// Bytes carried over between chunks (tests check the bound).
    #[cfg(test)]
    fn carried(&self) -> usize {
        match &self.framing {
            Framing::Sse(framer) | Framing::Undecided(framer) => framer.carried(),
            Framing::JsonArray(framer) => framer.carried(),
        }
    }
}
