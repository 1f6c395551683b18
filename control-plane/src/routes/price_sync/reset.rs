//! `POST /api/option/rest_model_ratio` (root; new-api's spelling): puts the shipped default
//! prices back. The operator's price options (`ModelRatio`, `CompletionRatio`, `CacheRatio`,
//! `CreateCacheRatio`, `ModelPrice`) are emptied together, only if none changed since they were
//! read, so the shipped table prices every model it lists again; every proxy follows.

use super::FIELDS;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use pylon_shared::db::OptionSwap;

pub async fn reset(State(app): State<AppState>, RootUser(root): RootUser) -> ApiResult {
    let options = app.settings.now();
    let swaps: Vec<OptionSwap<'_>> = FIELDS
        .iter()
        .map(|(option, _)| OptionSwap {
            key: option,
            old: options.get(option),
            new: "",
        })
        .collect();
    if !app.settings.swap(&app.db, &app.changes, &swaps).await? {
        return Err(ApiError::invalid(
            "The price options changed meanwhile; please try again",
        ));
    }
    tracing::info!(
        root = root.user.id,
        "price options reset to the shipped defaults"
    );
    Ok(envelope::ok_message(
        "Model ratios reset to the shipped defaults",
    ))
}
