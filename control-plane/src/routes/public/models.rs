//! `GET /api/public/models`: the public model catalogue (Veloce's model square), the models an
//! enabled channel of a public group serves, with the prices the proxy charges an anonymous
//! caller's default group. Token prices are in USD per million tokens (new-api's ratio 1 is
//! 2 USD per million at 500 000 quota per USD); a per-request model has `quota_type` 1 and its
//! `model_price` in USD per request.

use crate::app::AppState;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::pricing::{Catalogue, prices};
use crate::routes::user::groups::GroupOptions;
use axum::extract::State;
use serde_json::{Value, json};

/// Quota per USD while `QuotaPerUnit` is unset (new-api's).
const DEFAULT_QUOTA_PER_UNIT: f64 = 500_000.0;

pub async fn models(State(app): State<AppState>) -> ApiResult {
    let groups = GroupOptions::load(&app).await?;
    let usable = groups.usable(None);
    let prices = prices(&app);
    let quota_per_unit = app
        .settings
        .now()
        .number("QuotaPerUnit")
        .filter(|q| *q > 0.0)
        .unwrap_or(DEFAULT_QUOTA_PER_UNIT);
    let per_million = |ratio: f64| ratio * 1_000_000.0 / quota_per_unit;
    let catalogue = Catalogue::of(&app.db.all_channels().await.map_err(ApiError::from)?);
    let data: Vec<Value> = catalogue
        .offered(&usable)
        .map(|(model, groups, endpoints)| {
            let rates = prices.rates(model);
            let by_tokens = rates.quota_type == 0;
            let input = per_million(rates.model_ratio);
            let price = |value: f64| if by_tokens { json!(value) } else { Value::Null };
            json!({
                "model_name": model,
                "display_name": model,
                "provider": "",
                "provider_name": "",
                "provider_icon_url": "",
                "quota_type": rates.quota_type,
                "input_price": price(input),
                "output_price": price(input * rates.completion_ratio),
                "cached_input_price": rates.cache_ratio.filter(|_| by_tokens).map(|r| input * r),
                "model_price": if by_tokens { Value::Null } else { json!(rates.model_price) },
                "groups": groups,
                "endpoint_types": endpoints,
            })
        })
        .collect();
    Ok(envelope::ok(data))
}
