//! `POST /api/channel/upstream_updates/detect` `{id}`: checks one channel's upstream now and
//! answers what it adds and removes; `POST /api/channel/upstream_updates/detect_all` checks
//! every enabled channel with checks turned on and answers the totals with each channel's result
//! (`failed_channel_ids` for those whose upstream could not be read).

use super::{Detected, UpdateRequest, check, checked_channels, requested};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use axum::extract::State;
use futures::StreamExt;
use serde_json::json;

/// How many upstreams are asked at once.
const CONCURRENT_CHECKS: usize = 4;

pub async fn detect(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    let row = requested(&app, request.id).await?;
    Ok(envelope::ok(check(&app, &row).await?))
}

pub async fn detect_all(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let rows = checked_channels(&app).await?;
    let app = &app;
    let outcomes: Vec<(i64, Option<Detected>)> = futures::stream::iter(rows)
        .map(|row| async move {
            match check(app, &row).await {
                Ok(found) => (row.id, Some(found)),
                Err(error) => {
                    tracing::warn!(channel = row.id, ?error, "upstream model check failed");
                    (row.id, None)
                }
            }
        })
        .buffered(CONCURRENT_CHECKS)
        .collect()
        .await;
    let mut failed = Vec::new();
    let mut results = Vec::new();
    for (id, outcome) in outcomes {
        match outcome {
            Some(found) => results.push(found),
            None => failed.push(id),
        }
    }
    let added: usize = results.iter().map(|r| r.add_models.len()).sum();
    let removed: usize = results.iter().map(|r| r.remove_models.len()).sum();
    Ok(envelope::ok(json!({
        "processed_channels": results.len(),
        "failed_channel_ids": failed,
        "detected_add_models": added,
        "detected_remove_models": removed,
        "channel_detected_results": results,
    })))
}
