//! `GET /api/admin/stats` (admin, seed 002): the system overview (the one seed 001's
//! `/api/stats` shows) in the seed's camelCase naming, over an optional range
//! (`start_timestamp`, `end_timestamp`, as `/api/stats`). As in `/api/usage/stats`, "tokens"
//! are quota: `tokenUsed` is the quota everyone's requests cost; the upstream's token counts
//! are `promptTokens` and `completionTokens`.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::stats::RangeQuery;
use crate::routes::stats::overview::SystemOverview;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde_json::{Value, json};

pub async fn stats(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> ApiResult {
    let range = RangeQuery::parse(query)?;
    let overview = SystemOverview::load(&app, range).await?;
    let models: Vec<Value> = overview
        .models
        .iter()
        .map(|line| {
            json!({
                "model": line.key,
                "requestCount": line.totals.requests,
                "tokenUsed": line.totals.quota,
            })
        })
        .collect();
    Ok(envelope::ok_flat(json!({
        "userCount": overview.users,
        "channelCount": overview.channels,
        "activeChannelCount": overview.enabled_channels,
        "requestCount": overview.total.requests,
        "errorCount": overview.total.errors,
        "tokenUsed": overview.total.quota,
        "promptTokens": overview.total.prompt_tokens,
        "completionTokens": overview.total.completion_tokens,
        "todayRequestCount": overview.today.requests,
        "todayTokenUsed": overview.today.quota,
        "models": models,
    })))
}
