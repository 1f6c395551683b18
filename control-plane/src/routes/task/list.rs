//! `GET /api/task/self` (the caller's tasks) and `GET /api/task/` (admin: everyone's), OpenAI
//! videos and Suno music alike, newest first, one page of new-api's pagination. Filters as
//! new-api reads them: `platform` (`suno`, or a video channel's type number), `task_id`,
//! `status`, `action`, `start_timestamp` / `end_timestamp` (on `submit_time`) and, for admins
//! only, `channel_id`. Rows are new-api's `TaskDto`: a user's list shows
//! `channel_id` 0 (new-api does not read it for users) and no `username`.

use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::{TaskFilter, TaskRow};
use pylon_shared::video_tasks;
use serde::Deserialize;
use serde_json::Value;

/// The list's query parameters (new-api's names; integers read leniently, as new-api does).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskQuery {
    platform: String,
    task_id: String,
    status: String,
    action: String,
    channel_id: String,
    start_timestamp: String,
    end_timestamp: String,
}

impl TaskQuery {
    fn filter(&self, user_id: Option<i64>) -> TaskFilter {
        let int = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
        TaskFilter {
            user_id,
            platform: self.platform.trim().to_string(),
            task_id: self.task_id.trim().to_string(),
            status: self.status.trim().to_string(),
            action: self.action.trim().to_string(),
            channel_id: if user_id.is_some() {
                0
            } else {
                int(&self.channel_id)
            },
            start_timestamp: int(&self.start_timestamp),
            end_timestamp: int(&self.end_timestamp),
        }
    }
}

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    page: Page,
    query: Result<Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query.filter(None), page, true).await
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Page,
    query: Result<Query<TaskQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query.filter(Some(user.id)), page, false).await
}

async fn one_page(app: &AppState, filter: &TaskFilter, page: Page, admin: bool) -> ApiResult {
    let (rows, total) = app.db.tasks_page(filter, page.offset(), page.size).await?;
    let server = app
        .settings
        .now()
        .get("ServerAddress")
        .unwrap_or("")
        .trim_end_matches('/')
        .to_string();
    let items: Vec<Value> = rows.iter().map(|row| dto(row, admin, &server)).collect();
    Ok(envelope::ok(page.body(items, total)))
}

/// new-api's `TaskDto` of `row`, for an admin or for its owner.
fn dto(row: &TaskRow, admin: bool, server: &str) -> Value {
    let channel_id = if admin { row.channel_id } else { 0 };
    let username = admin.then_some(row.username.as_str());
    video_tasks::task_dto(row, server, channel_id, username)
}
