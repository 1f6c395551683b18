//! A channel as the API shows it: new-api's field names, with `key` always empty (keys are
//! never returned) and `channel_info` describing the keys without revealing them: how many,
//! how they rotate, and the status of each that is not enabled (new-api's
//! `multi_key_status_list`, index -> status; as new-api's lists, without reasons and times,
//! which `POST /api/channel/multi_key/manage` reports).

use pylon_shared::db::{ChannelRow, KeyStateRow};
use pylon_shared::upstream_keys::{self, KEY_ENABLED};
use serde_json::{Map, Value, json};

/// The JSON of one channel, without its keys; `states` holds its keys' stored states (and
/// maybe other channels').
pub fn channel(row: &ChannelRow, states: &[KeyStateRow]) -> Value {
    let keys = upstream_keys::pool(row.id, row.r#type, &row.keys, states);
    let key_count = keys.len();
    let status_list: Map<String, Value> = keys
        .iter()
        .filter(|key| key.status() != KEY_ENABLED)
        .map(|key| (key.index.to_string(), json!(key.status())))
        .collect();
    // new-api keeps the reason of the last status change in `other_info`.
    let other_info = if row.status_reason.is_empty() {
        String::new()
    } else {
        json!({ "status_reason": row.status_reason }).to_string()
    };
    let multi_key_mode = if row.key_mode == "round_robin" {
        "polling"
    } else {
        "random"
    };
    json!({
        "id": row.id,
        "type": row.r#type,
        "key": "",
        "name": row.name,
        "status": row.status,
        "status_reason": row.status_reason,
        "other_info": other_info,
        "base_url": row.base_url,
        "models": row.models,
        "group": row.group,
        "model_mapping": row.model_mapping,
        "header_override": row.header_override,
        "priority": row.priority,
        "weight": row.weight,
        "test_model": row.test_model,
        "openai_organization": row.openai_organization,
        "auto_ban": row.auto_ban,
        "tag": row.tag,
        "other": row.other,
        "setting": row.setting,
        "settings": row.settings,
        "remark": row.remark,
        "balance": row.balance,
        "balance_updated_time": row.balance_updated_time,
        "response_time": row.response_time,
        "test_time": row.test_time,
        "used_quota": row.used_quota,
        "created_time": row.created_time,
        "key_mode": row.key_mode,
        "channel_info": {
            "is_multi_key": key_count > 1,
            "multi_key_size": key_count,
            "multi_key_mode": multi_key_mode,
            "multi_key_status_list": status_list,
            "multi_key_polling_index": 0,
        },
    })
}

/// The JSON of several channels; `states` holds their keys' stored states.
pub fn channels(rows: &[ChannelRow], states: &[KeyStateRow]) -> Vec<Value> {
    rows.iter().map(|row| channel(row, states)).collect()
}

/// `type_counts`: channels per type, keyed by the type number as new-api's map renders it.
pub fn type_counts(counts: impl IntoIterator<Item = (i64, i64)>) -> Value {
    let mut map = serde_json::Map::new();
    for (kind, count) in counts {
        map.insert(kind.to_string(), json!(count));
    }
    Value::Object(map)
}
