//! `GET /v1/models` and `GET /v1/models/{id}`: the configured model list.

use crate::mock::errors::{self, Dialect};
use crate::mock::handler::{Ctx, HandlerResult, json};
use serde_json::{Value, json};

/// A fixed `created` so the list is byte-for-byte stable.
const CREATED: u64 = 1_700_000_000;

/// Lists the configured models.
pub(crate) fn list(ctx: &Ctx) -> HandlerResult {
    let data: Vec<Value> = ctx.config.models.iter().map(|id| model(id)).collect();
    json(&json!({"object": "list", "data": data}))
}

/// Retrieves one configured model.
pub(crate) fn retrieve(ctx: &Ctx, id: &str) -> HandlerResult {
    if ctx.config.models.iter().any(|m| m == id) {
        json(&model(id))
    } else {
        let message = format!("The model '{id}' does not exist");
        Err(errors::error(Dialect::OpenAi, 404, &message, None))
    }
}

fn model(id: &str) -> Value {
    let owner = if id.starts_with("claude") {
        "anthropic"
    } else if id.starts_with("gemini") {
        "google"
    } else {
        "openai"
    };
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": owner})
}
