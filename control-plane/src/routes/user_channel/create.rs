//! `POST /api/user-channels`: creates a user channel with its members (administrators) and
//! answers it. Every member must name an existing upstream channel; nothing is written
//! otherwise.

use super::input::{Checked, UserChannelInput};
use super::{announce, answer};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::db::{UserChannelFields, UserChannelWrite};

pub async fn create(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(input): ApiJson<UserChannelInput>,
) -> ApiResult {
    let fields = input.for_create()?;
    let id = written(app.db.create_user_channel(stored(&fields)).await?)?;
    announce(&app, id).await?;
    answer(&app, id).await
}

/// The database form of checked fields.
pub(super) fn stored(fields: &Checked) -> UserChannelFields<'_> {
    UserChannelFields {
        name: &fields.name,
        description: &fields.description,
        status: fields.status,
        multiplier: &fields.multiplier,
        algorithm: &fields.algorithm,
        allowed_groups: &fields.allowed_groups,
        members: &fields.members,
    }
}

/// The id written, or why nothing was.
pub(super) fn written(write: UserChannelWrite) -> Result<i64, ApiError> {
    match write {
        UserChannelWrite::Done(id) => Ok(id),
        UserChannelWrite::NotFound => Err(ApiError::invalid("User channel does not exist")),
        UserChannelWrite::UnknownChannel(id) => Err(ApiError::invalid(format!(
            "members: channel {id} does not exist"
        ))),
    }
}
