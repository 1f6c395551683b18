//! `POST /v1/chat/completions`: a `chat.completion` object, or a stream of
//! `chat.completion.chunk` events ending with `data: [DONE]`, with the usage-only chunk
//! (`"choices": []`) before it exactly when `stream_options.include_usage` asked for it.

use super::{FINGERPRINT, completion_usage};
use crate::mock::errors::Dialect;
use crate::mock::handler::{Ctx, HandlerResult, Reply, json};
use crate::mock::knobs::Usage;
use crate::mock::rng;
use crate::mock::sse::{EventSource, Stream, data_event};
use serde_json::json;

/// Creates a chat completion.
pub(crate) fn create(ctx: &Ctx) -> HandlerResult {
    let model = ctx.model(Dialect::OpenAi)?;
    let id = rng::id("chatcmpl-");
    let created = rng::unix_now();
    if ctx.wants_stream() {
        let usage = ctx.include_usage().then_some(ctx.knobs.usage);
        let mut stream = ChatStream::new(&id, created, &model, usage);
        stream.finish_reason = ctx.finish_reason();
        return Ok(Reply::Stream(Stream::sse(stream)));
    }
    json(&json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": ctx.answer(),
                "refusal": null,
                "annotations": [],
            },
            "logprobs": null,
            "finish_reason": ctx.finish_reason(),
        }],
        "usage": completion_usage(&ctx.knobs.usage),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }))
}

/// Chunks rendered from a per-stream prefix (`{"id":..., "choices":`) so each event costs one
/// small concatenation.
struct ChatStream {
    prefix: String,
    /// `,"usage":null}` when usage was asked for (every chunk then carries the key), else `}`.
    suffix: &'static str,
    usage: Option<Usage>,
    finish_reason: &'static str,
}

impl ChatStream {
    fn new(id: &str, created: u64, model: &str, usage: Option<Usage>) -> Self {
        let prefix = format!(
            r#"{{"id":"{id}","object":"chat.completion.chunk","created":{created},"model":{},"service_tier":"default","system_fingerprint":"{FINGERPRINT}","choices":"#,
            Ctx::quoted(model)
        );
        let suffix = if usage.is_some() {
            r#","usage":null}"#
        } else {
            "}"
        };
        Self {
            prefix,
            suffix,
            usage,
            finish_reason: "stop",
        }
    }

    fn chunk(&self, choices: &str) -> Vec<u8> {
        data_event(&[self.prefix.as_str(), choices, self.suffix].concat())
    }
}

impl EventSource for ChatStream {
    fn opening(&mut self, out: &mut Vec<Vec<u8>>) {
        out.push(self.chunk(
            r#"[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]"#,
        ));
    }

    fn delta(&mut self, _index: u32, text: &str) -> Vec<u8> {
        self.chunk(
            &[
                r#"[{"index":0,"delta":{"content":"#,
                &Ctx::quoted(text),
                r#"},"logprobs":null,"finish_reason":null}]"#,
            ]
            .concat(),
        )
    }

    fn closing(&mut self, out: &mut Vec<Vec<u8>>) {
        let last = [
            r#"[{"index":0,"delta":{},"logprobs":null,"finish_reason":""#,
            self.finish_reason,
            r#""}]"#,
        ]
        .concat();
        out.push(self.chunk(&last));
        if let Some(usage) = &self.usage {
            let usage = completion_usage(usage).to_string();
            out.push(data_event(
                &[self.prefix.as_str(), r#"[],"usage":"#, &usage, "}"].concat(),
            ));
        }
        out.push(b"data: [DONE]\n\n".to_vec());
    }
}
