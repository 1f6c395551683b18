//! `GET /api/option/`: every option as `[{"key", "value"}]`, sorted by key, as new-api answers
//! it: each option Pylon knows with its current value (its default while unset) and every other
//! stored key. Options whose name marks a credential are never returned (new-api's rule, see
//! `settings::registry::is_secret`).

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::settings::registry::{self, is_secret};
use axum::extract::State;
use serde_json::json;
use std::collections::BTreeMap;

pub async fn list(State(app): State<AppState>, _: RootUser) -> ApiResult {
    let options = app.settings.now();
    let mut all: BTreeMap<&str, &str> = registry::OPTIONS
        .iter()
        .map(|known| (known.key, known.default))
        .collect();
    for (key, value) in options.stored() {
        all.insert(key, value);
    }
    let data: Vec<_> = all
        .into_iter()
        .filter(|(key, _)| !is_secret(key))
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    Ok(envelope::ok(data))
}
