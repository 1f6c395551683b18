//! `PUT /api/channel/tag` (new-api's `EditTagChannels`): edits every channel of `tag` at once.
//! Each field given replaces that field of every tagged channel: `new_tag` (an empty one
//! untags them), `model_mapping`, `models`, `groups`, `priority`, `weight`, `header_override`;
//! an empty `models` or `groups` keeps the channels' own. The values are checked as a channel
//! update checks them, all channels are written with their abilities in one transaction (all or
//! none), and every proxy is told. A tag no channel has changes nothing.

use super::announce;
use super::input::{self, ChannelInput, Purpose};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::db::ChannelFields;
use serde::Deserialize;
use serde_json::Value;

/// new-api's `ChannelTag`.
#[derive(Deserialize)]
pub struct TagEdit {
    #[serde(default)]
    tag: String,
    #[serde(default)]
    new_tag: Option<String>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    model_mapping: Option<String>,
    #[serde(default)]
    models: Option<String>,
    #[serde(default)]
    groups: Option<String>,
    /// new-api's request body override, which Pylon does not have: only an empty one is taken.
    #[serde(default)]
    param_override: Option<String>,
    #[serde(default)]
    header_override: Option<String>,
}

impl TagEdit {
    /// The edit as a channel update of one tagged channel.
    fn as_update(&self) -> ChannelInput {
        ChannelInput {
            tag: self.new_tag.clone(),
            priority: self.priority,
            weight: self.weight,
            model_mapping: self.model_mapping.clone().map(Value::String),
            models: self.models.clone().map(Value::String),
            group: self.groups.clone().map(Value::String),
            header_override: self
                .header_override
                .as_deref()
                .map(|h| Value::String(h.trim().to_string())),
            ..ChannelInput::default()
        }
    }
}

pub async fn edit(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<TagEdit>,
) -> ApiResult {
    let tag = request.tag.trim();
    if tag.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: tag is empty"));
    }
    if request
        .param_override
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "param_override is not supported: channels have no request body override",
        ));
    }
    let mut edited = Vec::new();
    for row in app.db.all_channels().await? {
        if row.tag != tag {
            continue;
        }
        let mut fields = ChannelFields::from(&row);
        input::apply(request.as_update(), &mut fields, Purpose::Update)?;
        edited.push((row.id, fields));
    }
    let changed = app.db.update_channels(&edited).await?;
    announce(&app, &changed).await?;
    tracing::info!(admin = admin.user.id, %tag, channels = changed.len(), "tag edited");
    Ok(envelope::ok_message(""))
}
