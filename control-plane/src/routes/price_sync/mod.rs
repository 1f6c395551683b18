//! Price sync (seed 001's `/api/models/prices/sync/*`): the price options brought in line with
//! a price source ([`source`]: another new-api instance's `GET /api/ratio_config`
//! (`{"success": true, "data": {"model_ratio": {...}, "completion_ratio": {...},
//! "cache_ratio": {...}, "model_price": {...}}}`, or the `data` object itself), its
//! `/api/pricing`, or LiteLLM's price file).
//! `POST /api/models/prices/sync/preview` with `{"url": ...}` answers every price the source
//! would change and changes nothing; `POST /api/models/prices/sync/apply` with the same body
//! (and `"models": [...]` to take only some) writes them into the price options, the one source
//! the relay charges by. Both are the root user's, as new-api's `/api/ratio_sync`.
//!
//! new-api's own routes over the same parsing: `GET /api/ratio_sync/channels` and
//! `POST /api/ratio_sync/fetch` (root) compare upstreams' prices with the prices in force
//! ([`differences`]); `GET /api/ratio_config` (public while `ExposeRatioEnabled` is on) exposes
//! them; `POST /api/option/rest_model_ratio` (root) puts the shipped defaults back.

pub(super) mod apply;
mod differences;
pub(super) mod preview;
pub(super) mod ratio_config;
pub(super) mod reset;
mod source;
pub(super) mod sync_channels;
pub(super) mod sync_fetch;
pub(crate) mod write;

use crate::error::ApiError;
use crate::settings::Options;
use pylon_shared::pricing::{
    OPTION_CACHE_RATIO, OPTION_COMPLETION_RATIO, OPTION_CREATE_CACHE_RATIO, OPTION_MODEL_PRICE,
    OPTION_MODEL_RATIO,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// Each price option with the field of the source that feeds it.
pub(super) const FIELDS: [(&str, &str); 5] = [
    (OPTION_MODEL_RATIO, "model_ratio"),
    (OPTION_COMPLETION_RATIO, "completion_ratio"),
    (OPTION_CACHE_RATIO, "cache_ratio"),
    (OPTION_CREATE_CACHE_RATIO, "create_cache_ratio"),
    (OPTION_MODEL_PRICE, "model_price"),
];

/// A sync request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSyncRequest {
    /// The price source (http or https).
    url: String,
    /// Only these models' prices (every model when absent or empty).
    #[serde(default)]
    models: Vec<String>,
}

/// One price the source would change.
#[derive(Serialize, Clone)]
pub(super) struct PriceChange {
    pub model: String,
    /// The price option (`ModelRatio`, ...).
    pub option: &'static str,
    /// The operator's value now (null: not set).
    pub current: Option<Number>,
    pub source: Number,
}

/// The prices `request`'s source would change, by option and model.
pub(super) async fn changes(
    request: &PriceSyncRequest,
    options: &Options,
) -> Result<Vec<PriceChange>, ApiError> {
    let source = fetch(&request.url).await?;
    let mut changes = Vec::new();
    for (option, field) in FIELDS {
        let Some(prices) = source.get(field) else {
            continue;
        };
        let prices = table(prices).ok_or_else(|| {
            ApiError::invalid(format!(
                "The price source's {field} is not an object of non-negative numbers"
            ))
        })?;
        let current = options
            .get(option)
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok());
        for (model, price) in prices {
            if !request.models.is_empty() && !request.models.contains(&model) {
                continue;
            }
            let now = current
                .as_ref()
                .and_then(|c| c.get(&model))
                .and_then(|v| v.as_number().cloned());
            if now.as_ref().and_then(Number::as_f64) != price.as_f64() {
                changes.push(PriceChange {
                    model,
                    option,
                    current: now,
                    source: price,
                });
            }
        }
    }
    Ok(changes)
}

/// A `{name: non-negative number}` object (a price option's own shape), or `None`.
fn table(value: &Value) -> Option<Vec<(String, Number)>> {
    value
        .as_object()?
        .iter()
        .map(|(name, price)| {
            price
                .as_number()
                .filter(|n| n.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0))
                .map(|n| (name.clone(), n.clone()))
        })
        .collect()
}

/// The source's prices in the ratio config shape ([`source`]).
async fn fetch(url: &str) -> Result<Map<String, Value>, ApiError> {
    let parsed = url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ApiError::invalid("The price source must be an http or https URL"))?;
    source::fetch(&parsed, None)
        .await
        .map_err(|reason| ApiError::invalid(format!("Reading the price source failed: {reason}")))
}
