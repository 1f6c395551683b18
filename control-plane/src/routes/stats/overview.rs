//! `GET /api/stats` (admin, seed 001): the system overview over an optional range: accounts,
//! channels (all and enabled), everyone's usage in the range and today (UTC), and the usage per
//! model in the range. [`SystemOverview`] is also what seed 002's `/api/admin/stats` renders.

use super::{RangeQuery, models_view, totals_view};
use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use pylon_shared::db::{
    CHANNEL_ENABLED, HourRange, UsageDimension, UsageLine, UsageScope, UsageTotals, now_secs,
};
use serde_json::json;

/// Everyone's numbers, from the aggregates and two counts.
pub struct SystemOverview {
    /// Live accounts.
    pub users: i64,
    pub channels: i64,
    pub enabled_channels: i64,
    /// Usage in the range asked for.
    pub total: UsageTotals,
    /// Usage since midnight (UTC).
    pub today: UsageTotals,
    /// Usage per model in the range.
    pub models: Vec<UsageLine>,
}

impl SystemOverview {
    pub async fn load(app: &App, range: HourRange) -> Result<Self, ApiError> {
        let channels = app.db.all_channels().await?;
        Ok(Self {
            users: app.db.count_live_users().await?,
            channels: i64::try_from(channels.len()).unwrap_or(i64::MAX),
            enabled_channels: i64::try_from(
                channels
                    .iter()
                    .filter(|c| c.status == CHANNEL_ENABLED)
                    .count(),
            )
            .unwrap_or(i64::MAX),
            total: app.db.usage_totals(UsageScope::Everyone, range).await?,
            today: app
                .db
                .usage_totals(UsageScope::Everyone, HourRange::today(now_secs()))
                .await?,
            models: app
                .db
                .usage_breakdown(UsageScope::Everyone, range, UsageDimension::Model)
                .await?,
        })
    }
}

/// The overview of the range the query asks for, loaded as a handler's argument.
impl FromRequestParts<AppState> for SystemOverview {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let range = RangeQuery::parse(Query::try_from_uri(&parts.uri))?;
        Self::load(app, range).await
    }
}

pub async fn overview(_admin: AdminUser, overview: SystemOverview) -> ApiResult {
    Ok(envelope::ok(json!({
        "users": overview.users,
        "channels": overview.channels,
        "enabled_channels": overview.enabled_channels,
        "total": totals_view(&overview.total),
        "today": totals_view(&overview.today),
        "models": models_view(&overview.models),
    })))
}
