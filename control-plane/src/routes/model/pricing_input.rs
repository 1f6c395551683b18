//! The `pricing` a model record's request may carry: seed 001 prices models with their
//! records, so the fields its answer shows (`model_ratio`, `completion_ratio`, `model_price`,
//! `cache_ratio`, `create_cache_ratio`) are written into the price options, the one source of
//! prices. A field equal to what the answer shows changes nothing, so an answer sent back
//! unchanged writes no price; `null` removes the operator's entry (a shipped default price
//! applies again); `priced` and `quota_type` are read-only and ignored.

use crate::error::ApiError;
use crate::routes::price_sync::write::PriceEntry;
use pylon_shared::pricing::{
    OPTION_CACHE_RATIO, OPTION_COMPLETION_RATIO, OPTION_CREATE_CACHE_RATIO, OPTION_MODEL_PRICE,
    OPTION_MODEL_RATIO, PriceTable,
};
use serde_json::{Map, Value};

/// The price entries `pricing` asks for `model`.
pub(super) fn price_entries(
    model: &str,
    pricing: &Map<String, Value>,
    prices: &PriceTable,
) -> Result<Vec<PriceEntry>, ApiError> {
    let rates = prices.rates(model);
    let mut entries = Vec::new();
    for (field, value) in pricing {
        let (option, shown) = match field.as_str() {
            "model_ratio" => (OPTION_MODEL_RATIO, Some(rates.model_ratio)),
            "completion_ratio" => (OPTION_COMPLETION_RATIO, Some(rates.completion_ratio)),
            "model_price" => (OPTION_MODEL_PRICE, Some(rates.model_price)),
            "cache_ratio" => (OPTION_CACHE_RATIO, rates.cache_ratio),
            "create_cache_ratio" => (OPTION_CREATE_CACHE_RATIO, rates.create_cache_ratio),
            "priced" | "quota_type" => continue,
            other => {
                return Err(ApiError::invalid(format!(
                    "pricing: unknown field {other:?}"
                )));
            }
        };
        let value = match value {
            Value::Null if shown.is_none() => continue,
            Value::Null => None,
            Value::Number(number) if number.as_f64().is_some_and(|n| n.is_finite() && n >= 0.0) => {
                if number.as_f64() == shown {
                    continue;
                }
                Some(number.clone())
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "pricing: {field} must be a non-negative number or null, not {other}"
                )));
            }
        };
        entries.push(PriceEntry {
            option,
            model: model.to_string(),
            value,
        });
    }
    Ok(entries)
}
