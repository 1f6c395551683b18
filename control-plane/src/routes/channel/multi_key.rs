//! `POST /api/channel/multi_key/manage` `{channel_id, action, key_index?, page?, page_size?,
//! status?}`: new-api's management of the keys of a multi-key channel (one with several keys).
//! `get_key_status` lists the keys (a preview of each, never the key) with their status,
//! disabled reason and time and last known balance, a page at a time, optionally of one status,
//! with the counts of each status; `disable_key`, `enable_key`, `enable_all_keys`,
//! `disable_all_keys`, `delete_key` and `delete_disabled_keys` (the keys disabled
//! automatically) change them. Every change is announced on the change feed, so every proxy
//! routes through the keys as they now are. Answers and refusals are new-api's.

use super::{announce, find};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use pylon_shared::db::{ChannelRow, KeySwitch};
use pylon_shared::upstream_keys::{
    self, KEY_AUTO_DISABLED, KEY_ENABLED, KEY_MANUALLY_DISABLED, PoolKey,
};
use serde::Deserialize;
use serde_json::json;

/// new-api's page size of `get_key_status` when none is given.
const DEFAULT_PAGE_SIZE: usize = 50;
/// The largest page size served.
const MAX_PAGE_SIZE: usize = 1000;

#[derive(Deserialize)]
pub struct ManageRequest {
    #[serde(default)]
    channel_id: i64,
    #[serde(default)]
    action: String,
    #[serde(default)]
    key_index: Option<i64>,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    page_size: Option<i64>,
    /// `get_key_status`: only keys of this status (1, 2 or 3).
    #[serde(default)]
    status: Option<i64>,
}

pub async fn manage(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<ManageRequest>,
) -> ApiResult {
    let row = find(&app, request.channel_id).await?;
    let states = app.db.channel_key_states(row.id).await?;
    let keys = upstream_keys::pool(row.id, row.r#type, &row.keys, &states);
    if keys.len() < 2 {
        return Err(ApiError::invalid("This channel is not in multi-key mode"));
    }
    let answer = match request.action.as_str() {
        "get_key_status" => return Ok(key_status(&request, &keys)),
        "disable_key" => {
            let key = indexed(&keys, request.key_index, "disable")?;
            switch(
                &app,
                &row,
                std::slice::from_ref(&key.hash),
                KeySwitch::Disable,
            )
            .await?;
            envelope::ok_message("Key disabled")
        }
        "enable_key" => {
            let key = indexed(&keys, request.key_index, "enable")?;
            switch(
                &app,
                &row,
                std::slice::from_ref(&key.hash),
                KeySwitch::Enable,
            )
            .await?;
            envelope::ok_message("Key enabled")
        }
        "enable_all_keys" => {
            let hashes = hashes_where(&keys, |status| status != KEY_ENABLED);
            switch(&app, &row, &hashes, KeySwitch::Enable).await?;
            envelope::ok_message(&format!("Enabled {} keys", hashes.len()))
        }
        "disable_all_keys" => {
            let hashes = hashes_where(&keys, |status| status == KEY_ENABLED);
            if hashes.is_empty() {
                return Err(ApiError::invalid("No key to disable"));
            }
            switch(&app, &row, &hashes, KeySwitch::Disable).await?;
            envelope::ok_message(&format!("Disabled {} keys", hashes.len()))
        }
        "delete_key" => {
            let key = indexed(&keys, request.key_index, "delete")?;
            let index = key.index;
            remove(&app, &row, &keys, |key| key.index == index).await?;
            envelope::ok_message("Key deleted")
        }
        "delete_disabled_keys" => {
            let deleted = keys
                .iter()
                .filter(|key| key.status() == KEY_AUTO_DISABLED)
                .count();
            if deleted == 0 {
                return Err(ApiError::invalid("No automatically disabled key to delete"));
            }
            remove(&app, &row, &keys, |key| key.status() == KEY_AUTO_DISABLED).await?;
            Json(json!({
                "success": true,
                "message": format!("Deleted {deleted} automatically disabled keys"),
                "data": deleted,
            }))
            .into_response()
        }
        _ => return Err(ApiError::invalid("Unsupported action")),
    };
    tracing::info!(admin = admin.user.id, channel = row.id, action = %request.action, "channel keys managed");
    Ok(answer)
}

/// The key `index` names, or new-api's refusal when it is missing or out of range.
fn indexed<'k, 'a>(
    keys: &'k [PoolKey<'a>],
    index: Option<i64>,
    verb: &str,
) -> Result<&'k PoolKey<'a>, ApiError> {
    let index = index
        .ok_or_else(|| ApiError::invalid(format!("No index of the key to {verb} was given")))?;
    usize::try_from(index)
        .ok()
        .and_then(|index| keys.get(index))
        .ok_or_else(|| ApiError::invalid("Key index out of range"))
}

fn hashes_where(keys: &[PoolKey<'_>], wanted: impl Fn(i64) -> bool) -> Vec<String> {
    keys.iter()
        .filter(|key| wanted(key.status()))
        .map(|key| key.hash.clone())
        .collect()
}

async fn switch(
    app: &AppState,
    row: &ChannelRow,
    hashes: &[String],
    switch: KeySwitch,
) -> ApiResult<()> {
    app.db.switch_channel_keys(row.id, hashes, switch).await?;
    announce(app, &[row.id]).await
}

/// Removes the keys `removed` selects from the channel (never all of them).
async fn remove(
    app: &AppState,
    row: &ChannelRow,
    keys: &[PoolKey<'_>],
    removed: impl Fn(&PoolKey<'_>) -> bool,
) -> ApiResult<()> {
    let remaining: Vec<&str> = keys
        .iter()
        .filter(|key| !removed(key))
        .map(|key| key.key)
        .collect();
    if remaining.is_empty() {
        return Err(ApiError::invalid("Cannot delete the last key"));
    }
    if !app
        .db
        .remove_channel_keys(row.id, &row.keys, &remaining.join("\n"))
        .await?
    {
        return Err(ApiError::invalid(
            "The channel's keys changed meanwhile; please try again",
        ));
    }
    announce(app, &[row.id]).await
}

/// `get_key_status`: a page of the keys (of one status, if asked), with the counts of every
/// status over all of them.
fn key_status(request: &ManageRequest, keys: &[PoolKey<'_>]) -> Response {
    let count = |status: i64| keys.iter().filter(|k| k.status() == status).count();
    let filtered: Vec<&PoolKey<'_>> = keys
        .iter()
        .filter(|key| request.status.is_none_or(|status| key.status() == status))
        .collect();
    let page_size = request
        .page_size
        .and_then(|size| usize::try_from(size).ok())
        .filter(|size| *size > 0)
        .map_or(DEFAULT_PAGE_SIZE, |size| size.min(MAX_PAGE_SIZE));
    let total = filtered.len();
    let total_pages = total.div_ceil(page_size).max(1);
    let page = request
        .page
        .and_then(|page| usize::try_from(page).ok())
        .filter(|page| *page > 0)
        .unwrap_or(1)
        .min(total_pages);
    let items: Vec<serde_json::Value> = filtered
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|key| key_json(key))
        .collect();
    envelope::ok(json!({
        "keys": items,
        "total": total,
        "page": page,
        "page_size": page_size,
        "total_pages": total_pages,
        "enabled_count": count(KEY_ENABLED),
        "manual_disabled_count": count(KEY_MANUALLY_DISABLED),
        "auto_disabled_count": count(KEY_AUTO_DISABLED),
    }))
}

/// One key as `get_key_status` shows it: new-api's fields (`disabled_time` and `reason` only
/// when it is disabled), and its last known balance in USD when it was ever read.
fn key_json(key: &PoolKey<'_>) -> serde_json::Value {
    let mut item = json!({
        "index": key.index,
        "status": key.status(),
        "key_preview": upstream_keys::preview(key.key),
    });
    if key.status() != KEY_ENABLED {
        item["disabled_time"] = json!(key.disabled_time());
        item["reason"] = json!(key.reason());
    }
    if let Some((micros, updated)) = key.balance() {
        item["balance"] = json!(upstream_keys::micros_usd(micros));
        item["balance_updated_time"] = json!(updated);
    }
    item
}
