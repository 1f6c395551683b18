//! `PUT /api/user-channels/{id}`: changes the fields given (administrators); `members`, when
//! given, replaces every member. Answers the user channel as it now is.

use super::create::{stored, written};
use super::input::UserChannelInput;
use super::{announce, answer, find};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::ApiResult;
use crate::extract::{ApiJson, PathId};
use axum::extract::State;

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<UserChannelInput>,
) -> ApiResult {
    let row = find(&app, id).await?;
    let members = app.db.user_channel_members(id).await?;
    let fields = input.for_update(&row, &members)?;
    written(app.db.update_user_channel(id, stored(&fields)).await?)?;
    announce(&app, id).await?;
    answer(&app, id).await
}
