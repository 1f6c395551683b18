//! Streamed answers on their way to the client: [`Transcoder::feed`] takes upstream chunks
//! split anywhere (inside an event, inside a UTF-8 character) and returns the client's bytes
//! event by event; [`Transcoder::finish`] always ends the client's stream with its format's
//! terminator, also when the upstream cut it; [`Transcoder::usage`] is the upstream's own
//! usage, read in the upstream's format.
//!
//! Memory: at most one upstream event (1 MiB, the usage scanner's bound) is carried between
//! chunks; a Gemini client's tool-call arguments are held until the call is complete (Gemini
//! sends calls whole), up to 4 MiB in all.
//!
//! The SSE framing is the usage scanner's own (`shared/src/usage/sse.rs`, included here by
//! path so there is one framer). When the relay moves to this module, the usage scanner's
//! stream half (`usage::StreamScanner`) is replaced by [`Transcoder`] in passthrough mode and
//! the framer should move here for good.

mod decode;
mod encode;
mod events;
mod passthrough;
#[cfg(test)]
mod samples;
#[path = "../../usage/sse.rs"]
#[expect(
    clippy::duplicate_mod,
    reason = "one SSE framer for the usage scanner and the transcoder; usage/ is not this module's to change yet"
)]
mod sse;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::errors::{ApiError, ErrorKind};
use super::format::ApiFormat;
use super::usage::Usage;
use decode::Decoder;
use encode::Encoder;
pub use events::StreamEvent;
use passthrough::Passthrough;
use sse::SseFramer;

/// The longest upstream event that is decoded; a longer one is skipped.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// How the client wants its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientStream {
    /// The client's format.
    pub format: ApiFormat,
    /// Gemini clients: `alt=sse` (else one streamed JSON array). Ignored for others.
    pub sse: bool,
    /// OpenAI clients: the client asked for the usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The model name shown to the client (the one it asked for); empty keeps the upstream's.
    pub model: String,
}

/// A streamed answer's transcoder (or passthrough, for same-format pairs).
pub struct Transcoder {
    inner: Inner,
}

enum Inner {
    Passthrough(Passthrough),
    Convert(Box<Converting>),
}

/// Upstream events decoded to [`StreamEvent`]s and encoded for the client.
struct Converting {
    framer: SseFramer,
    decoder: Decoder,
    encoder: Encoder,
    usage: Option<Usage>,
    terminal: bool,
    content_events: u64,
    events: Vec<StreamEvent>,
}

impl Transcoder {
    /// A transcoder from an upstream streaming in `upstream` (always SSE: Gemini upstreams are
    /// asked for `alt=sse`) to `client`. Same format: passthrough (Gemini SSE to a JSON-array
    /// client is reframed). Errors for pairs without a streaming converter (Responses and the
    /// the other OpenAI formats stream only from themselves).
    pub fn new(upstream: ApiFormat, client: ClientStream) -> Result<Self, ApiError> {
        if upstream == client.format {
            let reframe = upstream == ApiFormat::Gemini && !client.sse;
            let strip = !client.include_usage;
            return Ok(Transcoder {
                inner: Inner::Passthrough(Passthrough::new(upstream, strip, reframe)),
            });
        }
        let decoder = match upstream {
            ApiFormat::OpenAiChat => Decoder::OpenAiChat { started: false },
            ApiFormat::Anthropic => Decoder::Anthropic {
                usage: Usage::default(),
            },
            ApiFormat::Gemini => Decoder::Gemini {
                started: false,
                calls: 0,
                called: false,
            },
            other => return Err(unsupported(other, client.format)),
        };
        let mut encoder = match client.format {
            ApiFormat::OpenAiChat => {
                Encoder::OpenAiChat(encode::OpenAiChat::new(client.include_usage))
            }
            ApiFormat::Anthropic => Encoder::Anthropic(encode::Anthropic::new()),
            ApiFormat::Gemini => Encoder::Gemini(encode::Gemini::new(client.sse)),
            ApiFormat::OpenAiResponses => Encoder::Responses(encode::Responses::new()),
            other => return Err(unsupported(upstream, other)),
        };
        encoder.common().model = client.model;
        Ok(Transcoder {
            inner: Inner::Convert(Box::new(Converting {
                framer: SseFramer::new(MAX_EVENT_BYTES, false),
                decoder,
                encoder,
                usage: None,
                terminal: false,
                content_events: 0,
                events: Vec::new(),
            })),
        })
    }

    /// One upstream chunk in; the client's bytes for every event it completed out.
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        match &mut self.inner {
            Inner::Passthrough(passthrough) => passthrough.feed(chunk),
            Inner::Convert(converting) => converting.feed(&chunk),
        }
    }

    /// End of the upstream stream: the last (unterminated) event, then the client format's
    /// terminator if it was not written yet (with an error event first when the upstream
    /// stopped before its own end marker).
    pub fn finish(&mut self) -> Bytes {
        match &mut self.inner {
            Inner::Passthrough(passthrough) => passthrough.finish(),
            Inner::Convert(converting) => converting.finish(),
        }
    }

    /// The upstream's usage so far (the latest report), in full detail.
    pub fn usage(&self) -> Option<Usage> {
        match &self.inner {
            Inner::Passthrough(passthrough) => passthrough.usage(),
            Inner::Convert(converting) => converting.usage,
        }
    }

    /// Whether the upstream's end marker was seen (`[DONE]`, `message_stop`, a Gemini
    /// `finishReason`): a stream without it was cut.
    pub fn saw_terminal_event(&self) -> bool {
        match &self.inner {
            Inner::Passthrough(passthrough) => passthrough.terminal(),
            Inner::Convert(converting) => converting.terminal,
        }
    }

    /// Upstream events that carried content: the basis of an estimate when no usage came.
    pub fn content_events(&self) -> u64 {
        match &self.inner {
            Inner::Passthrough(passthrough) => passthrough.content_events(),
            Inner::Convert(converting) => converting.content_events,
        }
    }

    /// Whether the bytes go out unchanged (apart from OpenAI's usage-only chunk).
    pub fn is_passthrough(&self) -> bool {
        matches!(self.inner, Inner::Passthrough(_))
    }

    #[cfg(test)]
    fn carried(&self) -> usize {
        match &self.inner {
            Inner::Passthrough(passthrough) => passthrough.carried(),
            Inner::Convert(converting) => converting.framer.carried(),
        }
    }
}

fn unsupported(upstream: ApiFormat, client: ApiFormat) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!("streaming from {upstream:?} to {client:?} is not supported"),
    )
}

impl Converting {
    fn feed(&mut self, chunk: &Bytes) -> Bytes {
        let Converting {
            framer,
            decoder,
            events,
            ..
        } = self;
        framer.feed(chunk, &mut |event| {
            if let Some(data) = sse::event_data(event) {
                decoder.data(&data, events);
            }
            false
        });
        self.drain()
    }

    fn finish(&mut self) -> Bytes {
        let Converting {
            framer,
            decoder,
            events,
            ..
        } = self;
        framer.finish(&mut |event| {
            if let Some(data) = sse::event_data(event) {
                decoder.data(&data, events);
            }
            false
        });
        let mut out = self.drain().to_vec();
        let error = (!self.terminal).then(encode::cut_error);
        self.encoder.close(error, &mut out);
        Bytes::from(out)
    }

    fn drain(&mut self) -> Bytes {
        let mut out = Vec::new();
        for event in std::mem::take(&mut self.events) {
            match &event {
                StreamEvent::Usage(usage) => self.usage = Some(*usage),
                StreamEvent::End | StreamEvent::Error(_) => self.terminal = true,
                StreamEvent::Text(_)
                | StreamEvent::Reasoning(_)
                | StreamEvent::ToolStart { .. }
                | StreamEvent::ToolArguments { .. } => self.content_events += 1,
                _ => {}
            }
            self.encoder.event(event, &mut out);
        }
        Bytes::from(out)
    }
}
