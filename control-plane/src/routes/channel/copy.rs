//! `POST /api/channel/copy/{id}?suffix=&reset_balance=`: new-api's channel copy. The copy has
//! every field an administrator sets (keys included, since they stay on the server, and the
//! channel's group multipliers, though not its channel-models'), its name followed by `suffix`
//! (new-api's default "_复制"), and none of the original's counters, balance or test results
//! (Pylon's copies always start fresh; `reset_balance` is accepted for new-api's console).
//! `data` is `{id}` of the copy.

use super::{announce, find};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::{Query, State};
use pylon_shared::db::ChannelFields;
use serde_json::json;
use std::collections::HashMap;

/// new-api's default suffix.
const DEFAULT_SUFFIX: &str = "_复制";

pub async fn copy(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let original = find(&app, id).await?;
    let suffix = query
        .get("suffix")
        .map(String::as_str)
        .unwrap_or(DEFAULT_SUFFIX);
    let mut fields = ChannelFields::from(&original);
    fields.name = format!("{}{suffix}", original.name);
    let ids = app.db.insert_channels(&[fields]).await?;
    let Some(copy) = ids.first().copied() else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "channel copy not created"
        )));
    };
    // Seed 001's group multipliers are the administrator's too (written apart from the fields).
    if !original.group_multipliers.is_empty() {
        app.db
            .set_channel_group_multipliers(copy, &original.group_multipliers)
            .await?;
    }
    announce(&app, &[copy]).await?;
    tracing::info!(admin = admin.user.id, original = id, copy, "channel copied");
    Ok(envelope::ok(json!({ "id": copy })))
}
