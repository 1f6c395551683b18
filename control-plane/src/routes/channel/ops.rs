//! new-api's channel operations: `GET /api/channel/ops` (the settings the channel page shows:
//! `retry_times`), `POST /api/channel/{id}/status` `{status}` and `POST
//! /api/channel/status/batch` `{ids, status}`, which switch channels on (1) or off by hand (2)
//! with their abilities, in one transaction each, announced to every proxy.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::State;
use pylon_shared::db::{CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED};
use serde::Deserialize;
use serde_json::json;

/// More ids than this in one request is refused.
const MAX_IDS: usize = 1000;

#[derive(Deserialize)]
pub struct StatusRequest {
    #[serde(default)]
    status: i64,
}

#[derive(Deserialize)]
pub struct BatchStatusRequest {
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    status: i64,
}

pub async fn ops(State(app): State<AppState>, _admin: AdminUser) -> ApiResult {
    let retry_times = app.settings.now().number("RetryTimes").unwrap_or(0.0) as i64;
    Ok(envelope::ok(json!({ "retry_times": retry_times })))
}

/// The status a hand switch may set, and its reason.
fn manual(status: i64) -> Result<(i64, &'static str), ApiError> {
    match status {
        CHANNEL_ENABLED => Ok((CHANNEL_ENABLED, "")),
        CHANNEL_MANUALLY_DISABLED => Ok((CHANNEL_MANUALLY_DISABLED, "manually disabled")),
        _ => Err(ApiError::invalid(
            "Invalid parameters: status must be 1 (enabled) or 2 (disabled)",
        )),
    }
}

pub async fn set_status(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    ApiJson(request): ApiJson<StatusRequest>,
) -> ApiResult {
    let (status, reason) = manual(request.status)?;
    if !app.db.set_channel_status(id, status, reason).await? {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    announce(&app, &[id]).await?;
    tracing::info!(admin = admin.user.id, id, status, "channel status set");
    Ok(envelope::ok(true))
}

pub async fn set_status_batch(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<BatchStatusRequest>,
) -> ApiResult {
    let (status, reason) = manual(request.status)?;
    if request.ids.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: ids is empty"));
    }
    if request.ids.len() > MAX_IDS {
        return Err(ApiError::invalid(format!(
            "Too many items in batch request, maximum is {MAX_IDS}"
        )));
    }
    let mut changed = Vec::new();
    for id in &request.ids {
        if app.db.set_channel_status(*id, status, reason).await? {
            changed.push(*id);
        }
    }
    announce(&app, &changed).await?;
    tracing::info!(
        admin = admin.user.id,
        ?changed,
        status,
        "channel statuses set"
    );
    Ok(envelope::ok(changed.len()))
}
