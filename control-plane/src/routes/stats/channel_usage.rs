//! `GET /api/channel-usage` (admin, seed 001): everyone's usage per channel over an optional
//! range, the largest quota first: `[{channel_id, name, type, status, requests, errors, quota,
//! prompt_tokens, completion_tokens, cached_tokens, total_tokens}]`. A channel deleted since
//! keeps its line, with an empty name and status 0.

use super::{RangeQuery, totals_view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use pylon_shared::db::{ChannelRow, UsageDimension, UsageScope};
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn channel_usage(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult {
    let range = RangeQuery::parse(query)?;
    let lines = app
        .db
        .usage_breakdown(UsageScope::Everyone, range, UsageDimension::Channel)
        .await?;
    let channels: HashMap<i64, ChannelRow> = app
        .db
        .all_channels()
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let rows: Vec<Value> = lines
        .iter()
        .map(|line| {
            let id: i64 = line.key.parse().unwrap_or(0);
            let channel = channels.get(&id);
            let mut view = totals_view(&line.totals);
            view["channel_id"] = json!(id);
            view["name"] = json!(channel.map_or("", |c| c.name.as_str()));
            view["type"] = json!(channel.map_or(0, |c| c.r#type));
            view["status"] = json!(channel.map_or(0, |c| c.status));
            view
        })
        .collect();
    Ok(envelope::ok(rows))
}
