//! `GET /api/log/` (admin) and `GET /api/log/self`: one page of log rows, newest first.

use super::LogQuery;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use serde_json::json;

const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    page(&app, &query, None).await
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    page(&app, &query, Some(user.id)).await
}

async fn page(app: &AppState, query: &LogQuery, user_id: Option<i64>) -> ApiResult {
    // new-api pages from 1 (`p=0` is treated as the first page too).
    let page = query.p.unwrap_or(1).max(1);
    let page_size = query
        .page_size
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let (items, total) = app
        .db
        .logs_page(&query.filter(user_id), (page - 1) * page_size, page_size)
        .await?;
    Ok(envelope::ok(json!({
        "items": items,
        "total": total,
        "page": page,
        "page_size": page_size,
    })))
}
