//! `GET /api/user/user-channels`: the user channels the caller may use (enabled, open to their
//! group), with their multiplier and the models they serve; what a key's `user_channel_ids`
//! may name. No upstream detail (member channels, priorities, weights) is shown.

use super::{multiplier_view, usable_by};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::{CHANNEL_ENABLED, split_list};
use serde_json::{Value, json};

pub async fn list(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let rows = app.db.all_user_channels().await?;
    let members = app.db.all_user_channel_members().await?;
    let channels = app.db.all_channels().await?;
    let views: Vec<Value> = rows
        .iter()
        .filter(|row| usable_by(row, &user.group))
        .map(|row| {
            let mut models: Vec<&str> = Vec::new();
            let served = members
                .iter()
                .filter(|m| m.user_channel_id == row.id)
                .filter_map(|m| channels.iter().find(|c| c.id == m.channel_id))
                .filter(|c| c.status == CHANNEL_ENABLED);
            for channel in served {
                for model in split_list(&channel.models) {
                    if !models.contains(&model) {
                        models.push(model);
                    }
                }
            }
            models.sort_unstable();
            json!({
                "id": row.id,
                "name": row.name,
                "description": row.description,
                "multiplier": multiplier_view(&row.multiplier),
                "models": models,
            })
        })
        .collect();
    Ok(envelope::ok(views))
}
