//! `GET /api/user-channels`: every user channel with its members (administrators).

use super::admin_view;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::Value;

pub async fn list(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let rows = app.db.all_user_channels().await?;
    let members = app.db.all_user_channel_members().await?;
    let channels = app.db.all_channels().await?;
    let views: Vec<Value> = rows
        .iter()
        .map(|row| {
            let own: Vec<_> = members
                .iter()
                .filter(|m| m.user_channel_id == row.id)
                .copied()
                .collect();
            admin_view(row, &own, &channels)
        })
        .collect();
    Ok(envelope::ok(views))
}
