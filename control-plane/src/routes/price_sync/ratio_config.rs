//! `GET /api/ratio_config` (public, as new-api): the prices in force (the operator's price
//! options over the shipped defaults) in new-api's ratio config shape, for other instances to
//! sync from, while the `ExposeRatioEnabled` option is on; HTTP 403 with the envelope while it
//! is off (the default). Each client IP may ask 20 times in 20 minutes, as new-api's critical
//! rate limit allows (then HTTP 429).

use super::FIELDS;
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::rate_limit;
use crate::routes::pricing::prices;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Number, Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The option that exposes the prices.
const EXPOSE_OPTION: &str = "ExposeRatioEnabled";
/// Calls a client IP may make per window (new-api's critical rate limit: 20 per 20 minutes):
/// the table is rebuilt for each call and other instances read it rarely.
const LIMIT_PER_WINDOW: u64 = 20;
const LIMIT_WINDOW: Duration = Duration::from_secs(20 * 60);

pub async fn ratio_config(State(app): State<AppState>, ClientIp(ip): ClientIp) -> Response {
    if let Err(refused) = rate_limit::check(
        &app,
        "ratio_config",
        &ip.to_string(),
        LIMIT_PER_WINDOW,
        LIMIT_WINDOW,
    )
    .await
    {
        return refused.into_response();
    }
    if !app.settings.now().flag(EXPOSE_OPTION) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"success": false, "message": "This feature is disabled"})),
        )
            .into_response();
    }
    envelope::ok(tables_in_force(&app))
}

/// The prices in force in the ratio config shape, each table sorted by model.
pub(super) fn tables_in_force(app: &App) -> Map<String, Value> {
    let table = prices(app);
    let by_option: BTreeMap<&str, _> = table.model_tables().into_iter().collect();
    FIELDS
        .iter()
        .map(|(option, field)| {
            let entries: BTreeMap<&String, Value> = by_option
                .get(option)
                .into_iter()
                .flat_map(|t| t.iter())
                .filter_map(|(model, value)| {
                    Some((model, Value::Number(Number::from_f64(*value)?)))
                })
                .collect();
            let entries: Map<String, Value> =
                entries.into_iter().map(|(m, v)| (m.clone(), v)).collect();
            (field.to_string(), Value::Object(entries))
        })
        .collect()
}
