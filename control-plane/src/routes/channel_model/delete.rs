//! `DELETE /api/channel-models/{id}`: removes the model from its channel's model list (the
//! channel's abilities and channel-models follow in the same transaction).

use super::find;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::routes::channel::{announce, find as find_channel};
use axum::extract::State;
use pylon_shared::db::split_list;

pub async fn delete(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let row = find(&app, id).await?;
    let channel = find_channel(&app, row.channel_id).await?;
    let kept: Vec<&str> = split_list(&channel.models)
        .into_iter()
        .filter(|model| *model != row.model)
        .collect();
    if !app
        .db
        .replace_channel_models(channel.id, &channel.models, &kept.join(","))
        .await?
    {
        return Err(ApiError::invalid(
            "The channel changed meanwhile (or is gone); try again",
        ));
    }
    announce(&app, &[channel.id]).await?;
    Ok(envelope::ok_message(""))
}
