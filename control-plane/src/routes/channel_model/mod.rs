//! Seed 001's channel-models: one model of one upstream channel, with an id (the rows behind
//! `GET /api/channels/{id}/models`, kept in step with the channel's model list). An
//! administrator sets its upstream model name and group multipliers (`PUT
//! /api/channel-models/{id}`, `PUT /api/channel-models/{id}/group-multipliers`) or removes the
//! model from its channel (`DELETE /api/channel-models/{id}`); the channel's own group
//! multipliers are set with `PUT /api/channels/{id}/group-multipliers`. A channel-model's
//! multiplier for a group wins over its channel's. Every write is announced as a change of the
//! channel, so every proxy rebuilds its routes and prices.

pub(super) mod delete;
pub(super) mod group_multipliers;
pub(super) mod update;

use crate::app::AppState;
use crate::error::ApiError;
use pylon_shared::db::{ChannelModelRow, ChannelRow};
use pylon_shared::pricing::GroupMultipliers;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The channel-model with this id, or "does not exist".
async fn find(app: &AppState, id: i64) -> Result<ChannelModelRow, ApiError> {
    app.db
        .channel_model_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Channel model does not exist"))
}

/// A channel-model as answers show it.
pub(super) fn view(row: &ChannelModelRow, channel: &ChannelRow) -> Value {
    let mapping = mapping_of(&channel.model_mapping);
    json!({
        "id": row.id,
        "channel_id": row.channel_id,
        "model": row.model,
        "upstream_model": mapping.get(&row.model).map_or(row.model.as_str(), String::as_str),
        "group_multipliers": stored_view(&row.group_multipliers),
    })
}

/// Stored group multipliers as answers show them (`{}` for none or an unreadable value).
pub(super) fn stored_view(stored: &str) -> Value {
    GroupMultipliers::parse_stored(stored)
        .unwrap_or_default()
        .view()
}

/// A channel's model mapping (requested -> upstream name); empty when unset or unreadable.
fn mapping_of(stored: &str) -> HashMap<String, String> {
    if stored.trim().is_empty() {
        return HashMap::new();
    }
    serde_json::from_str::<Option<HashMap<String, String>>>(stored)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// An administrator's group multipliers: the map itself, or `{"group_multipliers": map}`.
fn multipliers_of(body: &Value) -> Result<GroupMultipliers, ApiError> {
    let map = match body {
        Value::Object(object) if object.len() == 1 && object.contains_key("group_multipliers") => {
            &object["group_multipliers"]
        }
        other => other,
    };
    GroupMultipliers::from_json(map)
        .map_err(|problem| ApiError::invalid(format!("Invalid parameters: {problem}")))
}
