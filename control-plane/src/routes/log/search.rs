//! `GET /api/log/search?keyword=` (admin) and `GET /api/log/self/search?keyword=` (the
//! caller's own): new-api's log searches, answering a plain list of at most [`MAX_ROWS`] rows,
//! newest first. An administrator's keyword matches a log type (a number) or the start of a
//! row's text; a user's keyword is a log type. Every read is bounded: the type through its
//! index, the text within the newest `LOG_SEARCH_WINDOW` rows (a primary-key range), since no
//! index serves a text prefix.

use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use pylon_shared::db::{LogFilter, LogRow};
use serde::Deserialize;

/// Rows one search answers (new-api's `MaxRecentItems`).
pub const MAX_ROWS: i64 = 100;
/// The longest keyword taken (new-api's limit on its log keywords).
const MAX_KEYWORD_BYTES: usize = 128;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    keyword: String,
}

fn keyword(query: Result<Query<SearchQuery>, QueryRejection>) -> Result<String, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let keyword = query.keyword.trim().to_string();
    if keyword.len() > MAX_KEYWORD_BYTES {
        return Err(ApiError::invalid("keyword is too long"));
    }
    Ok(keyword)
}

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult {
    let keyword = keyword(query)?;
    let mut rows: Vec<LogRow> = match keyword.parse::<i64>() {
        Ok(log_type) => {
            let filter = LogFilter {
                log_type,
                ..LogFilter::default()
            };
            app.db.newest_logs(&filter, MAX_ROWS).await?
        }
        Err(_) => Vec::new(),
    };
    let by_text = app.db.logs_with_content_prefix(&keyword, MAX_ROWS).await?;
    // Both lists are newest first; a row may be in both.
    rows.extend(by_text);
    rows.sort_by_key(|row| std::cmp::Reverse(row.id));
    rows.dedup_by_key(|row| row.id);
    rows.truncate(usize::try_from(MAX_ROWS).unwrap_or(100));
    Ok(envelope::ok(rows))
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult {
    let keyword = keyword(query)?;
    let log_type = keyword
        .parse::<i64>()
        .map_err(|_| ApiError::invalid("keyword must be a log type (a number)"))?;
    let filter = LogFilter {
        user_id: Some(user.id),
        log_type,
        ..LogFilter::default()
    };
    let rows = app.db.newest_logs(&filter, MAX_ROWS).await?;
    Ok(envelope::ok(super::for_user(rows)))
}
