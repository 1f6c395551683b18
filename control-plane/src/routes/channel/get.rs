//! `GET /api/channel/{id}`: one channel, without its keys.

use super::{find, parse_id, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::{Path, State};

pub async fn get(State(app): State<AppState>, _: AdminUser, Path(id): Path<String>) -> ApiResult {
    let row = find(&app, parse_id(&id)?).await?;
    Ok(envelope::ok(view::channel(&row)))
}
