//! `POST /v1/responses`: a `response` object, or the Responses event stream
//! (`response.created`, `response.in_progress`, item and content-part events,
//! `response.output_text.delta`..., the `.done` events and `response.completed` carrying
//! `usage`). This API has no `[DONE]` marker.

use crate::mock::errors::Dialect;
use crate::mock::handler::{Ctx, HandlerResult, Reply, json};
use crate::mock::knobs::Usage;
use crate::mock::rng;
use crate::mock::sse::{EventSource, Stream, named_event};
use serde_json::{Value, json};

/// Creates a response.
pub(crate) fn create(ctx: &Ctx) -> HandlerResult {
    let model = ctx.model(Dialect::OpenAi)?;
    let ids = Ids {
        response: rng::id("resp_"),
        message: rng::id("msg_"),
        created: rng::unix_now(),
        model,
    };
    if ctx.wants_stream() {
        let usage = (!ctx.knobs.no_usage).then_some(ctx.knobs.usage);
        return Ok(Reply::Stream(Stream::sse(ResponseStream::new(ids, usage))));
    }
    let output = vec![ids.message_item("completed", &ctx.answer())];
    json(&ids.response_object("completed", output, response_usage(&ctx.knobs.usage)))
}

/// The `usage` object of the Responses API.
fn response_usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.prompt,
        "input_tokens_details": {"cached_tokens": usage.cached},
        "output_tokens": usage.completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total(),
    })
}

/// The identities one response is built around.
struct Ids {
    response: String,
    message: String,
    created: u64,
    model: String,
}

impl Ids {
    fn message_item(&self, status: &str, text: &str) -> Value {
        json!({
            "id": self.message,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
        })
    }

    fn response_object(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        json!({
            "id": self.response,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": null,
            "max_output_tokens": null,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "previous_response_id": null,
            "reasoning": {"effort": null, "summary": null},
            "service_tier": "default",
            "store": true,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": {},
        })
    }
}

struct ResponseStream {
    ids: Ids,
    usage: Option<Usage>,
    sequence: u64,
    text: String,
    /// `,"item_id":"msg_...","output_index":0,"content_index":0,"delta":` rendered once.
    delta_middle: String,
}

impl ResponseStream {
    fn new(ids: Ids, usage: Option<Usage>) -> Self {
        let delta_middle = format!(
            r#","item_id":"{}","output_index":0,"content_index":0,"delta":"#,
            ids.message
        );
        Self {
            ids,
            usage,
            sequence: 0,
            text: String::new(),
            delta_middle,
        }
    }

    fn event(&mut self, kind: &str, mut body: Value) -> Vec<u8> {
        if let Value::Object(fields) = &mut body {
            fields.insert("type".into(), kind.into());
            fields.insert("sequence_number".into(), self.sequence.into());
        }
        self.sequence += 1;
        named_event(kind, &body.to_string())
    }

    fn part(&self) -> Value {
        json!({"type": "output_text", "annotations": [], "logprobs": [], "text": self.text})
    }
}

impl EventSource for ResponseStream {
    fn opening(&mut self, out: &mut Vec<Vec<u8>>) {
        let pending = self
            .ids
            .response_object("in_progress", Vec::new(), Value::Null);
        out.push(self.event("response.created", json!({"response": pending})));
        out.push(self.event("response.in_progress", json!({"response": pending})));
        let item = json!({
            "id": self.ids.message, "type": "message", "status": "in_progress",
            "content": [], "role": "assistant",
        });
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": 0, "item": item}),
        ));
        let part = self.part();
        out.push(self.event(
            "response.content_part.added",
            json!({"item_id": self.ids.message, "output_index": 0, "content_index": 0, "part": part}),
        ));
    }

    fn delta(&mut self, _index: u32, text: &str) -> Vec<u8> {
        self.text.push_str(text);
        let json = [
            r#"{"type":"response.output_text.delta","sequence_number":"#,
            &self.sequence.to_string(),
            &self.delta_middle,
            &Ctx::quoted(text),
            r#","logprobs":[]}"#,
        ]
        .concat();
        self.sequence += 1;
        named_event("response.output_text.delta", &json)
    }

    fn closing(&mut self, out: &mut Vec<Vec<u8>>) {
        let message = self.ids.message.clone();
        out.push(self.event(
            "response.output_text.done",
            json!({
                "item_id": message, "output_index": 0, "content_index": 0,
                "text": self.text, "logprobs": [],
            }),
        ));
        let part = self.part();
        out.push(self.event(
            "response.content_part.done",
            json!({"item_id": message, "output_index": 0, "content_index": 0, "part": part}),
        ));
        let item = self.ids.message_item("completed", &self.text);
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": 0, "item": item.clone()}),
        ));
        let usage = self.usage.as_ref().map_or(Value::Null, response_usage);
        let done = self.ids.response_object("completed", vec![item], usage);
        out.push(self.event("response.completed", json!({"response": done})));
    }
}
