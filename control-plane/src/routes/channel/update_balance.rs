//! `GET /api/channel/update_balance/{id}`: asks an OpenAI-compatible upstream (type 1, or the
//! custom type 8) for the account's balance through its dashboard billing endpoints, stores it
//! and answers new-api's `{"success", "message", "balance"}`. An upstream without those
//! endpoints gives an error and nothing changes. Like new-api, a channel with several keys is
//! refused: the balance of one key says nothing about the others.

use super::input::split_keys;
use super::{announce, find, kinds, upstream};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::ChannelRow;
use serde_json::json;

pub async fn update_balance(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let row = find(&app, id).await?;
    let balance = refresh(&app, &row).await?;
    Ok(Json(json!({ "success": true, "message": "", "balance": balance })).into_response())
}

/// Queries and stores the balance of one channel.
pub(super) async fn refresh(app: &AppState, row: &ChannelRow) -> ApiResult<f64> {
    if split_keys(&row.keys).len() > 1 {
        return Err(ApiError::invalid(
            "Multi-key channels do not support balance inquiry",
        ));
    }
    if row.r#type != kinds::OPENAI && row.r#type != kinds::CUSTOM {
        return Err(ApiError::invalid(
            "Balance inquiry is not implemented for this channel type",
        ));
    }
    let balance = upstream::openai_balance(row)
        .await
        .map_err(|e| ApiError::invalid(format!("Balance inquiry failed: {e}")))?;
    app.db.set_channel_balance(row.id, balance).await?;
    announce(app, &[row.id]).await?;
    Ok(balance)
}
