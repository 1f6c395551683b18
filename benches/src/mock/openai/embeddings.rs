//! `POST /v1/embeddings`: one deterministic vector per input, as floats or as base64 of
//! little-endian `f32` (`encoding_format: "base64"`), `dimensions` honoured.

use super::input_count;
use crate::mock::errors::{self, Dialect};
use crate::mock::handler::{Ctx, HandlerResult, json};
use crate::mock::text;
use serde_json::{Value, json};

/// Vector size when the request does not ask for one (small: benchmarks measure the relay).
const DEFAULT_DIMENSIONS: u64 = 16;
const MAX_DIMENSIONS: u64 = 8192;

/// Creates embeddings.
pub(crate) fn create(ctx: &Ctx) -> HandlerResult {
    let model = ctx.model(Dialect::OpenAi)?;
    let body = ctx.body(Dialect::OpenAi)?;
    let Some(input) = body.get("input") else {
        return Err(errors::error(
            Dialect::OpenAi,
            400,
            "'input' is a required property",
            None,
        ));
    };
    let dimensions = body
        .get("dimensions")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_DIMENSIONS)
        .clamp(1, MAX_DIMENSIONS);
    let base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = (0..input_count(Some(input)))
        .map(|index| {
            let vector = vector(index as u64, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
                Value::String(text::base64(&bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let usage = &ctx.knobs.usage;
    json(&json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": usage.prompt, "total_tokens": usage.prompt},
    }))
}

fn vector(index: u64, dimensions: u64) -> Vec<f32> {
    (0..dimensions)
        .map(|j| ((index * 31 + j * 7) % 200) as f32 / 1000.0 - 0.1)
        .collect()
}
