//! `GET /api/mj/self` (the caller's Midjourney tasks) and `GET /api/mj/` (admin: everyone's),
//! newest first, one page of new-api's pagination. Filters as new-api reads them: `mj_id`,
//! `start_timestamp` / `end_timestamp` (on `submit_time`, milliseconds) and, for admins only,
//! `channel_id`. Rows are new-api's `Midjourney` rows; with `MjForwardUrlEnabled` (new-api's
//! default) the image URL is the relay's `/mj/image/{mj_id}`.

use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::MidjourneyFilter;
use pylon_shared::midjourney::{self, Settings};
use serde::Deserialize;
use serde_json::Value;

/// The list's query parameters (new-api's names; integers read leniently, as new-api does).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MjQuery {
    channel_id: String,
    mj_id: String,
    start_timestamp: String,
    end_timestamp: String,
}

impl MjQuery {
    fn filter(&self, user_id: Option<i64>) -> MidjourneyFilter {
        let int = |text: &str| text.trim().parse::<i64>().unwrap_or(0);
        MidjourneyFilter {
            user_id,
            channel_id: if user_id.is_some() {
                0
            } else {
                int(&self.channel_id)
            },
            mj_id: self.mj_id.trim().to_string(),
            start_timestamp: int(&self.start_timestamp),
            end_timestamp: int(&self.end_timestamp),
        }
    }
}

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    page: Page,
    query: Result<Query<MjQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query.filter(None), page).await
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Page,
    query: Result<Query<MjQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    one_page(&app, &query.filter(Some(user.id)), page).await
}

async fn one_page(app: &AppState, filter: &MidjourneyFilter, page: Page) -> ApiResult {
    let (rows, total) = app
        .db
        .midjourneys_page(filter, page.offset(), page.size)
        .await?;
    let settings = settings(app);
    let items: Vec<Value> = rows
        .iter()
        .map(|row| midjourney::list_item(row, &settings))
        .collect();
    Ok(envelope::ok(page.body(items, total)))
}

/// new-api's Midjourney options as set now.
fn settings(app: &AppState) -> Settings {
    let now = app.settings.now();
    let keys = [
        "MjForwardUrlEnabled",
        "MjActionCheckSuccessEnabled",
        "MjAccountFilterEnabled",
        "MjNotifyEnabled",
        "MjModeClearEnabled",
        "ServerAddress",
    ];
    Settings::from_options(
        keys.iter()
            .filter_map(|key| now.get(key).map(|value| (*key, value))),
    )
}
