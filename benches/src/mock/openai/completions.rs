//! `POST /v1/completions` (legacy text completions): a `text_completion` object, or a stream
//! of `text_completion` chunks ending with `data: [DONE]` (usage chunk only when asked for).

use super::{FINGERPRINT, completion_usage, input_count};
use crate::mock::errors::Dialect;
use crate::mock::handler::{Ctx, HandlerResult, Reply, json};
use crate::mock::knobs::Usage;
use crate::mock::rng;
use crate::mock::sse::{EventSource, Stream, data_event};
use serde_json::{Value, json};

/// Creates a text completion (one choice per prompt).
pub(crate) fn create(ctx: &Ctx) -> HandlerResult {
    let model = ctx.model(Dialect::OpenAi)?;
    let id = rng::id("cmpl-");
    let created = rng::unix_now();
    if ctx.wants_stream() {
        let usage = ctx.include_usage().then_some(ctx.knobs.usage);
        return Ok(Reply::Stream(Stream::sse(CompletionStream::new(
            &id, created, &model, usage,
        ))));
    }
    let prompts = input_count(ctx.json.and_then(|j| j.get("prompt")));
    let answer = ctx.answer();
    let finish_reason = ctx.finish_reason();
    let choices: Vec<Value> = (0..prompts)
        .map(|index| {
            json!({"text": answer, "index": index, "logprobs": null, "finish_reason": finish_reason})
        })
        .collect();
    json(&json!({
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": completion_usage(&ctx.knobs.usage),
        "system_fingerprint": FINGERPRINT,
    }))
}

struct CompletionStream {
    prefix: String,
    suffix: String,
    usage: Option<Usage>,
}

impl CompletionStream {
    fn new(id: &str, created: u64, model: &str, usage: Option<Usage>) -> Self {
        let prefix = format!(
            r#"{{"id":"{id}","object":"text_completion","created":{created},"model":{},"system_fingerprint":"{FINGERPRINT}","choices":"#,
            Ctx::quoted(model)
        );
        let suffix = if usage.is_some() {
            r#","usage":null}"#.to_string()
        } else {
            "}".to_string()
        };
        Self {
            prefix,
            suffix,
            usage,
        }
    }

    fn chunk(&self, text: &str, finish: &str) -> Vec<u8> {
        data_event(
            &[
                self.prefix.as_str(),
                r#"[{"text":"#,
                &Ctx::quoted(text),
                r#","index":0,"logprobs":null,"finish_reason":"#,
                finish,
                "}]",
                &self.suffix,
            ]
            .concat(),
        )
    }
}

impl EventSource for CompletionStream {
    fn opening(&mut self, _out: &mut Vec<Vec<u8>>) {}

    fn delta(&mut self, _index: u32, text: &str) -> Vec<u8> {
        self.chunk(text, "null")
    }

    fn closing(&mut self, out: &mut Vec<Vec<u8>>) {
        out.push(self.chunk("", r#""stop""#));
        if let Some(usage) = &self.usage {
            let usage = completion_usage(usage).to_string();
            out.push(data_event(
                &[self.prefix.as_str(), r#"[],"usage":"#, &usage, "}"].concat(),
            ));
        }
        out.push(b"data: [DONE]\n\n".to_vec());
    }
}
