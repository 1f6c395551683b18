//! Gemini API: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`
//! (`?alt=sse`: SSE with `\r\n\r\n` separators as Google sends them; otherwise a streamed JSON
//! array) and `:countTokens`.
//!
//! Every stream chunk carries `usageMetadata` with the prompt count only; the final chunk
//! (empty text, `finishReason: STOP`) carries the full counts. `cachedContentTokenCount` is
//! present only when non-zero, as Google omits zero fields.
//!
//! Image models (a name containing `-image`) answer as Gemini's do: the final answer also holds
//! an `inlineData` PNG, and the output count grows by [`IMAGE_TOKENS`], listed as the IMAGE
//! modality in `candidatesTokensDetails` beside the TEXT tokens.

use super::errors::{self, Dialect};
use super::handler::{Ctx, HandlerResult, Reply, json};
use super::knobs::Usage;
use super::rng;
use super::sse::{EventSource, Stream};
use serde_json::{Value, json};

/// Output tokens of one generated image (Gemini's count for a 1024x1024 image).
pub const IMAGE_TOKENS: i64 = 1290;

/// A 1x1 PNG, base64.
const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn is_image_model(model: &str) -> bool {
    model.contains("-image")
}

/// Routes `{model}:{action}`.
pub(crate) fn dispatch(ctx: &Ctx, model: &str, action: &str) -> HandlerResult {
    match action {
        "generateContent" => generate(ctx, model),
        "streamGenerateContent" => stream(ctx, model),
        "countTokens" => {
            ctx.body(Dialect::Gemini)?;
            json(&json!({"totalTokens": ctx.knobs.usage.prompt}))
        }
        _ => {
            let message = format!("Method {action} is not supported by the mock.");
            Err(errors::error(Dialect::Gemini, 404, &message, None))
        }
    }
}

fn generate(ctx: &Ctx, model: &str) -> HandlerResult {
    check_contents(ctx)?;
    let usage = &ctx.knobs.usage;
    let image = is_image_model(model);
    json(&json!({
        "candidates": [candidate(&ctx.answer(), true, image)],
        "usageMetadata": final_usage(usage, image),
        "modelVersion": model,
        "responseId": rng::id(""),
    }))
}

fn stream(ctx: &Ctx, model: &str) -> HandlerResult {
    check_contents(ctx)?;
    let usage = (!ctx.knobs.no_usage).then_some(ctx.knobs.usage);
    let sse = ctx.req.query_param("alt") == Some("sse");
    let source = ChunkStream {
        model: model.to_string(),
        response_id: rng::id(""),
        usage,
        sse,
        first: true,
    };
    Ok(Reply::Stream(if sse {
        Stream::sse(source)
    } else {
        Stream {
            content_type: "application/json; charset=UTF-8",
            source: Box::new(source),
        }
    }))
}

fn check_contents(ctx: &Ctx) -> Result<(), super::http::Response> {
    let body = ctx.body(Dialect::Gemini)?;
    if body.get("contents").is_none() {
        let message = "* GenerateContentRequest.contents: contents is not specified";
        return Err(errors::error(Dialect::Gemini, 400, message, None));
    }
    Ok(())
}

fn candidate(text: &str, last: bool, image: bool) -> Value {
    let mut parts = vec![json!({"text": text})];
    if last && image {
        parts.push(json!({"inlineData": {"mimeType": "image/png", "data": TINY_PNG}}));
    }
    let mut candidate = json!({
        "content": {"parts": parts, "role": "model"},
        "index": 0,
    });
    if last {
        candidate["finishReason"] = "STOP".into();
    }
    candidate
}

fn prompt_usage(usage: &Usage) -> Value {
    json!({
        "promptTokenCount": usage.prompt,
        "totalTokenCount": usage.prompt,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}],
    })
}

fn final_usage(usage: &Usage, image: bool) -> Value {
    let image_tokens = if image { IMAGE_TOKENS } else { 0 };
    let mut meta = json!({
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.completion + image_tokens,
        "totalTokenCount": usage.total() + image_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage.prompt}],
    });
    if image {
        meta["candidatesTokensDetails"] = json!([
            {"modality": "TEXT", "tokenCount": usage.completion},
            {"modality": "IMAGE", "tokenCount": IMAGE_TOKENS},
        ]);
    }
    if usage.cached > 0 {
        meta["cachedContentTokenCount"] = usage.cached.into();
    }
    meta
}

struct ChunkStream {
    model: String,
    response_id: String,
    usage: Option<Usage>,
    sse: bool,
    /// JSON-array mode: whether the next element opens the array.
    first: bool,
}

impl ChunkStream {
    fn chunk(&mut self, text: &str, last: bool) -> Vec<u8> {
        let image = is_image_model(&self.model);
        let mut chunk = json!({
            "candidates": [candidate(text, last, image)],
            "modelVersion": self.model,
            "responseId": self.response_id,
        });
        if let Some(usage) = &self.usage {
            chunk["usageMetadata"] = if last {
                final_usage(usage, image)
            } else {
                prompt_usage(usage)
            };
        }
        let json = chunk.to_string();
        if self.sse {
            return [b"data: ", json.as_bytes(), b"\r\n\r\n"].concat();
        }
        let separator: &[u8] = if self.first { b"[" } else { b",\r\n" };
        self.first = false;
        [separator, json.as_bytes()].concat()
    }
}

impl EventSource for ChunkStream {
    fn opening(&mut self, _out: &mut Vec<Vec<u8>>) {}

    fn delta(&mut self, _index: u32, text: &str) -> Vec<u8> {
        self.chunk(text, false)
    }

    fn closing(&mut self, out: &mut Vec<Vec<u8>>) {
        let last = self.chunk("", true);
        out.push(last);
        if !self.sse {
            out.push(b"]".to_vec());
        }
    }
}
