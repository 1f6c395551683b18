//! Model sync (seed 001): each channel's model list brought in line with what its upstream
//! lists (the channel's own model-list call, as `GET /api/channel/fetch_models/{id}`).
//! `POST /api/models/sync/preview` answers, per channel, the models that would be added and
//! removed, changing nothing; `POST /api/models/sync/apply` (also `POST /api/models/sync` and
//! `POST /api/channels/sync`) writes them, and creates a model record for each model name the
//! synced channels serve that has none. Both take `{"channel_ids": [...]}` (every channel when
//! absent or empty). `GET|POST /api/channels/{id}/models` read and extend one channel's list
//! ([`channel_models`]).

pub(super) mod apply;
pub(super) mod channel_models;
pub(super) mod preview;

use super::channel::upstream::list_models;
use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::parse_json;
use futures::StreamExt;
use pylon_shared::db::{ChannelRow, split_list};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How many upstreams are asked at once.
const CONCURRENT_FETCHES: usize = 4;

/// Which channels a sync covers.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    #[serde(default)]
    channel_ids: Vec<i64>,
}

impl SyncRequest {
    /// The request of a body, which may be empty (every channel).
    fn read(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        parse_json(body)
    }
}

/// One channel's sync: what its upstream lists against what it serves.
#[derive(Serialize)]
pub(super) struct ChannelSync {
    pub channel_id: i64,
    pub channel_name: String,
    /// Listed upstream, not served yet.
    pub added: Vec<String>,
    /// Served, no longer listed upstream.
    pub removed: Vec<String>,
    /// How many are both.
    pub unchanged: usize,
    /// Why the upstream's list could not be read (nothing changes for this channel then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the change was written (apply only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    /// The model list as read, for the compare-and-set of apply.
    #[serde(skip)]
    pub stored_models: String,
    /// The model list after the sync.
    #[serde(skip)]
    pub synced_models: String,
}

/// The channels `request` names, each compared with its upstream's list. An unknown id is
/// refused before any upstream is asked.
pub(super) async fn plan(
    app: &AppState,
    request: &SyncRequest,
) -> Result<Vec<ChannelSync>, ApiError> {
    let mut channels = app.db.all_channels().await?;
    if !request.channel_ids.is_empty() {
        let wanted: BTreeSet<i64> = request.channel_ids.iter().copied().collect();
        channels.retain(|c| wanted.contains(&c.id));
        if let Some(unknown) = wanted
            .iter()
            .find(|id| !channels.iter().any(|c| c.id == **id))
        {
            return Err(ApiError::invalid(format!(
                "Channel {unknown} does not exist"
            )));
        }
    }
    channels.sort_by_key(|c| c.id);
    let fetched: Vec<(ChannelRow, Result<Vec<String>, String>)> = futures::stream::iter(channels)
        .map(|channel| async move {
            let listed = list_models(&channel).await;
            (channel, listed)
        })
        .buffered(CONCURRENT_FETCHES)
        .collect()
        .await;
    Ok(fetched
        .into_iter()
        .map(|(channel, listed)| compare(&channel, listed))
        .collect())
}

/// A channel's list against its upstream's: the served models stay in their order, those the
/// upstream no longer lists go (but for the channel's own aliases, the names its
/// `model_mapping` renames), the new ones follow in the upstream's order.
fn compare(channel: &ChannelRow, listed: Result<Vec<String>, String>) -> ChannelSync {
    let served = split_list(&channel.models);
    let mut sync = ChannelSync {
        channel_id: channel.id,
        channel_name: channel.name.clone(),
        added: Vec::new(),
        removed: Vec::new(),
        unchanged: 0,
        error: None,
        applied: None,
        stored_models: channel.models.clone(),
        synced_models: channel.models.clone(),
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(reason) => {
            sync.error = Some(reason);
            return sync;
        }
    };
    let upstream: BTreeSet<&str> = listed
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .collect();
    let aliases: BTreeSet<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&channel.model_mapping)
            .map(|mapping| mapping.into_iter().map(|(alias, _)| alias).collect())
            .unwrap_or_default();
    let mut kept: Vec<&str> = Vec::new();
    for model in &served {
        if upstream.contains(model) || aliases.contains(*model) {
            kept.push(*model);
        } else {
            sync.removed.push(model.to_string());
        }
    }
    sync.unchanged = kept.len();
    let mut seen: BTreeSet<&str> = served.iter().copied().collect();
    for model in listed.iter().map(|m| m.trim()) {
        if !model.is_empty() && seen.insert(model) {
            sync.added.push(model.to_string());
            kept.push(model);
        }
    }
    sync.synced_models = kept.join(",");
    sync
}
