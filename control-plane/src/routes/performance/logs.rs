//! `GET /api/performance/logs` and `DELETE /api/performance/logs?mode=by_count|by_days&value=N`:
//! new-api lists and removes its rotated log files. Pylon logs to stderr only (the service
//! manager keeps and rotates them), so the list answers as new-api's does with file logging off
//! and a cleanup, once its parameters are valid, says no log directory is configured.

use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;
use serde_json::json;

pub async fn list(_: RootUser) -> ApiResult {
    Ok(envelope::ok(json!({
        "log_dir": "",
        "enabled": false,
        "file_count": 0,
        "total_size": 0,
        "files": null,
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Cleanup {
    mode: String,
    value: String,
}

pub async fn cleanup(_: RootUser, query: Result<Query<Cleanup>, QueryRejection>) -> ApiResult {
    let Query(Cleanup { mode, value }) =
        query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    if mode != "by_count" && mode != "by_days" {
        return Err(ApiError::invalid(
            "invalid mode, must be by_count or by_days",
        ));
    }
    if value.parse::<i64>().map_or(true, |v| v < 1) {
        return Err(ApiError::invalid(
            "invalid value, must be a positive integer",
        ));
    }
    Err(ApiError::invalid(
        "log directory not configured: Pylon logs to stderr",
    ))
}
