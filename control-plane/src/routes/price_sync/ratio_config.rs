//! `GET /api/ratio_config` (public, as new-api): the prices in force (the operator's price
//! options over the shipped defaults) in new-api's ratio config shape, for other instances to
//! sync from, while the `ExposeRatioEnabled` option is on; HTTP 403 with the envelope while it
//! is off (the default).

use super::FIELDS;
use crate::app::{App, AppState};
use crate::envelope;
use crate::routes::pricing::prices;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Number, Value, json};
use std::collections::BTreeMap;

/// The option that exposes the prices.
const EXPOSE_OPTION: &str = "ExposeRatioEnabled";

pub async fn ratio_config(State(app): State<AppState>) -> Response {
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
