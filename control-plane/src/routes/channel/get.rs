//! `GET /api/channel/{id}`: one channel, without its keys.

use super::{find, key_states, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::PathId;
use axum::extract::State;

pub async fn get(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let row = find(&app, id).await?;
    let states = key_states(&app, std::slice::from_ref(&row)).await?;
    Ok(envelope::ok(view::channel(&row, &states)))
}
