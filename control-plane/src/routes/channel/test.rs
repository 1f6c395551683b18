//! `GET /api/channel/test/{id}?model=`: sends a minimal chat completion through the channel and
//! answers new-api's `{"success", "message", "time"}` (seconds; 0 when the upstream could not
//! be reached). The response time and test time are recorded whenever the upstream answered,
//! and a channel disabled automatically is enabled again by a successful test.

use super::query::Params;
use super::upstream::{self, TestOutcome};
use super::{announce, find};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::ApiResult;
use crate::extract::PathId;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use pylon_shared::db::{CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, ChannelRow};
use serde_json::json;

/// The option that lets failed tests disable channels (new-api's name; off unless "true").
const AUTO_DISABLE_OPTION: &str = "AutomaticDisableChannelEnabled";

pub async fn test(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    Query(params): Query<Params>,
) -> ApiResult {
    let row = find(&app, id).await?;
    let outcome = upstream::test_chat(&row, params.get("model").map(String::as_str)).await;
    record(&app, &row, &outcome, false).await?;
    let seconds = match outcome.status {
        Some(_) => outcome.elapsed_ms as f64 / 1000.0,
        None => 0.0,
    };
    Ok(Json(json!({
        "success": outcome.success,
        "message": outcome.message,
        "time": seconds,
    }))
    .into_response())
}

/// Stores what a test found: its timing, re-enabling a channel disabled automatically after a
/// success and, with `may_disable` (the test of all channels) and new-api's
/// `AutomaticDisableChannelEnabled` option on, disabling an enabled auto-ban channel whose key
/// the upstream refused.
pub(super) async fn record(
    app: &AppState,
    row: &ChannelRow,
    outcome: &TestOutcome,
    may_disable: bool,
) -> ApiResult<()> {
    let mut changed = false;
    if outcome.status.is_some() {
        app.db
            .record_channel_test(row.id, outcome.elapsed_ms)
            .await?;
        changed = true;
    }
    if outcome.success && row.status == CHANNEL_AUTO_DISABLED {
        changed |= app
            .db
            .set_channel_status(row.id, CHANNEL_ENABLED, "")
            .await?;
    } else if may_disable
        && !outcome.success
        && row.status == CHANNEL_ENABLED
        && row.auto_ban == 1
        && matches!(outcome.status, Some(401 | 403))
        && app.settings.now().get(AUTO_DISABLE_OPTION) == Some("true")
    {
        changed |= app
            .db
            .set_channel_status(row.id, CHANNEL_AUTO_DISABLED, &outcome.message)
            .await?;
    }
    if changed {
        announce(app, &[row.id]).await?;
    }
    Ok(())
}
