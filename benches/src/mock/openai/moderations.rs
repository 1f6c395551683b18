//! `POST /v1/moderations`: one unflagged result per input, every category false.

use super::input_count;
use crate::mock::handler::{Ctx, HandlerResult, json};
use crate::mock::rng;
use serde_json::{Map, Value, json};

const CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// Classifies the input.
pub(crate) fn create(ctx: &Ctx) -> HandlerResult {
    let body = ctx.json.unwrap_or(&Value::Null);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("omni-moderation-latest");
    let mut categories = Map::new();
    let mut scores = Map::new();
    let mut applied = Map::new();
    for name in CATEGORIES {
        categories.insert(name.into(), false.into());
        scores.insert(name.into(), json!(0.000_01));
        applied.insert(name.into(), json!(["text"]));
    }
    let result = json!({
        "flagged": false,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    });
    let results = vec![result; input_count(body.get("input"))];
    json(&json!({"id": rng::id("modr-"), "model": model, "results": results}))
}
