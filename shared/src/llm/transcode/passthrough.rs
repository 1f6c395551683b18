//! Same format on both sides: the bytes go out as they came (no copy), each event's data only
//! probed for usage and the end marker. Two changes only: OpenAI's usage-only chunk is removed
//! when the client did not ask for it, and a Gemini SSE stream is reframed as the JSON array a
//! client without `alt=sse` expects.

use bytes::Bytes;
use serde_json::Value;

use super::MAX_EVENT_BYTES;
use super::sse::{SseFramer, event_data};
use crate::llm::format::ApiFormat;
use crate::llm::usage::Usage;

pub(super) struct Passthrough {
    format: ApiFormat,
    framer: SseFramer,
    strip_usage_only: bool,
    /// Gemini SSE in, JSON array out.
    reframe: bool,
    array_started: bool,
    scan: Scan,
}

#[derive(Default)]
struct Scan {
    usage: Option<Usage>,
    anthropic: Usage,
    terminal: bool,
    content_events: u64,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl Scan {
    /// One event's data; returns whether it is OpenAI's usage-only chunk.
    fn data(&mut self, format: ApiFormat, data: &[u8]) -> bool {
        let data = data.trim_ascii();
        match format {
            ApiFormat::Anthropic => {
                if contains(data, b"\"content_block_delta\"") {
                    self.content_events += 1;
                } else if contains(data, b"\"message_stop\"") {
                    self.terminal = true;
                } else if contains(data, b"\"usage\"")
                    && let Ok(event) = serde_json::from_slice::<Value>(data)
                {
                    let usage = event
                        .pointer("/message/usage")
                        .or_else(|| event.get("usage"));
                    if let Some(usage) = usage {
                        self.anthropic.merge_anthropic(usage);
                        self.usage = Some(self.anthropic);
                    }
                }
                false
            }
            ApiFormat::Gemini => {
                if contains(data, b"\"parts\"") {
                    self.content_events += 1;
                }
                if contains(data, b"\"finishReason\"") {
                    self.terminal = true;
                }
                if contains(data, b"\"usageMetadata\"")
                    && let Ok(chunk) = serde_json::from_slice::<Value>(data)
                    && let Some(meta) = chunk.get("usageMetadata")
                {
                    self.usage = Some(Usage::from_gemini(meta));
                }
                false
            }
            ApiFormat::OpenAiResponses => {
                if contains(data, b".delta\"") {
                    self.content_events += 1;
                } else if (contains(data, b"\"response.completed\"")
                    || contains(data, b"\"response.incomplete\"")
                    || contains(data, b"\"response.failed\""))
                    && let Ok(event) = serde_json::from_slice::<Value>(data)
                {
                    self.terminal = true;
                    if let Some(usage) = event.pointer("/response/usage").filter(|u| u.is_object())
                    {
                        self.usage = Some(Usage::from_responses(usage));
                    }
                }
                false
            }
            _ => {
                if data == b"[DONE]" {
                    self.terminal = true;
                    return false;
                }
                if contains(data, b"\"delta\"") || contains(data, b"\"text\"") {
                    self.content_events += 1;
                }
                if !contains(data, b"\"usage\"") {
                    return false;
                }
                let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
                    return false;
                };
                let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) else {
                    return false;
                };
                self.usage = Some(Usage::from_openai(usage));
                chunk
                    .get("choices")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
            }
        }
    }
}

impl Passthrough {
    pub(super) fn new(format: ApiFormat, strip_usage_only: bool, reframe: bool) -> Self {
        let strip = strip_usage_only
            && matches!(format, ApiFormat::OpenAiChat | ApiFormat::OpenAiCompletions);
        Passthrough {
            format,
            framer: SseFramer::new(MAX_EVENT_BYTES, strip || reframe),
            strip_usage_only: strip,
            reframe,
            array_started: false,
            scan: Scan::default(),
        }
    }

    pub(super) fn feed(&mut self, chunk: Bytes) -> Bytes {
        if self.reframe {
            let mut out = Vec::new();
            let Passthrough {
                framer,
                scan,
                format,
                array_started,
                ..
            } = self;
            framer.feed(&chunk, &mut |event| {
                reframe_event(*format, scan, array_started, event, &mut out);
                true
            });
            return Bytes::from(out);
        }
        let Passthrough {
            framer,
            scan,
            format,
            strip_usage_only,
            ..
        } = self;
        framer.feed(&chunk, &mut |event| {
            let usage_only = event_data(event).is_some_and(|data| scan.data(*format, &data));
            *strip_usage_only && usage_only
        })
    }

    pub(super) fn finish(&mut self) -> Bytes {
        if self.reframe {
            let mut out = Vec::new();
            let Passthrough {
                framer,
                scan,
                format,
                array_started,
                ..
            } = self;
            framer.finish(&mut |event| {
                reframe_event(*format, scan, array_started, event, &mut out);
                true
            });
            out.extend_from_slice(if *array_started { b"]" } else { b"[]" });
            return Bytes::from(out);
        }
        let Passthrough {
            framer,
            scan,
            format,
            strip_usage_only,
            ..
        } = self;
        framer.finish(&mut |event| {
            let usage_only = event_data(event).is_some_and(|data| scan.data(*format, &data));
            *strip_usage_only && usage_only
        })
    }

    pub(super) fn usage(&self) -> Option<Usage> {
        self.scan.usage
    }

    pub(super) fn terminal(&self) -> bool {
        self.scan.terminal
    }

    pub(super) fn content_events(&self) -> u64 {
        self.scan.content_events
    }

    #[cfg(test)]
    pub(super) fn carried(&self) -> usize {
        self.framer.carried()
    }
}

/// One Gemini SSE event written as the next element of a JSON array.
fn reframe_event(
    format: ApiFormat,
    scan: &mut Scan,
    started: &mut bool,
    event: &[u8],
    out: &mut Vec<u8>,
) {
    let Some(data) = event_data(event) else {
        return;
    };
    let data = data.trim_ascii();
    if data.is_empty() {
        return;
    }
    scan.data(format, data);
    out.extend_from_slice(if *started { b",\r\n" } else { b"[" });
    out.extend_from_slice(data);
    *started = true;
}
