//! `GET /api/log/` (admin) and `GET /api/log/self`: one page of log rows, newest first.

use super::LogQuery;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    page: Page,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query, page, None).await
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Page,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query, page, Some(user.id)).await
}

async fn one_page(app: &AppState, query: &LogQuery, page: Page, user_id: Option<i64>) -> ApiResult {
    let (items, total) = app
        .db
        .logs_page(&query.filter(user_id), page.offset(), page.size)
        .await?;
    Ok(envelope::ok(page.body(items, total)))
}
