//! `POST /api/models/prices/sync/preview`: every price the source would change, with the
//! operator's current value; nothing changes.

use super::{PriceSyncRequest, changes};
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use axum::extract::State;
use serde_json::json;

pub async fn preview(
    State(app): State<AppState>,
    _: RootUser,
    ApiJson(request): ApiJson<PriceSyncRequest>,
) -> ApiResult {
    let changes = changes(&request, &app.settings.now()).await?;
    Ok(envelope::ok(json!({ "changes": changes })))
}
