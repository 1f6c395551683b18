//! `POST /api/channel/`: adds channels. The body is new-api's
//! `{"mode": "single" | "batch" | "multi_to_single", "channel": {...}}`, or (as older new-api
//! accepted) the channel object itself, added as one channel. `batch` adds one channel per
//! key line; the other modes add one channel holding every key. The channels and their
//! abilities are written in one transaction: all or none. `data` lists the new ids.

use super::announce;
use super::input::{self, ChannelInput, Purpose};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::db::ChannelFields;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct AddChannelRequest {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    multi_key_mode: Option<String>,
    #[serde(default)]
    batch_add_set_key_prefix_2_name: bool,
    #[serde(default)]
    channel: Option<ChannelInput>,
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    body: Bytes,
) -> ApiResult {
    let value: Value = parse_json(&body)?;
    let request: AddChannelRequest = if value.get("channel").is_some() {
        from_value(value)?
    } else {
        AddChannelRequest {
            mode: "single".into(),
            multi_key_mode: None,
            batch_add_set_key_prefix_2_name: false,
            channel: Some(from_value(value)?),
        }
    };
    let Some(mut channel) = request.channel else {
        return Err(ApiError::invalid("channel cannot be empty"));
    };
    if channel.multi_key_mode.is_none() {
        channel.multi_key_mode = request.multi_key_mode;
    }
    let batch = match request.mode.as_str() {
        "single" | "multi_to_single" => false,
        "batch" => true,
        _ => return Err(ApiError::invalid("Unsupported add mode")),
    };
    let mut fields = input::new_channel();
    input::apply(channel, &mut fields, Purpose::Create)?;
    let channels = if batch {
        one_per_key(&fields, request.batch_add_set_key_prefix_2_name)
    } else {
        vec![fields]
    };
    let ids = app.db.insert_channels(&channels).await?;
    announce(&app, &ids).await?;
    tracing::info!(admin = admin.user.id, ?ids, "channels created");
    Ok(envelope::ok(ids))
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))
}

/// One channel per key; with `prefix_names` (and several keys) each name gets the first eight
/// characters of its key appended, as new-api does.
fn one_per_key(fields: &ChannelFields, prefix_names: bool) -> Vec<ChannelFields> {
    let keys = input::split_keys(&fields.keys);
    let several = keys.len() > 1;
    keys.into_iter()
        .map(|key| {
            let mut channel = fields.clone();
            if prefix_names && several {
                let prefix: String = key.chars().take(8).collect();
                channel.name = format!("{} {prefix}", channel.name);
            }
            channel.keys = key;
            channel
        })
        .collect()
}
