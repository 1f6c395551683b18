//! `GET /api/data/` (admin, optionally one `username`) and `GET /api/data/self`: new-api's
//! dashboard bars `[{model_name, created_at, count, quota, token_used}]`, one per model and
//! hour; `GET /api/data/users` (admin): `[{user_id, username, created_at, count, quota,
//! token_used}]`, one per user and hour (`created_at` is the hour's first second) for hours starting in
//! `[start_timestamp, end_timestamp]`. Both bounds are required; a user's own range may span at
//! most a month (new-api's limits).

use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;

/// The longest range a user may ask for their own data (new-api: 30 days).
const MAX_SELF_SPAN_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DataQuery {
    start_timestamp: Option<i64>,
    end_timestamp: Option<i64>,
    username: String,
}

impl DataQuery {
    fn parse(query: Result<Query<Self>, QueryRejection>) -> Result<(Self, i64, i64), ApiError> {
        let Query(query) =
            query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
        let start = query
            .start_timestamp
            .ok_or_else(|| ApiError::invalid("start_timestamp is required"))?;
        let end = query
            .end_timestamp
            .ok_or_else(|| ApiError::invalid("end_timestamp is required"))?;
        if end < start {
            return Err(ApiError::invalid(
                "end_timestamp must not be before start_timestamp",
            ));
        }
        Ok((query, start, end))
    }
}

pub async fn all(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<DataQuery>, QueryRejection>,
) -> ApiResult {
    let (query, start, end) = DataQuery::parse(query)?;
    let user_id = if query.username.is_empty() {
        None
    } else {
        match app.db.user_id_by_name(&query.username).await? {
            Some(id) => Some(id),
            None => return Ok(envelope::ok(Vec::<()>::new())),
        }
    };
    Ok(envelope::ok(
        app.db.quota_by_model_hour(user_id, start, end).await?,
    ))
}

pub async fn users(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<DataQuery>, QueryRejection>,
) -> ApiResult {
    let (_, start, end) = DataQuery::parse(query)?;
    Ok(envelope::ok(app.db.quota_by_user_hour(start, end).await?))
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    query: Result<Query<DataQuery>, QueryRejection>,
) -> ApiResult {
    let (_, start, end) = DataQuery::parse(query)?;
    if end - start > MAX_SELF_SPAN_SECS {
        return Err(ApiError::invalid("The time range may not exceed one month"));
    }
    Ok(envelope::ok(
        app.db
            .quota_by_model_hour(Some(user.id), start, end)
            .await?,
    ))
}
