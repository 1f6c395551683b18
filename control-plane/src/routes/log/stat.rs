//! `GET /api/log/stat` (admin) and `GET /api/log/self/stat`: quota and token sums over the
//! logs a filter selects, with new-api's `rpm` and `tpm` (requests and tokens of the last
//! minute). Consume sums come from the per-hour aggregates (`Db::usage_stat`); other log types
//! are summed from the logs.

use super::LogQuery;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use pylon_shared::db::LOG_TYPE_CONSUME;
use serde_json::json;

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    stat(&app, &query, None).await
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    stat(&app, &query, Some(user.id)).await
}

async fn stat(app: &AppState, query: &LogQuery, user_id: Option<i64>) -> ApiResult {
    let filter = query.filter(user_id);
    let stat = if filter.log_type == 0 || filter.log_type == LOG_TYPE_CONSUME {
        app.db.usage_stat(&filter).await?
    } else {
        app.db.logs_stat(&filter).await?
    };
    let (rpm, tpm) = app.db.last_minute_stat(&filter).await?;
    Ok(envelope::ok(json!({
        "quota": stat.quota,
        "rpm": rpm,
        "tpm": tpm,
        "requests": stat.requests,
        "prompt_tokens": stat.prompt_tokens,
        "completion_tokens": stat.completion_tokens,
    })))
}
