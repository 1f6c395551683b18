//! `GET /api/log/stat` (admin) and `GET /api/log/self/stat`: quota and token sums over the
//! logs a filter selects.

use super::LogQuery;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
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
    let stat = app.db.logs_stat(&query.filter(user_id)).await?;
    Ok(envelope::ok(json!({
        "quota": stat.quota,
        "requests": stat.requests,
        "prompt_tokens": stat.prompt_tokens,
        "completion_tokens": stat.completion_tokens,
    })))
}
