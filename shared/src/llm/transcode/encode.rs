//! Encoders: [`StreamEvent`]s in, the client's own stream bytes out. Each always closes its
//! stream with its format's terminator ([`Encoder::close`]), also when the upstream cut it.

use serde_json::{Value, json};

use super::events::StreamEvent;
use crate::llm::convert::anthropic::{finish_to_anthropic, message_id};
use crate::llm::convert::gemini::finish_to_gemini;
use crate::llm::convert::openai_chat::{chat_id, finish_to_openai};
use crate::llm::convert::{arguments_object, now_secs};
use crate::llm::errors::{ApiError, ErrorKind};
use crate::llm::format::Family;
use crate::llm::ir::FinishReason;
use crate::llm::usage::Usage;

/// The most tool-call argument text a Gemini client's stream holds back (Gemini sends each
/// call whole); beyond it the arguments are cut and the call is sent as is.
pub(super) const MAX_HELD_ARGUMENTS: usize = 4 << 20;

/// What every encoder tracks.
#[derive(Default)]
pub(super) struct Common {
    pub(super) id: String,
    pub(super) model: String,
    pub(super) usage: Option<Usage>,
    pub(super) finish: Option<FinishReason>,
    pub(super) closed: bool,
}

/// An encoder for one client format.
pub(super) enum Encoder {
    OpenAiChat(OpenAiChat),
    Anthropic(Anthropic),
    Gemini(Gemini),
    Responses(Responses),
}

impl Encoder {
    pub(super) fn common(&mut self) -> &mut Common {
        match self {
            Encoder::OpenAiChat(e) => &mut e.common,
            Encoder::Anthropic(e) => &mut e.common,
            Encoder::Gemini(e) => &mut e.common,
            Encoder::Responses(e) => &mut e.common,
        }
    }

    /// Writes what `event` means for the client.
    pub(super) fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        if self.common().closed {
            return;
        }
        match event {
            StreamEvent::Start { id, model } => {
                let common = self.common();
                if common.id.is_empty() {
                    common.id = id;
                }
                if common.model.is_empty() {
                    common.model = model;
                }
            }
            StreamEvent::Usage(usage) => self.common().usage = Some(usage),
            StreamEvent::Finish(reason) => self.common().finish = Some(reason),
            StreamEvent::End => self.close(None, out),
            StreamEvent::Error(error) => self.close(Some(error), out),
            content => match self {
                Encoder::OpenAiChat(e) => e.content(content, out),
                Encoder::Anthropic(e) => e.content(content, out),
                Encoder::Gemini(e) => e.content(content, out),
                Encoder::Responses(e) => e.content(content, out),
            },
        }
        if let Encoder::OpenAiChat(e) = self {
            e.flush_finish(out);
        }
    }

    /// Ends the client's stream: the format's terminator, after an error event when the
    /// upstream failed or stopped early. Does nothing the second time.
    pub(super) fn close(&mut self, error: Option<ApiError>, out: &mut Vec<u8>) {
        if self.common().closed {
            return;
        }
        match self {
            Encoder::OpenAiChat(e) => e.close(error, out),
            Encoder::Anthropic(e) => e.close(error, out),
            Encoder::Gemini(e) => e.close(error, out),
            Encoder::Responses(e) => e.close(error, out),
        }
        self.common().closed = true;
    }
}

/// The error a stream that ended without its end marker reports.
pub(super) fn cut_error() -> ApiError {
    ApiError::new(
        ErrorKind::Internal,
        "the upstream stream ended before the answer was complete",
    )
}

fn sse_data(out: &mut Vec<u8>, value: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

fn sse_event(out: &mut Vec<u8>, name: &str, value: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    sse_data(out, value);
}

/// OpenAI chat completion chunks.
pub(super) struct OpenAiChat {
    pub(super) common: Common,
    created: u64,
    include_usage: bool,
    role_sent: bool,
    finish_sent: bool,
    /// Upstream tool index → OpenAI tool index, in order of appearance.
    tools: Vec<u64>,
}

impl OpenAiChat {
    pub(super) fn new(include_usage: bool) -> Self {
        OpenAiChat {
            common: Common::default(),
            created: now_secs(),
            include_usage,
            role_sent: false,
            finish_sent: false,
            tools: Vec::new(),
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": chat_id(&self.common.id),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.common.model,
            "choices": choices,
        })
    }

    fn delta(&mut self, mut delta: Value, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            delta["role"] = json!("assistant");
        }
        let chunk = self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}]));
        sse_data(out, &chunk);
    }

    fn tool_position(&mut self, index: u64) -> usize {
        match self.tools.iter().position(|i| *i == index) {
            Some(position) => position,
            None => {
                self.tools.push(index);
                self.tools.len() - 1
            }
        }
    }

    fn content(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Text(text) => self.delta(json!({"content": text}), out),
            StreamEvent::Reasoning(text) => self.delta(json!({"reasoning_content": text}), out),
            StreamEvent::ToolStart { index, id, name } => {
                let position = self.tool_position(index);
                let call = json!({"index": position, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}});
                self.delta(json!({"tool_calls": [call]}), out);
            }
            StreamEvent::ToolArguments { index, delta } => {
                let position = self.tool_position(index);
                let call = json!({"index": position, "function": {"arguments": delta}});
                self.delta(json!({"tool_calls": [call]}), out);
            }
            _ => {}
        }
    }

    /// The finish chunk goes out as soon as the reason is known.
    fn flush_finish(&mut self, out: &mut Vec<u8>) {
        if self.finish_sent || self.common.closed {
            return;
        }
        let Some(reason) = &self.common.finish else {
            return;
        };
        let reason = finish_to_openai(reason);
        self.finish_sent = true;
        let chunk = self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]));
        sse_data(out, &chunk);
    }

    fn close(&mut self, error: Option<ApiError>, out: &mut Vec<u8>) {
        match error {
            Some(error) => sse_data(out, &error_body(&error, Family::OpenAi)),
            None => self.flush_finish(out),
        }
        if self.include_usage
            && let Some(usage) = self.common.usage
        {
            let mut chunk = self.chunk(json!([]));
            chunk["usage"] = usage.to_openai();
            sse_data(out, &chunk);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}

fn error_body(error: &ApiError, family: Family) -> Value {
    serde_json::from_slice(&error.render(family).1).unwrap_or(Value::Null)
}

/// Which kind of Anthropic content block is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    Tool(u64),
}

/// Anthropic Messages events.
pub(super) struct Anthropic {
    pub(super) common: Common,
    started: bool,
    open: Option<(Block, u64)>,
    next_index: u64,
    /// Upstream tool index → block index.
    tools: Vec<(u64, u64)>,
}

impl Anthropic {
    pub(super) fn new() -> Self {
        Anthropic {
            common: Common::default(),
            started: false,
            open: None,
            next_index: 0,
            tools: Vec::new(),
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let usage = self.common.usage.unwrap_or_default();
        let mut usage_json = usage.to_anthropic();
        usage_json["output_tokens"] = json!(usage.output_tokens.min(1));
        sse_event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": message_id(&self.common.id), "type": "message", "role": "assistant",
                "model": self.common.model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": usage_json,
            }}),
        );
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            sse_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    /// Makes `block` the open one (closing another), announcing it with `start`.
    fn open_block(&mut self, block: Block, start: Value, out: &mut Vec<u8>) -> u64 {
        if let Some((open, index)) = self.open
            && open == block
        {
            return index;
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((block, index));
        sse_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        index
    }

    fn delta(out: &mut Vec<u8>, index: u64, delta: Value) {
        sse_event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn content(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        self.start(out);
        match event {
            StreamEvent::Text(text) => {
                let index = self.open_block(Block::Text, json!({"type": "text", "text": ""}), out);
                Self::delta(out, index, json!({"type": "text_delta", "text": text}));
            }
            StreamEvent::Reasoning(text) => {
                let index = self.open_block(
                    Block::Thinking,
                    json!({"type": "thinking", "thinking": ""}),
                    out,
                );
                Self::delta(
                    out,
                    index,
                    json!({"type": "thinking_delta", "thinking": text}),
                );
            }
            StreamEvent::ReasoningSignature(signature) => {
                let index = self.open_block(
                    Block::Thinking,
                    json!({"type": "thinking", "thinking": ""}),
                    out,
                );
                Self::delta(
                    out,
                    index,
                    json!({"type": "signature_delta", "signature": signature}),
                );
            }
            StreamEvent::ToolStart { index, id, name } => {
                self.close_block(out);
                let start = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                let block = self.open_block(Block::Tool(index), start, out);
                self.tools.push((index, block));
            }
            StreamEvent::ToolArguments { index, delta } => {
                // Arguments of a call already closed still go to its own block.
                let block = match self.open {
                    Some((Block::Tool(open), block)) if open == index => Some(block),
                    _ => self
                        .tools
                        .iter()
                        .find(|(i, _)| *i == index)
                        .map(|(_, b)| *b),
                };
                if let Some(block) = block {
                    Self::delta(
                        out,
                        block,
                        json!({"type": "input_json_delta", "partial_json": delta}),
                    );
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, error: Option<ApiError>, out: &mut Vec<u8>) {
        self.start(out);
        self.close_block(out);
        if let Some(error) = &error {
            sse_event(out, "error", &error_body(error, Family::Anthropic));
        }
        let finish = self.common.finish.clone().unwrap_or(FinishReason::Stop);
        let (reason, sequence) = finish_to_anthropic(&finish);
        let usage = self.common.usage.unwrap_or_default();
        sse_event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": sequence},
            "usage": usage.to_anthropic()}),
        );
        sse_event(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

/// Gemini `streamGenerateContent` chunks, as SSE or as one JSON array.
pub(super) struct Gemini {
    pub(super) common: Common,
    sse: bool,
    chunks_sent: bool,
    /// Calls held until complete: (upstream index, name, arguments so far).
    calls: Vec<(u64, String, String)>,
    held: usize,
}

impl Gemini {
    pub(super) fn new(sse: bool) -> Self {
        Gemini {
            common: Common::default(),
            sse,
            chunks_sent: false,
            calls: Vec::new(),
            held: 0,
        }
    }

    fn write(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if self.sse {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(chunk.to_string().as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
        } else {
            out.extend_from_slice(if self.chunks_sent { b",\r\n" } else { b"[" });
            out.extend_from_slice(chunk.to_string().as_bytes());
        }
        self.chunks_sent = true;
    }

    fn chunk(&self, parts: Vec<Value>) -> Value {
        let mut chunk = json!({
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "modelVersion": self.common.model,
        });
        if !self.common.id.is_empty() {
            chunk["responseId"] = json!(self.common.id);
        }
        chunk
    }

    fn content(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        match event {
            StreamEvent::Text(text) => {
                let chunk = self.chunk(vec![json!({"text": text})]);
                self.write(&chunk, out);
            }
            StreamEvent::Reasoning(text) => {
                let chunk = self.chunk(vec![json!({"text": text, "thought": true})]);
                self.write(&chunk, out);
            }
            StreamEvent::ToolStart { index, name, .. } => {
                self.calls.push((index, name, String::new()))
            }
            StreamEvent::ToolArguments { index, delta } => {
                if self.held.saturating_add(delta.len()) > MAX_HELD_ARGUMENTS {
                    return;
                }
                if let Some((_, _, arguments)) = self.calls.iter_mut().find(|(i, _, _)| *i == index)
                {
                    self.held += delta.len();
                    arguments.push_str(&delta);
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, error: Option<ApiError>, out: &mut Vec<u8>) {
        let parts: Vec<Value> = self
            .calls
            .drain(..)
            .map(|(_, name, arguments)| json!({"functionCall": {"name": name, "args": arguments_object(&arguments)}}))
            .collect();
        let finish = match (&error, &self.common.finish) {
            (Some(_), _) | (None, None) => "OTHER",
            (None, Some(reason)) => finish_to_gemini(reason),
        };
        let mut chunk = self.chunk(parts);
        chunk["candidates"][0]["finishReason"] = json!(finish);
        if let Some(usage) = self.common.usage {
            chunk["usageMetadata"] = usage.to_gemini();
        }
        if let Some(error) = &error {
            chunk["candidates"][0]["finishMessage"] = json!(error.message);
        }
        self.write(&chunk, out);
        if !self.sse {
            out.push(b']');
        }
    }
}

/// One output item of a Responses stream being written.
struct Item {
    kind: ItemKind,
    id: String,
    /// Text, reasoning or arguments so far (the done events and `response.completed` repeat
    /// it; held up to [`MAX_HELD_ARGUMENTS`] in all).
    text: String,
}

#[derive(Clone, PartialEq, Eq)]
enum ItemKind {
    Message,
    Reasoning,
    Call {
        index: u64,
        call_id: String,
        name: String,
    },
}

/// OpenAI Responses events.
pub(super) struct Responses {
    pub(super) common: Common,
    created_at: u64,
    sequence: u64,
    started: bool,
    /// Items closed, as they appear in `response.completed`.
    done: Vec<Value>,
    open: Option<Item>,
    held: usize,
}

impl Responses {
    pub(super) fn new() -> Self {
        Responses {
            common: Common::default(),
            created_at: now_secs(),
            sequence: 0,
            started: false,
            done: Vec::new(),
            open: None,
            held: 0,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, name: &str, mut event: Value) {
        event["type"] = json!(name);
        event["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        sse_event(out, name, &event);
    }

    fn response(&self, status: &str, output: Vec<Value>) -> Value {
        json!({
            "id": crate::llm::convert::openai_responses::response_id(&self.common.id),
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.common.model,
            "output": output,
            "usage": self.common.usage.map(|u| u.to_responses()),
        })
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.response("in_progress", Vec::new());
        self.emit(out, "response.created", json!({"response": response}));
        let response = self.response("in_progress", Vec::new());
        self.emit(out, "response.in_progress", json!({"response": response}));
    }

    fn item_json(item: &Item, status: &str) -> Value {
        match &item.kind {
            ItemKind::Message => {
                json!({"type": "message", "id": item.id, "status": status, "role": "assistant",
                "content": if status == "completed" { json!([{"type": "output_text", "text": item.text, "annotations": []}]) } else { json!([]) }})
            }
            ItemKind::Reasoning => json!({"type": "reasoning", "id": item.id,
                "summary": if status == "completed" { json!([{"type": "summary_text", "text": item.text}]) } else { json!([]) }}),
            ItemKind::Call { call_id, name, .. } => {
                json!({"type": "function_call", "id": item.id, "call_id": call_id,
                "name": name, "arguments": if status == "completed" { item.text.as_str() } else { "" }, "status": status})
            }
        }
    }

    fn close_item(&mut self, out: &mut Vec<u8>) {
        let Some(item) = self.open.take() else { return };
        let output_index = self.done.len();
        match &item.kind {
            ItemKind::Message => {
                let common =
                    json!({"item_id": item.id, "output_index": output_index, "content_index": 0});
                let mut done = common.clone();
                done["text"] = json!(item.text);
                self.emit(out, "response.output_text.done", done);
                let mut part = common;
                part["part"] = json!({"type": "output_text", "text": item.text, "annotations": []});
                self.emit(out, "response.content_part.done", part);
            }
            ItemKind::Reasoning => {
                let common =
                    json!({"item_id": item.id, "output_index": output_index, "summary_index": 0});
                let mut done = common.clone();
                done["text"] = json!(item.text);
                self.emit(out, "response.reasoning_summary_text.done", done);
                let mut part = common;
                part["part"] = json!({"type": "summary_text", "text": item.text});
                self.emit(out, "response.reasoning_summary_part.done", part);
            }
            ItemKind::Call { .. } => {
                let done = json!({"item_id": item.id, "output_index": output_index, "arguments": item.text});
                self.emit(out, "response.function_call_arguments.done", done);
            }
        }
        let finished = Self::item_json(&item, "completed");
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": finished.clone()}),
        );
        self.done.push(finished);
    }

    /// Makes an item of `kind` the open one; returns its id and output index.
    fn open_item(&mut self, kind: ItemKind, out: &mut Vec<u8>) -> (String, usize) {
        if let Some(item) = &self.open
            && item.kind == kind
        {
            return (item.id.clone(), self.done.len());
        }
        self.close_item(out);
        let output_index = self.done.len();
        let prefix = match kind {
            ItemKind::Message => "msg",
            ItemKind::Reasoning => "rs",
            ItemKind::Call { .. } => "fc",
        };
        let item = Item {
            kind,
            id: format!("{prefix}_{}_{output_index}", self.common.id),
            text: String::new(),
        };
        let added = Self::item_json(&item, "in_progress");
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": added}),
        );
        match &item.kind {
            ItemKind::Message => self.emit(out, "response.content_part.added", json!({"item_id": item.id,
                "output_index": output_index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}})),
            ItemKind::Reasoning => self.emit(out, "response.reasoning_summary_part.added", json!({"item_id": item.id,
                "output_index": output_index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}})),
            ItemKind::Call { .. } => {}
        }
        let id = item.id.clone();
        self.open = Some(item);
        (id, output_index)
    }

    fn hold(&mut self, text: &str) {
        if self.held.saturating_add(text.len()) <= MAX_HELD_ARGUMENTS
            && let Some(item) = &mut self.open
        {
            item.text.push_str(text);
            self.held += text.len();
        }
    }

    fn content(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        self.start(out);
        match event {
            StreamEvent::Text(text) => {
                let (id, index) = self.open_item(ItemKind::Message, out);
                self.emit(out, "response.output_text.delta", json!({"item_id": id, "output_index": index, "content_index": 0, "delta": text}));
                self.hold(&text);
            }
            StreamEvent::Reasoning(text) => {
                let (id, index) = self.open_item(ItemKind::Reasoning, out);
                self.emit(out, "response.reasoning_summary_text.delta", json!({"item_id": id, "output_index": index, "summary_index": 0, "delta": text}));
                self.hold(&text);
            }
            StreamEvent::ToolStart { index, id, name } => {
                self.close_item(out);
                self.open_item(
                    ItemKind::Call {
                        index,
                        call_id: id,
                        name,
                    },
                    out,
                );
            }
            StreamEvent::ToolArguments { index, delta } => {
                let open = match &self.open {
                    Some(Item {
                        kind: ItemKind::Call { index: open, .. },
                        id,
                        ..
                    }) if *open == index => Some(id.clone()),
                    _ => None,
                };
                if let Some(id) = open {
                    let output_index = self.done.len();
                    self.emit(
                        out,
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": output_index, "delta": delta}),
                    );
                    self.hold(&delta);
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, error: Option<ApiError>, out: &mut Vec<u8>) {
        self.start(out);
        self.close_item(out);
        let output = std::mem::take(&mut self.done);
        if let Some(error) = error {
            let mut response = self.response("failed", output);
            response["error"] = json!({"code": "server_error", "message": error.message});
            self.emit(out, "response.failed", json!({"response": response}));
            return;
        }
        let (name, status, details) = match self.common.finish {
            Some(FinishReason::Length) => (
                "response.incomplete",
                "incomplete",
                json!({"reason": "max_output_tokens"}),
            ),
            Some(FinishReason::ContentFilter) => (
                "response.incomplete",
                "incomplete",
                json!({"reason": "content_filter"}),
            ),
            _ => ("response.completed", "completed", Value::Null),
        };
        let mut response = self.response(status, output);
        response["incomplete_details"] = details;
        self.emit(out, name, json!({"response": response}));
    }
}
