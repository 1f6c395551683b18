//! `GET /api/channel/test/{id}?model=`: sends a minimal chat completion through the channel and
//! answers new-api's `{"success", "message", "time"}` (seconds; 0 when the upstream could not
//! be reached). The response time and test time are recorded whenever the upstream answered,
//! and a channel disabled automatically is enabled again by a successful test (with the key it
//! used, when its upstream had refused that key).

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
use pylon_shared::db::{CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, ChannelRow, KeySwitch};
use pylon_shared::upstream_keys::{self, KEY_AUTO_DISABLED};
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
        enable_tested_key(app, row).await?;
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

/// Of a channel with several keys, enables the key a successful test used (its first) if its
/// upstream had refused it, as new-api enables the tested key with the channel: a channel whose
/// keys were all refused would otherwise come back with none usable.
async fn enable_tested_key(app: &AppState, row: &ChannelRow) -> ApiResult<()> {
    let states = app.db.channel_key_states(row.id).await?;
    let keys = upstream_keys::pool(row.id, row.r#type, &row.keys, &states);
    if let [first, _, ..] = keys.as_slice()
        && first.status() == KEY_AUTO_DISABLED
    {
        app.db
            .switch_channel_keys(row.id, std::slice::from_ref(&first.hash), KeySwitch::Enable)
            .await?;
    }
    Ok(())
}
