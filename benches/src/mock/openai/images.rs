//! `POST /v1/images/generations`: `n` images as URLs (DALL-E) or base64 PNGs
//! (`response_format: "b64_json"`, and always for `gpt-image-*`, which also report token usage).

use crate::mock::handler::{Ctx, HandlerResult, json};
use crate::mock::rng;
use serde_json::{Value, json};

/// A 1x1 transparent PNG.
const PNG_B64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
const MAX_IMAGES: u64 = 10;

/// Generates images.
pub(crate) fn generate(ctx: &Ctx) -> HandlerResult {
    let body = ctx.json.unwrap_or(&Value::Null);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("dall-e-2");
    let n = body
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, MAX_IMAGES);
    let gpt_image = model.starts_with("gpt-image");
    let b64 = gpt_image || body.get("response_format").and_then(Value::as_str) == Some("b64_json");
    let prompt = body.get("prompt").and_then(Value::as_str).unwrap_or("");
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let mut image = if b64 {
                json!({"b64_json": PNG_B64})
            } else {
                json!({"url": format!("https://mock-upstream.invalid/images/{}-{i}.png", rng::id(""))})
            };
            if model == "dall-e-3" {
                image["revised_prompt"] = prompt.into();
            }
            image
        })
        .collect();
    let mut answer = json!({"created": rng::unix_now(), "data": data});
    if gpt_image {
        let usage = &ctx.knobs.usage;
        answer["usage"] = json!({
            "input_tokens": usage.prompt,
            "input_tokens_details": {"text_tokens": usage.prompt, "image_tokens": 0},
            "output_tokens": usage.completion,
            "total_tokens": usage.total(),
        });
    }
    json(&answer)
}
