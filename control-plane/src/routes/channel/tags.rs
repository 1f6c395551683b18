//! new-api's channel tag and repair helpers (administrators):
//! - `POST /api/channel/tag/disabled` / `tag/enabled` `{tag}` switch every channel with that tag
//!   off (by hand) or on;
//! - `POST /api/channel/batch/tag` `{ids, tag}` sets (or, with an empty tag, clears) the tag of
//!   those channels; `data` is how many existed;
//! - `GET /api/channel/tag/models?tag=` answers the model list of the tag's channel with the
//!   most models (what the console pre-fills when editing a tag);
//! - `POST /api/channel/fix` rebuilds every channel's abilities from its fields; `data` is
//!   `{success, fails}`.
//!
//! Each channel is rewritten with its abilities in one transaction and announced to every proxy.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::{Query, State};
use pylon_shared::db::{
    CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, ChannelFields, ChannelRow, split_list,
};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// More ids than this in one request is refused.
const MAX_IDS: usize = 1000;

#[derive(Deserialize)]
pub struct TagRequest {
    #[serde(default)]
    tag: String,
}

#[derive(Deserialize)]
pub struct BatchTagRequest {
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    tag: Option<String>,
}

async fn tagged(app: &AppState, tag: &str) -> Result<Vec<ChannelRow>, ApiError> {
    let tag = tag.trim();
    if tag.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: tag is empty"));
    }
    Ok(app
        .db
        .all_channels()
        .await?
        .into_iter()
        .filter(|c| c.tag == tag)
        .collect())
}

async fn switch(app: &AppState, tag: &str, status: i64, reason: &str) -> ApiResult {
    let mut changed = Vec::new();
    for channel in tagged(app, tag).await? {
        if app
            .db
            .set_channel_status(channel.id, status, reason)
            .await?
        {
            changed.push(channel.id);
        }
    }
    announce(app, &changed).await?;
    Ok(envelope::ok_message(""))
}

pub async fn disable(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(request): ApiJson<TagRequest>,
) -> ApiResult {
    switch(
        &app,
        &request.tag,
        CHANNEL_MANUALLY_DISABLED,
        "manually disabled",
    )
    .await
}

pub async fn enable(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(request): ApiJson<TagRequest>,
) -> ApiResult {
    switch(&app, &request.tag, CHANNEL_ENABLED, "").await
}

pub async fn models(
    State(app): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let tag = query.get("tag").map(String::as_str).unwrap_or("");
    let longest = tagged(&app, tag)
        .await?
        .into_iter()
        .max_by_key(|c| split_list(&c.models).len())
        .map(|c| c.models)
        .unwrap_or_default();
    Ok(envelope::ok(longest))
}

pub async fn batch_tag(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<BatchTagRequest>,
) -> ApiResult {
    let Some(tag) = request.tag else {
        return Err(ApiError::invalid("Invalid parameters: tag is missing"));
    };
    if request.ids.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: ids is empty"));
    }
    if request.ids.len() > MAX_IDS {
        return Err(ApiError::invalid(format!(
            "Too many items in batch request, maximum is {MAX_IDS}"
        )));
    }
    let tag = tag.trim().to_string();
    let mut changed = Vec::new();
    for id in &request.ids {
        let Some(row) = app.db.channel_by_id(*id).await? else {
            continue;
        };
        let mut fields = ChannelFields::from(&row);
        fields.tag = tag.clone();
        if app.db.update_channel(*id, &fields).await? {
            changed.push(*id);
        }
    }
    announce(&app, &changed).await?;
    tracing::info!(admin = admin.user.id, ?changed, %tag, "channel tags set");
    Ok(envelope::ok(changed.len()))
}

pub async fn fix(State(app): State<AppState>, AdminUser(admin): AdminUser) -> ApiResult {
    let (mut fixed, mut failed) = (Vec::new(), 0_usize);
    for row in app.db.all_channels().await? {
        match app
            .db
            .update_channel(row.id, &ChannelFields::from(&row))
            .await
        {
            Ok(true) => fixed.push(row.id),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(%error, channel = row.id, "rebuilding abilities failed");
                failed += 1;
            }
        }
    }
    announce(&app, &fixed).await?;
    tracing::info!(
        admin = admin.user.id,
        fixed = fixed.len(),
        failed,
        "abilities rebuilt"
    );
    Ok(envelope::ok(
        json!({ "success": fixed.len(), "fails": failed }),
    ))
}
