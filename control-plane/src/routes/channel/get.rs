//! `GET /api/channel/{id}`: one channel, without its keys.

use super::{find, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::PathId;
use axum::extract::State;

pub async fn get(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let row = find(&app, id).await?;
    Ok(envelope::ok(view::channel(&row)))
}
