//! `POST /api/models/prices/sync/apply`: writes the source's prices into the price options,
//! all options at once and only if none changed since they were read (else the operator is
//! asked to try again); every proxy then charges them.

use super::{PriceSyncRequest, changes};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::db::OptionSwap;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub async fn apply(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<PriceSyncRequest>,
) -> ApiResult {
    let options = app.settings.now();
    let changes = changes(&request, &options).await?;
    let mut tables: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for change in &changes {
        let table = match tables.entry(change.option) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => entry.insert(
                options
                    .get(change.option)
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_default(),
            ),
        };
        table.insert(change.model.clone(), Value::Number(change.source.clone()));
    }
    let texts: Vec<(&str, String)> = tables
        .into_iter()
        .map(|(option, table)| (option, Value::Object(table).to_string()))
        .collect();
    let swaps: Vec<OptionSwap<'_>> = texts
        .iter()
        .map(|(option, text)| OptionSwap {
            key: option,
            old: options.get(option),
            new: text,
        })
        .collect();
    if !app.settings.swap(&app.db, &app.changes, &swaps).await? {
        return Err(ApiError::invalid(
            "The price options changed while syncing; preview again",
        ));
    }
    Ok(envelope::ok(
        json!({ "applied": changes.len(), "changes": changes }),
    ))
}
