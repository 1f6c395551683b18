//! OpenAI-compatible endpoints (`/v1/...`), one module per resource, and the usage objects
//! they share.

pub(crate) mod audio;
pub(crate) mod chat;
pub(crate) mod completions;
pub(crate) mod embeddings;
pub(crate) mod images;
pub(crate) mod models;
pub(crate) mod moderations;
pub(crate) mod responses;

use super::knobs::Usage;
use serde_json::{Value, json};

/// The `system_fingerprint` every answer carries.
pub(crate) const FINGERPRINT: &str = "fp_mock0001";

/// The `usage` object of chat and text completions, as OpenAI sends it.
pub(crate) fn completion_usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.total(),
        "prompt_tokens_details": {"cached_tokens": usage.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// How many inputs an `input` field holds: a string is one, an array of strings (or of token
/// arrays) one per element, an array of token ids one.
pub(crate) fn input_count(input: Option<&Value>) -> usize {
    match input {
        Some(Value::Array(items)) => match items.first() {
            Some(Value::Number(_)) => 1,
            _ => items.len(),
        },
        _ => 1,
    }
}
