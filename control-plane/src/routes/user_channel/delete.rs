//! `DELETE /api/user-channels/{id}` (administrators). A user channel that keys are limited to
//! is not deleted: the answer names those keys, so that no key silently loses its limit and
//! starts routing anywhere; detach them (their `user_channel_ids`) or delete them first.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;
use pylon_shared::db::UserChannelDelete;

pub async fn delete(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    match app.db.delete_user_channel(id).await? {
        UserChannelDelete::Deleted => {
            announce(&app, id).await?;
            Ok(envelope::ok_message(""))
        }
        UserChannelDelete::NotFound => Err(ApiError::invalid("User channel does not exist")),
        UserChannelDelete::InUse(keys) => {
            let ids: Vec<String> = keys.iter().map(i64::to_string).collect();
            Err(ApiError::invalid(format!(
                "User channel {id} is still used by {} key(s) (ids {}); remove it from their \
                 user_channel_ids first",
                keys.len(),
                ids.join(", ")
            )))
        }
    }
}
