//! new-api's upstream model updates (`/api/channel/upstream_updates/*`, administrators): a
//! channel's upstream model list (the channel's own model-list call, as
//! `GET /api/channel/fetch_models/{id}`) compared with the models it serves. A check records what
//! the upstream added and removed in the channel's `settings` ([`state`]); applying writes the
//! chosen changes into the channel's model list, with its abilities, and tells every proxy.
//! `detect` and `apply` take `{"id": n}` (apply also `add_models`, `remove_models`,
//! `ignore_models`); `detect_all` and `apply_all` cover every enabled channel whose settings turn
//! `upstream_model_update_check_enabled` on. Every write is a compare-and-set of the channel's
//! models and settings, so a concurrent edit is never overwritten.

pub(in crate::routes) mod apply;
pub(in crate::routes) mod detect;
mod lists;
mod state;

use super::{announce, upstream};
use crate::app::AppState;
use crate::error::ApiError;
use pylon_shared::db::{CHANNEL_ENABLED, ChannelRow, split_list};
use serde::{Deserialize, Serialize};
use state::UpdateState;
use std::collections::BTreeMap;

/// The body of every single-channel route (new-api's `applyChannelUpstreamModelUpdatesRequest`).
#[derive(Deserialize, Default)]
pub struct UpdateRequest {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    add_models: Vec<String>,
    #[serde(default)]
    remove_models: Vec<String>,
    #[serde(default)]
    ignore_models: Vec<String>,
}

/// What a check found for one channel (new-api's `detectChannelUpstreamModelUpdatesResult`).
#[derive(Serialize)]
pub struct Detected {
    pub channel_id: i64,
    pub channel_name: String,
    pub add_models: Vec<String>,
    pub remove_models: Vec<String>,
    pub last_check_time: i64,
    /// Models added without review (new-api's scheduled auto-sync; a manual check adds none).
    pub auto_added_models: i64,
}

/// What applying changes did to one channel.
pub struct Applied {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub remaining: Vec<String>,
    pub remaining_remove: Vec<String>,
    /// The channel's model list and settings as stored afterwards.
    pub models: String,
    pub settings: String,
}

/// A write that lost the race with another edit of the channel.
fn changed_meanwhile() -> ApiError {
    ApiError::invalid("The channel changed while it was being updated; please try again")
}

/// The channel's model mapping, trimmed, without empty names.
fn mapping_of(row: &ChannelRow) -> BTreeMap<String, String> {
    serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&row.model_mapping)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(from, to)| {
            let (from, to) = (from.trim().to_string(), to.as_str()?.trim().to_string());
            (!from.is_empty() && !to.is_empty()).then_some((from, to))
        })
        .collect()
}

/// The channel named by a request's `id` (new-api's "invalid channel id" for none).
async fn requested(app: &AppState, id: i64) -> Result<ChannelRow, ApiError> {
    if id <= 0 {
        return Err(ApiError::invalid("invalid channel id"));
    }
    super::find(app, id).await
}

/// Reads the upstream's list of `row` and records what it adds and removes (and the time of the
/// check, even when the list cannot be read: then the reason is the error).
async fn check(app: &AppState, row: &ChannelRow) -> Result<Detected, ApiError> {
    let listed = upstream::list_models(row).await;
    let mut state = UpdateState::read(&row.settings);
    let now = pylon_shared::db::now_secs();
    state.set_last_check_time(now);
    let found = listed.map(|upstream| {
        let local: Vec<String> = split_list(&row.models)
            .into_iter()
            .map(String::from)
            .collect();
        lists::pending(&local, &upstream, &state.ignored(), &mapping_of(row))
    });
    if let Ok((add, remove)) = &found {
        state.set_detected(add);
        state.set_removed(remove);
    }
    let settings = state.text();
    let written = app
        .db
        .replace_channel_models_and_settings(
            row.id,
            (&row.models, &row.settings),
            (&row.models, &settings),
        )
        .await?;
    let (add, remove) = found
        .map_err(|reason| ApiError::invalid(format!("Fetching the model list failed: {reason}")))?;
    if !written {
        return Err(changed_meanwhile());
    }
    Ok(Detected {
        channel_id: row.id,
        channel_name: row.name.clone(),
        add_models: add,
        remove_models: remove,
        last_check_time: now,
        auto_added_models: 0,
    })
}

/// Applies the chosen changes to `row`: only names its last check proposed count; ignored
/// names join its ignore list (and leave it when added); the rest stay proposed.
async fn apply_to(
    app: &AppState,
    row: &ChannelRow,
    add: &[String],
    ignore: &[String],
    remove: &[String],
) -> Result<Applied, ApiError> {
    let mut state = UpdateState::read(&row.settings);
    let (detected, removed) = (state.detected(), state.removed());
    let add = lists::intersect(add, &detected);
    let ignore = lists::intersect(ignore, &detected);
    let remove = lists::subtract(&lists::intersect(remove, &removed), &add);
    let origin: Vec<String> = lists::normalize(&split_list(&row.models));
    let next = lists::apply_selected(&origin, &add, &remove);
    let models = if next == origin {
        row.models.clone()
    } else {
        next.join(",")
    };
    let mut ignored = lists::merge(&state.ignored(), &ignore);
    if !add.is_empty() {
        ignored = lists::subtract(&ignored, &add);
    }
    state.set_ignored(&ignored);
    let mut settled = add.clone();
    settled.extend(ignore.iter().cloned());
    let remaining = lists::subtract(&detected, &settled);
    let remaining_remove = lists::subtract(&removed, &remove);
    state.set_detected(&remaining);
    state.set_removed(&remaining_remove);
    state.set_last_check_time(pylon_shared::db::now_secs());
    let settings = state.text();
    if models.is_empty() {
        return Err(ApiError::invalid(
            "Applying these changes would leave the channel without models",
        ));
    }
    if !app
        .db
        .replace_channel_models_and_settings(
            row.id,
            (&row.models, &row.settings),
            (&models, &settings),
        )
        .await?
    {
        return Err(changed_meanwhile());
    }
    if models != row.models {
        announce(app, &[row.id]).await?;
    }
    Ok(Applied {
        added: add,
        removed: remove,
        remaining,
        remaining_remove,
        models,
        settings,
    })
}

/// The enabled channels whose settings ask for upstream checks, by id.
async fn checked_channels(app: &AppState) -> Result<Vec<ChannelRow>, ApiError> {
    let mut rows: Vec<ChannelRow> = app
        .db
        .all_channels()
        .await?
        .into_iter()
        .filter(|row| {
            row.status == CHANNEL_ENABLED && UpdateState::read(&row.settings).check_enabled()
        })
        .collect();
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}
