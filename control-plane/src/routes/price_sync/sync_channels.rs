//! `GET /api/ratio_sync/channels` (root, new-api's `GetSyncableChannels`): the channels a price
//! sync can read from (those with a base URL: `{id, name, base_url, status, type}`), then
//! new-api's official price preset (id -100), which its console offers by that id.

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::json;

/// new-api's official ratio preset: its id, name and base URL.
const OFFICIAL_PRESET: (i64, &str, &str) = (-100, "官方倍率预设", "https://basellm.github.io");

pub async fn channels(State(app): State<AppState>, _: RootUser) -> ApiResult {
    let mut rows = app.db.all_channels().await?;
    rows.sort_by_key(|row| row.id);
    let mut listed: Vec<_> = rows
        .iter()
        .filter(|row| !row.base_url.trim().is_empty())
        .map(|row| {
            json!({"id": row.id, "name": row.name, "base_url": row.base_url,
                "status": row.status, "type": row.r#type})
        })
        .collect();
    let (id, name, base_url) = OFFICIAL_PRESET;
    listed.push(json!({"id": id, "name": name, "base_url": base_url, "status": 1, "type": 0}));
    Ok(envelope::ok(listed))
}
