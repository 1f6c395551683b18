//! `PUT /api/channel/`: changes the channel named by `id`. Absent fields keep their values, and
//! so does an empty `key` (new-api's `key_mode: append` adds the given keys to the stored
//! ones). `status` may switch between 1 (enabled) and 2 (disabled). The channel and its
//! abilities are rewritten in one transaction; the answer is the channel, without its keys.

use super::input::{self, ChannelInput, Purpose};
use super::{announce, find, key_states, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::db::ChannelFields;

pub async fn update(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<ChannelInput>,
) -> ApiResult {
    let id = request.id.unwrap_or(0);
    if id <= 0 {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    let stored = find(&app, id).await?;
    let mut fields = ChannelFields::from(&stored);
    input::apply(request, &mut fields, Purpose::Update)?;
    if !app.db.update_channel(id, &fields).await? {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    announce(&app, &[id]).await?;
    tracing::info!(admin = admin.user.id, channel = id, "channel updated");
    let row = find(&app, id).await?;
    let states = key_states(&app, std::slice::from_ref(&row)).await?;
    Ok(envelope::ok(view::channel(&row, &states)))
}
