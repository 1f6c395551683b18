//! `PUT /api/channels/{id}/group-multipliers` and `PUT /api/channel-models/{id}/group-multipliers`
//! with `{"group": multiplier, ...}` (or `{"group_multipliers": {...}}`; `{}` clears): the
//! price of a request the channel (or the channel's model) serves for a user of that group is
//! multiplied by it, exactly, on top of the group ratio. Every multiplier is above 0, with at
//! most 6 decimal places; a bad map is refused whole and changes nothing. Answers the map now
//! in force.

use super::{find, multipliers_of};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use crate::routes::channel::announce;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn channel(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult {
    let multipliers = multipliers_of(&body)?;
    if !app
        .db
        .set_channel_group_multipliers(id, &multipliers.to_stored())
        .await?
    {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    announce(&app, &[id]).await?;
    Ok(envelope::ok(
        json!({ "channel_id": id, "group_multipliers": multipliers.view() }),
    ))
}

pub async fn channel_model(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult {
    let multipliers = multipliers_of(&body)?;
    let row = find(&app, id).await?;
    if !app
        .db
        .set_channel_model_multipliers(id, &multipliers.to_stored())
        .await?
    {
        return Err(ApiError::invalid("Channel model does not exist"));
    }
    announce(&app, &[row.channel_id]).await?;
    Ok(envelope::ok(json!({
        "id": id,
        "channel_id": row.channel_id,
        "model": row.model,
        "group_multipliers": multipliers.view(),
    })))
}
