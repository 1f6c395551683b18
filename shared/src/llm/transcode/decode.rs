//! Decoders: one upstream SSE event's data in, [`StreamEvent`]s out. Each keeps only what it
//! needs between events (ids, counters, usage merged so far), never the answer.

use serde_json::Value;

use super::events::StreamEvent;
use crate::llm::convert::anthropic::finish_from_anthropic;
use crate::llm::convert::gemini::finish_from_gemini;
use crate::llm::convert::openai_chat::finish_from_openai;
use crate::llm::convert::{arguments_text, array_of, str_of, string_of};
use crate::llm::errors::{ApiError, ErrorKind, parse_upstream_error};
use crate::llm::ir::{FinishReason, generated_call_id};
use crate::llm::usage::Usage;

/// A decoder for one upstream format.
pub(super) enum Decoder {
    OpenAiChat {
        started: bool,
    },
    Anthropic {
        usage: Usage,
    },
    Gemini {
        started: bool,
        calls: u64,
        called: bool,
    },
}

impl Decoder {
    /// Decodes one event's data into `out`.
    pub(super) fn data(&mut self, data: &[u8], out: &mut Vec<StreamEvent>) {
        let data = data.trim_ascii();
        if data.is_empty() {
            return;
        }
        match self {
            Decoder::OpenAiChat { started } => openai_chat(started, data, out),
            Decoder::Anthropic { usage } => anthropic(usage, data, out),
            Decoder::Gemini {
                started,
                calls,
                called,
            } => gemini(started, calls, called, data, out),
        }
    }
}

fn parse(data: &[u8]) -> Option<Value> {
    serde_json::from_slice(data).ok()
}

fn stream_error(value: &Value) -> ApiError {
    let status = value
        .pointer("/error/code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok());
    let mut error = parse_upstream_error(status.unwrap_or(500), value.to_string().as_bytes());
    if status.is_none() {
        error.status = None;
        if error.kind == ErrorKind::InvalidRequest {
            error.kind = ErrorKind::Internal;
        }
    }
    error
}

fn openai_chat(started: &mut bool, data: &[u8], out: &mut Vec<StreamEvent>) {
    if data == b"[DONE]" {
        out.push(StreamEvent::End);
        return;
    }
    let Some(chunk) = parse(data) else { return };
    if chunk.get("error").is_some() {
        out.push(StreamEvent::Error(stream_error(&chunk)));
        return;
    }
    if !*started {
        *started = true;
        out.push(StreamEvent::Start {
            id: string_of(&chunk, "id"),
            model: string_of(&chunk, "model"),
        });
    }
    // Only the first choice (`n` > 1 cannot be carried into formats with one answer).
    let first = |c: &&Value| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0;
    for choice in array_of(&chunk, "choices").iter().filter(first) {
        let delta = &choice["delta"];
        let reasoning = str_of(delta, "reasoning_content").or_else(|| str_of(delta, "reasoning"));
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Reasoning(text.to_owned()));
        }
        if let Some(text) = str_of(delta, "content").filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Text(text.to_owned()));
        }
        for call in array_of(delta, "tool_calls") {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let function = &call["function"];
            if let Some(name) = str_of(function, "name").filter(|n| !n.is_empty()) {
                out.push(StreamEvent::ToolStart {
                    index,
                    id: string_of(call, "id"),
                    name: name.to_owned(),
                });
            }
            if let Some(arguments) = str_of(function, "arguments").filter(|a| !a.is_empty()) {
                out.push(StreamEvent::ToolArguments {
                    index,
                    delta: arguments.to_owned(),
                });
            }
        }
        if let Some(reason) = str_of(choice, "finish_reason") {
            out.push(StreamEvent::Finish(finish_from_openai(reason)));
        }
    }
    if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
        out.push(StreamEvent::Usage(Usage::from_openai(usage)));
    }
}

fn anthropic(usage: &mut Usage, data: &[u8], out: &mut Vec<StreamEvent>) {
    let Some(event) = parse(data) else { return };
    match str_of(&event, "type").unwrap_or_default() {
        "message_start" => {
            let message = &event["message"];
            out.push(StreamEvent::Start {
                id: string_of(message, "id"),
                model: string_of(message, "model"),
            });
            if let Some(reported) = message.get("usage") {
                usage.merge_anthropic(reported);
                out.push(StreamEvent::Usage(*usage));
            }
        }
        "content_block_start" => {
            let block = &event["content_block"];
            let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
            match str_of(block, "type") {
                Some("tool_use") => out.push(StreamEvent::ToolStart {
                    index,
                    id: string_of(block, "id"),
                    name: string_of(block, "name"),
                }),
                Some("text") => {
                    if let Some(text) = str_of(block, "text").filter(|t| !t.is_empty()) {
                        out.push(StreamEvent::Text(text.to_owned()));
                    }
                }
                _ => {}
            }
        }
        "content_block_delta" => {
            let delta = &event["delta"];
            let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
            match str_of(delta, "type") {
                Some("text_delta") => out.push(StreamEvent::Text(string_of(delta, "text"))),
                Some("thinking_delta") => {
                    out.push(StreamEvent::Reasoning(string_of(delta, "thinking")))
                }
                Some("signature_delta") => out.push(StreamEvent::ReasoningSignature(string_of(
                    delta,
                    "signature",
                ))),
                Some("input_json_delta") => {
                    let partial = string_of(delta, "partial_json");
                    if !partial.is_empty() {
                        out.push(StreamEvent::ToolArguments {
                            index,
                            delta: partial,
                        });
                    }
                }
                _ => {}
            }
        }
        "message_delta" => {
            if let Some(reported) = event.get("usage") {
                usage.merge_anthropic(reported);
                out.push(StreamEvent::Usage(*usage));
            }
            if let Some(reason) = event.pointer("/delta/stop_reason").and_then(Value::as_str) {
                let sequence = event
                    .pointer("/delta/stop_sequence")
                    .and_then(Value::as_str);
                out.push(StreamEvent::Finish(finish_from_anthropic(reason, sequence)));
            }
        }
        "message_stop" => out.push(StreamEvent::End),
        "error" => out.push(StreamEvent::Error(stream_error(&event))),
        _ => {}
    }
}

fn gemini(
    started: &mut bool,
    calls: &mut u64,
    called: &mut bool,
    data: &[u8],
    out: &mut Vec<StreamEvent>,
) {
    let Some(chunk) = parse(data) else { return };
    if chunk.get("error").is_some() {
        out.push(StreamEvent::Error(stream_error(&chunk)));
        return;
    }
    if !*started {
        *started = true;
        out.push(StreamEvent::Start {
            id: string_of(&chunk, "responseId"),
            model: string_of(&chunk, "modelVersion"),
        });
    }
    // Usage first: a client stream that starts now (Anthropic's message_start) shows the input.
    if let Some(meta) = chunk.get("usageMetadata") {
        out.push(StreamEvent::Usage(Usage::from_gemini(meta)));
    }
    let candidate = array_of(&chunk, "candidates")
        .first()
        .unwrap_or(&Value::Null);
    for part in array_of(&candidate["content"], "parts") {
        if let Some(text) = str_of(part, "text") {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                out.push(StreamEvent::Reasoning(text.to_owned()));
            } else if !text.is_empty() {
                out.push(StreamEvent::Text(text.to_owned()));
            }
        } else if let Some(call) = part.get("functionCall") {
            *calls += 1;
            *called = true;
            let id = str_of(call, "id")
                .map_or_else(|| generated_call_id(*calls as usize), str::to_owned);
            out.push(StreamEvent::ToolStart {
                index: *calls,
                id,
                name: string_of(call, "name"),
            });
            out.push(StreamEvent::ToolArguments {
                index: *calls,
                delta: arguments_text(call.get("args")),
            });
        }
    }
    let blocked = chunk.pointer("/promptFeedback/blockReason").is_some();
    if let Some(reason) = str_of(candidate, "finishReason") {
        let finish = match finish_from_gemini(reason) {
            FinishReason::Stop if *called => FinishReason::ToolCalls,
            other => other,
        };
        out.push(StreamEvent::Finish(finish));
        out.push(StreamEvent::End);
    } else if blocked {
        out.push(StreamEvent::Finish(FinishReason::ContentFilter));
        out.push(StreamEvent::End);
    }
}
