//! `GET /api/user/stats` (seed 001): the caller's own usage over an optional range and today
//! (UTC), per model in the range, and their balance (`quota`, what is left to spend, and
//! `used_quota`, what they spent in all). Only the caller's aggregate rows are read.

use super::{RangeQuery, models_view, totals_view};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use pylon_shared::db::{HourRange, UsageDimension, UsageScope, now_secs};
use serde_json::json;

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult {
    let range = RangeQuery::parse(query)?;
    let scope = UsageScope::User(user.id);
    let total = app.db.usage_totals(scope, range).await?;
    let today = app
        .db
        .usage_totals(scope, HourRange::today(now_secs()))
        .await?;
    let models = app
        .db
        .usage_breakdown(scope, range, UsageDimension::Model)
        .await?;
    Ok(envelope::ok(json!({
        "user_id": user.id,
        "quota": user.quota,
        "used_quota": user.used_quota,
        "total": totals_view(&total),
        "today": totals_view(&today),
        "models": models_view(&models),
    })))
}
