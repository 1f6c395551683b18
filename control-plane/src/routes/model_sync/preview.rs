//! `POST /api/models/sync/preview`: per channel, the models its upstream's list would add and
//! remove; nothing changes.

use super::{SyncRequest, plan};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::json;

pub async fn preview(State(app): State<AppState>, _: AdminUser, body: Bytes) -> ApiResult {
    let request = SyncRequest::read(&body)?;
    let channels = plan(&app, &request).await?;
    Ok(envelope::ok(json!({ "channels": channels })))
}
