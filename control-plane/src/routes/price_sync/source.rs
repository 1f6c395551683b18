//! Reading a price source: an http(s) URL answering one of the formats Pylon understands, each
//! turned into new-api's ratio config shape (`{"model_ratio": {...}, "completion_ratio": {...},
//! "cache_ratio": {...}, "create_cache_ratio": {...}, "model_price": {...}}`), one place per
//! format:
//! - new-api's `GET /api/ratio_config` (its envelope's `data`, or that object itself);
//! - new-api's `GET /api/pricing` (`data` is a list of models, each with `quota_type` 1 for a
//!   price per request, else ratios);
//! - LiteLLM's `model_prices_and_context_window.json` (per-token USD prices, see
//!   [`pylon_shared::pricing::litellm`]).

use super::FIELDS;
use crate::routes::channel::upstream::get_bounded;
use pylon_shared::pricing::litellm;
use serde_json::{Map, Value};
use std::time::Duration;

/// At most this much of a price source is read (LiteLLM's file is a few MiB).
const MAX_SOURCE_BYTES: usize = 16 << 20;

/// The prices at `url`, in the ratio config shape, or why they cannot be read.
pub async fn fetch(
    url: &url::Url,
    timeout: Option<Duration>,
) -> Result<Map<String, Value>, String> {
    let body = get_bounded(url.as_str(), timeout, MAX_SOURCE_BYTES).await?;
    parse(&body)
}

/// A price source's answer in the ratio config shape. The tables themselves are checked by the
/// caller (a table that is not `{name: non-negative number}` is its error to report).
pub fn parse(body: &[u8]) -> Result<Map<String, Value>, String> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return Err("the answer is not a JSON object".into());
    };
    if answer.get("success") == Some(&Value::Bool(false)) {
        let message = answer.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("the source refused: {message}"));
    }
    match answer.remove("data") {
        Some(Value::Object(data)) => return Ok(data),
        Some(Value::Array(models)) => return Ok(pricing_list(&models)),
        Some(other) => {
            answer.insert("data".into(), other);
        }
        None => {}
    }
    if FIELDS.iter().any(|(_, field)| answer.contains_key(*field)) {
        return Ok(answer);
    }
    if litellm::recognises(&answer) {
        return Ok(litellm::ratios(&answer));
    }
    Err("the answer is in no known price format".into())
}

/// new-api's `/api/pricing` list in the ratio config shape.
fn pricing_list(models: &[Value]) -> Map<String, Value> {
    let mut tables: Map<String, Value> = Map::new();
    let mut put = |field: &str, model: &str, value: Option<&Value>| {
        if let Some(value @ Value::Number(_)) = value
            && let Value::Object(table) = tables
                .entry(field)
                .or_insert_with(|| Value::Object(Map::new()))
        {
            table.insert(model.to_string(), value.clone());
        }
    };
    for item in models {
        let Some(model) = item.get("model_name").and_then(Value::as_str) else {
            continue;
        };
        if model.is_empty() {
            continue;
        }
        if item.get("quota_type").and_then(Value::as_i64) == Some(1) {
            put("model_price", model, item.get("model_price"));
        } else {
            put("model_ratio", model, item.get("model_ratio"));
            put("completion_ratio", model, item.get("completion_ratio"));
        }
        put("cache_ratio", model, item.get("cache_ratio"));
        put("create_cache_ratio", model, item.get("create_cache_ratio"));
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: Value) -> Result<Value, String> {
        parse(body.to_string().as_bytes()).map(Value::Object)
    }

    #[test]
    fn every_format_reads_as_a_ratio_config() {
        let config = json!({"model_ratio": {"a": 1.25}, "model_price": {"p": 0.01}});
        assert_eq!(
            parsed(json!({"success": true, "data": config})),
            Ok(config.clone())
        );
        assert_eq!(parsed(config.clone()), Ok(config));
        let pricing = json!({"success": true, "data": [
            {"model_name": "a", "quota_type": 0, "model_ratio": 1.25, "completion_ratio": 4,
             "cache_ratio": 0.1},
            {"model_name": "p", "quota_type": 1, "model_price": 0.01, "model_ratio": 37.5}]});
        assert_eq!(
            parsed(pricing),
            Ok(
                json!({"model_ratio": {"a": 1.25}, "completion_ratio": {"a": 4},
                "cache_ratio": {"a": 0.1}, "model_price": {"p": 0.01}})
            )
        );
        assert!(
            parsed(json!({"success": false, "message": "off"})).is_err_and(|e| e.contains("off"))
        );
        assert!(parsed(json!({"something": 1})).is_err());
        assert!(parse(b"[1]").is_err());
    }
}
