//! `POST /api/channel/upstream_updates/apply` `{id, add_models, remove_models, ignore_models}`:
//! writes the chosen changes of the channel's last check into its model list (and abilities;
//! every proxy is told); `POST /api/channel/upstream_updates/apply_all` applies every proposed
//! change of every enabled channel with checks turned on.

use super::{UpdateRequest, apply_to, checked_channels, lists, requested, state::UpdateState};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use axum::extract::State;
use serde_json::json;

pub async fn apply(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    let row = requested(&app, request.id).await?;
    let ignored = lists::intersect(
        &request.ignore_models,
        &UpdateState::read(&row.settings).detected(),
    );
    let applied = apply_to(
        &app,
        &row,
        &request.add_models,
        &request.ignore_models,
        &request.remove_models,
    )
    .await?;
    tracing::info!(
        admin = admin.user.id,
        channel = row.id,
        "upstream model updates applied"
    );
    Ok(envelope::ok(json!({
        "id": row.id,
        "added_models": applied.added,
        "removed_models": applied.removed,
        "ignored_models": ignored,
        "remaining_models": applied.remaining,
        "remaining_remove_models": applied.remaining_remove,
        "models": applied.models,
        "settings": applied.settings,
    })))
}

pub async fn apply_all(State(app): State<AppState>, AdminUser(admin): AdminUser) -> ApiResult {
    let (mut results, mut failed) = (Vec::new(), Vec::new());
    let (mut added, mut removed) = (0, 0);
    for row in checked_channels(&app).await? {
        let state = UpdateState::read(&row.settings);
        let (add, remove) = (state.detected(), state.removed());
        if add.is_empty() && remove.is_empty() {
            continue;
        }
        match apply_to(&app, &row, &add, &[], &remove).await {
            Ok(applied) => {
                added += applied.added.len();
                removed += applied.removed.len();
                results.push(json!({
                    "channel_id": row.id,
                    "channel_name": row.name,
                    "added_models": applied.added,
                    "removed_models": applied.removed,
                    "remaining_models": applied.remaining,
                    "remaining_remove_models": applied.remaining_remove,
                }));
            }
            Err(error) => {
                tracing::warn!(
                    channel = row.id,
                    ?error,
                    "applying upstream model updates failed"
                );
                failed.push(row.id);
            }
        }
    }
    tracing::info!(
        admin = admin.user.id,
        channels = results.len(),
        "upstream model updates applied"
    );
    Ok(envelope::ok(json!({
        "processed_channels": results.len(),
        "added_models": added,
        "removed_models": removed,
        "failed_channel_ids": failed,
        "results": results,
    })))
}
