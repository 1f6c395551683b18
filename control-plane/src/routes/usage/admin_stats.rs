//! `GET /api/admin/stats` (admin, seed 002): the system overview (the one seed 001's
//! `/api/stats` shows) in the seed's camelCase naming, over an optional range
//! (`start_timestamp`, `end_timestamp`, as `/api/stats`). As in `/api/usage/stats`, "tokens"
//! are quota: `tokenUsed` is the quota everyone's requests cost; the upstream's token counts
//! are `promptTokens` and `completionTokens`.

use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::stats::overview::SystemOverview;
use serde_json::{Value, json};

pub async fn stats(_admin: AdminUser, overview: SystemOverview) -> ApiResult {
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
