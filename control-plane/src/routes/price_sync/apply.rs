//! `POST /api/models/prices/sync/apply`: writes the source's prices into the price options,
//! all options at once and only if none changed since they were read (else the operator is
//! asked to try again); every proxy then charges them.

use super::write::{PriceEntry, write_prices};
use super::{PriceSyncRequest, changes};
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use serde_json::json;

pub async fn apply(
    State(app): State<AppState>,
    _: RootUser,
    ApiJson(request): ApiJson<PriceSyncRequest>,
) -> ApiResult {
    let options = app.settings.now();
    let changes = changes(&request, &options).await?;
    let entries: Vec<PriceEntry> = changes
        .iter()
        .map(|change| PriceEntry {
            option: change.option,
            model: change.model.clone(),
            value: Some(change.source.clone()),
        })
        .collect();
    if !write_prices(&app, &options, &entries).await? {
        return Err(ApiError::invalid(
            "The price options changed while syncing; preview again",
        ));
    }
    Ok(envelope::ok(
        json!({ "applied": changes.len(), "changes": changes }),
    ))
}
