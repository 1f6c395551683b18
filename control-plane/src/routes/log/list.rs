//! `GET /api/log/` (admin) and `GET /api/log/self`: one page of log rows, newest first, by
//! new-api's page number or, at any depth as fast, after the cursor `before` (the previous
//! page's `next_before`). `total` counts up to 10 000 rows (`total_capped` says when there are
//! more), so the first pages answer at once however large the table.

use super::LogQuery;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::LogPaging;

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
    let paging = match query.before {
        Some(before) if before > 0 => LogPaging::Before {
            before,
            limit: page.size,
        },
        Some(_) => return Err(ApiError::invalid("before must be a positive log id")),
        None => LogPaging::Offset {
            offset: page.offset(),
            limit: page.size,
        },
    };
    let found = app.db.logs_page(&query.filter(user_id), paging).await?;
    let rows = if user_id.is_some() {
        super::for_user(found.rows)
    } else {
        found.rows
    };
    let mut body = page.body(rows, found.total);
    body["total_capped"] = found.total_capped.into();
    body["next_before"] = found.next_before.into();
    Ok(envelope::ok(body))
}
