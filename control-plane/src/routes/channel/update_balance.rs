//! `GET /api/channel/update_balance/{id}`: asks an OpenAI-compatible upstream (type 1, or the
//! custom type 8) for the account's balance through its dashboard billing endpoints, stores it
//! and answers new-api's `{"success", "message", "balance"}`. An upstream without those
//! endpoints gives an error and nothing changes. A channel with several keys (seed 004's key
//! pool) has each key's balance read and stored with the key; the channel's balance is their
//! sum (of the keys that answered; an error only when none did).

use super::{announce, find, kinds, upstream};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::ChannelRow;
use pylon_shared::upstream_keys;
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

/// Queries and stores the balance of one channel (of each of its keys); returns it in USD.
pub(super) async fn refresh(app: &AppState, row: &ChannelRow) -> ApiResult<f64> {
    if row.r#type != kinds::OPENAI && row.r#type != kinds::CUSTOM {
        return Err(ApiError::invalid(
            "Balance inquiry is not implemented for this channel type",
        ));
    }
    let keys = upstream_keys::split(row.r#type, &row.keys);
    let mut total: Option<i64> = None;
    let mut first_error = None;
    for key in &keys {
        match upstream::openai_balance_micros(row, key).await {
            Ok(micros) => {
                if keys.len() > 1 {
                    app.db
                        .set_channel_key_balance(row.id, &upstream_keys::fingerprint(key), micros)
                        .await?;
                }
                total = Some(total.unwrap_or(0).saturating_add(micros));
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    let Some(total) = total else {
        let reason = first_error.unwrap_or_else(|| "the channel has no key".into());
        return Err(ApiError::invalid(format!(
            "Balance inquiry failed: {reason}"
        )));
    };
    let balance = upstream_keys::micros_usd(total);
    app.db.set_channel_balance(row.id, balance).await?;
    announce(app, &[row.id]).await?;
    Ok(balance)
}
