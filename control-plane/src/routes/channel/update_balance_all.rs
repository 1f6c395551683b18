//! `GET /api/channel/update_balance`: refreshes the balance of every enabled OpenAI-compatible
//! channel (of each key of a channel with several), one after another; channels whose upstream
//! cannot tell are skipped, as in new-api.

use super::update_balance::refresh;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use pylon_shared::db::CHANNEL_ENABLED;

pub async fn update_balance_all(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    for row in app.db.all_channels().await? {
        if row.status != CHANNEL_ENABLED {
            continue;
        }
        match refresh(&app, &row).await {
            Ok(_) => {}
            Err(ApiError::Invalid(reason)) => {
                tracing::debug!(channel = row.id, %reason, "balance not updated");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(envelope::ok_message(""))
}
