//! Anthropic Messages API: `POST /v1/messages` as a `message` object or the event stream
//! (`message_start` with input usage, `content_block_start`, `ping`, `content_block_delta`...,
//! `content_block_stop`, `message_delta` with output usage, `message_stop`), and
//! `POST /v1/messages/count_tokens`.
//!
//! Usage numbers appear verbatim: `input_tokens` = prompt, `cache_read_input_tokens` = cached
//! (Anthropic counts cache reads outside `input_tokens`; set the numbers accordingly).

use super::errors::{self, Dialect};
use super::handler::{Ctx, HandlerResult, Reply, json};
use super::knobs::Usage;
use super::rng;
use super::sse::{EventSource, Stream, named_event};
use serde_json::{Value, json};

/// Creates a message.
pub(crate) fn messages(ctx: &Ctx) -> HandlerResult {
    let model = ctx.model(Dialect::Anthropic)?;
    let body = ctx.body(Dialect::Anthropic)?;
    if body.get("max_tokens").and_then(Value::as_u64).is_none() {
        let message = "max_tokens: Field required";
        return Err(errors::error(Dialect::Anthropic, 400, message, None));
    }
    let id = rng::id("msg_01");
    if ctx.wants_stream() {
        let usage = (!ctx.knobs.no_usage).then_some(ctx.knobs.usage);
        return Ok(Reply::Stream(Stream::sse(MessageStream {
            id,
            model,
            usage,
        })));
    }
    json(&json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": ctx.answer()}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": usage_object(&ctx.knobs.usage, ctx.knobs.usage.completion),
    }))
}

/// Counts the prompt's tokens (the configured prompt count).
pub(crate) fn count_tokens(ctx: &Ctx) -> HandlerResult {
    ctx.model(Dialect::Anthropic)?;
    json(&json!({"input_tokens": ctx.knobs.usage.prompt}))
}

fn usage_object(usage: &Usage, output_tokens: i64) -> Value {
    json!({
        "input_tokens": usage.prompt,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

struct MessageStream {
    id: String,
    model: String,
    usage: Option<Usage>,
}

impl EventSource for MessageStream {
    fn opening(&mut self, out: &mut Vec<Vec<u8>>) {
        let mut message = json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
        });
        if let Some(usage) = &self.usage {
            // Like Anthropic, the start already counts the first output token.
            message["usage"] = usage_object(usage, usage.completion.min(1));
        }
        let start = json!({"type": "message_start", "message": message});
        out.push(named_event("message_start", &start.to_string()));
        out.push(named_event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ));
        out.push(named_event("ping", r#"{"type": "ping"}"#));
    }

    fn delta(&mut self, _index: u32, text: &str) -> Vec<u8> {
        let json = [
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"#,
            &Ctx::quoted(text),
            "}}",
        ]
        .concat();
        named_event("content_block_delta", &json)
    }

    fn closing(&mut self, out: &mut Vec<Vec<u8>>) {
        out.push(named_event(
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ));
        let mut delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        });
        if let Some(usage) = &self.usage {
            delta["usage"] = json!({"output_tokens": usage.completion});
        }
        out.push(named_event("message_delta", &delta.to_string()));
        out.push(named_event("message_stop", r#"{"type":"message_stop"}"#));
    }
}
