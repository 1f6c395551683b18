//! `PUT /api/channel-models/{id}` with `upstream_model` (the name sent upstream for this model:
//! the channel's model mapping; empty or the model's own name removes the mapping) and/or
//! `group_multipliers`. Answers the channel-model as it now is.

use super::{find, multipliers_of, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use crate::routes::channel::{announce, find as find_channel};
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelModelInput {
    upstream_model: Option<String>,
    group_multipliers: Option<Value>,
}

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<ChannelModelInput>,
) -> ApiResult {
    let multipliers = input
        .group_multipliers
        .as_ref()
        .map(multipliers_of)
        .transpose()?;
    let upstream = input.upstream_model.as_deref().map(str::trim);
    if upstream.is_some_and(|name| name.len() > 255 || name.contains(',')) {
        return Err(ApiError::invalid("upstream_model is no model name"));
    }
    let row = find(&app, id).await?;
    let channel = find_channel(&app, row.channel_id).await?;
    if let Some(upstream) = upstream {
        let mut mapping = super::mapping_of(&channel.model_mapping);
        if upstream.is_empty() || upstream == row.model {
            mapping.remove(&row.model);
        } else {
            mapping.insert(row.model.clone(), upstream.to_string());
        }
        let stored = if mapping.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&mapping).map_err(|e| ApiError::Internal(e.into()))?
        };
        if stored != channel.model_mapping
            && !app
                .db
                .replace_channel_model_mapping(channel.id, &channel.model_mapping, &stored)
                .await?
        {
            return Err(ApiError::invalid(
                "The channel changed meanwhile (or is gone); try again",
            ));
        }
    }
    if let Some(multipliers) = multipliers
        && !app
            .db
            .set_channel_model_multipliers(id, &multipliers.to_stored())
            .await?
    {
        return Err(ApiError::invalid("Channel model does not exist"));
    }
    announce(&app, &[row.channel_id]).await?;
    let row = find(&app, id).await?;
    let channel = find_channel(&app, row.channel_id).await?;
    Ok(envelope::ok(view(&row, &channel)))
}
