//! Seed 001's user channels: the tier of channels customers see, above the upstream channels.
//! Administrators manage them (`GET|POST /api/user-channels`, `PUT|DELETE
//! /api/user-channels/{id}`); a customer lists the ones open to their group with
//! `GET /api/user/user-channels` (no upstream detail); a key may be limited to some of them
//! (`user_channel_ids` of the token API). Every write is announced on the change feed as a
//! channel change, so every proxy rebuilds its routing snapshot.

pub(super) mod create;
pub(super) mod delete;
pub(super) mod input;
pub(super) mod list;
pub(super) mod mine;
pub(super) mod update;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use pylon_shared::changes::Topic;
use pylon_shared::db::{
    ChannelRow, USER_CHANNEL_ENABLED, UserChannelMember, UserChannelRow, split_list,
};
use pylon_shared::pricing::Multiplier;
use serde_json::{Value, json};

/// The user channel with this id, or "does not exist".
async fn find(app: &AppState, id: i64) -> Result<UserChannelRow, ApiError> {
    app.db
        .user_channel_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid("User channel does not exist"))
}

/// Tells every process to rebuild its routes (user channels are part of them).
async fn announce(app: &AppState, id: i64) -> ApiResult<()> {
    app.changes.publish(Topic::Channel, id).await?;
    Ok(())
}

/// Whether users of `group` may use (and see) the user channel: enabled, and their group is
/// allowed (an empty list allows every group).
pub(super) fn usable_by(row: &UserChannelRow, group: &str) -> bool {
    row.status == USER_CHANNEL_ENABLED && allows_group(&row.allowed_groups, group)
}

fn allows_group(allowed_groups: &str, group: &str) -> bool {
    let allowed = split_list(allowed_groups);
    allowed.is_empty() || allowed.contains(&group)
}

/// The multiplier as answers show it (a number).
fn multiplier_view(stored: &str) -> Value {
    Multiplier::parse(stored).map_or(Value::Null, |m| json!(m.to_f64()))
}

/// A user channel as administrators see it, with its members.
fn admin_view(
    row: &UserChannelRow,
    members: &[UserChannelMember],
    channels: &[ChannelRow],
) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| {
            let name = channels
                .iter()
                .find(|c| c.id == m.channel_id)
                .map_or("", |c| c.name.as_str());
            json!({
                "channel_id": m.channel_id,
                "channel_name": name,
                "priority": m.priority,
                "weight": m.weight,
            })
        })
        .collect();
    json!({
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "status": row.status,
        "multiplier": multiplier_view(&row.multiplier),
        "algorithm": row.algorithm,
        "allowed_groups": split_list(&row.allowed_groups),
        "members": members,
        "created_time": row.created_time,
        "updated_time": row.updated_time,
    })
}

/// One user channel as an administrator's answer shows it, read back after a write.
async fn answer(app: &AppState, id: i64) -> ApiResult {
    let row = find(app, id).await?;
    let members = app.db.user_channel_members(id).await?;
    let channels = app.db.all_channels().await?;
    Ok(crate::envelope::ok(admin_view(&row, &members, &channels)))
}

#[cfg(test)]
mod tests {
    use super::allows_group;

    #[test]
    fn an_empty_allow_list_allows_every_group() {
        assert!(allows_group("", "vip"));
        assert!(allows_group("default, vip", "vip"));
        assert!(!allows_group("default", "vip"));
    }
}
