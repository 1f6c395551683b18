//! `/api/channel/*`: the upstream channels, for administrators (new-api's `AdminAuth`; a
//! common user gets "insufficient privileges"). Keys go in but never come out. Every write
//! rewrites the channel's abilities in the same transaction and is announced on the change
//! feed, so that every proxy reloads its routing snapshot.

pub(super) mod codex;
pub(super) mod copy;
pub(super) mod create;
pub(super) mod delete;
pub(super) mod delete_batch;
pub(super) mod delete_disabled;
pub(super) mod fetch_models;
pub(super) mod get;
pub(super) mod input;
pub(super) mod key;
pub(super) mod kinds;
pub(super) mod list;
pub(super) mod models;
pub(super) mod models_enabled;
pub(super) mod multi_key;
pub(super) mod ollama;
pub(super) mod ops;
pub(super) mod query;
pub(super) mod search;
pub(super) mod tag_edit;
pub(super) mod tags;
pub(super) mod test;
pub(super) mod test_all;
pub(super) mod update;
pub(super) mod update_balance;
pub(super) mod update_balance_all;
pub(super) mod upstream;
pub(super) mod upstream_updates;
pub(super) mod view;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use pylon_shared::changes::Topic;
use pylon_shared::db::{ChannelRow, KeyStateRow};
use pylon_shared::upstream_keys;

/// The channel with this id, or new-api's "does not exist" error.
pub(super) async fn find(app: &AppState, id: i64) -> Result<ChannelRow, ApiError> {
    app.db
        .channel_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Channel does not exist"))
}

/// The stored states of the keys of those of `rows` that have several keys (none are read
/// when no channel has).
pub(super) async fn key_states(app: &AppState, rows: &[ChannelRow]) -> ApiResult<Vec<KeyStateRow>> {
    let ids: Vec<i64> = rows
        .iter()
        .filter(|row| upstream_keys::split(row.r#type, &row.keys).len() > 1)
        .map(|row| row.id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(app.db.channel_key_states_of(&ids).await?)
}

/// Tells every process that these channels changed.
pub(super) async fn announce(app: &AppState, ids: &[i64]) -> ApiResult<()> {
    for id in ids {
        app.changes.publish(Topic::Channel, *id).await?;
    }
    Ok(())
}
