//! A key's `user_channel_ids` (seed 001): which user channels it is limited to, checked against
//! the group it routes as, and how answers show them.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::split_list;
use serde_json::Value;

/// User channels one key may be limited to.
const MAX_USER_CHANNELS: usize = 16;

/// A key's `user_channel_ids` (seed 001): a list of ids or a comma-separated string (`null`,
/// `[]` or `""`: no limit), each a user channel that users of the key's group may use, stored
/// comma-separated in the order given (the order the proxy tries them in).
pub(super) async fn checked(app: &App, group: &str, value: &Value) -> Result<String, ApiError> {
    let bad = || ApiError::invalid("user_channel_ids must be a list of user channel ids");
    let ids: Vec<i64> = match value {
        Value::Null => Vec::new(),
        Value::String(list) => split_list(list)
            .into_iter()
            .map(|id| id.parse::<i64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?,
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_i64().ok_or_else(bad))
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    if ids.len() > MAX_USER_CHANNELS {
        return Err(ApiError::invalid(format!(
            "A key may be limited to at most {MAX_USER_CHANNELS} user channels"
        )));
    }
    let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
    for id in ids {
        let usable = id > 0
            && app
                .db
                .user_channel_by_id(id)
                .await?
                .is_some_and(|row| crate::routes::user_channel::usable_by(&row, group));
        if !usable {
            return Err(ApiError::invalid(format!(
                "User channel {id} does not exist or is not available to group {group}"
            )));
        }
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    Ok(unique
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

/// Stored `user_channel_ids` as answers show them: a list of ids.
pub(super) fn view(stored: &str) -> Vec<i64> {
    split_list(stored)
        .into_iter()
        .filter_map(|id| id.parse().ok())
        .collect()
}
