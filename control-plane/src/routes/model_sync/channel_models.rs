//! `GET /api/channels/{id}/models`: the models a channel serves, in its order, with the
//! channel's group multipliers and, in `items`, each model's channel-model (its id, upstream
//! name and group multipliers; see `routes::channel_model`).
//! `POST /api/channels/{id}/models` with `{"models": [...]}` (or a comma-separated string)
//! adds models to it (those it serves already are skipped) and answers the new list; every
//! proxy reloads the channel.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use crate::routes::channel::{announce, find};
use crate::routes::channel_model;
use axum::extract::State;
use pylon_shared::db::split_list;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddModels {
    models: Value,
}

pub async fn list(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let channel = find(&app, id).await?;
    let items: Vec<Value> = app
        .db
        .channel_models_of(id)
        .await?
        .iter()
        .map(|row| channel_model::view(row, &channel))
        .collect();
    Ok(envelope::ok(json!({
        "channel_id": id,
        "models": split_list(&channel.models),
        "group_multipliers": channel_model::stored_view(&channel.group_multipliers),
        "items": items,
    })))
}

pub async fn add(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
    ApiJson(request): ApiJson<AddModels>,
) -> ApiResult {
    let wanted = names(&request.models)?;
    let channel = find(&app, id).await?;
    let mut models: Vec<&str> = split_list(&channel.models);
    for name in &wanted {
        if !models.contains(&name.as_str()) {
            models.push(name.as_str());
        }
    }
    let joined = models.join(",");
    if joined != channel.models {
        if !app
            .db
            .replace_channel_models(id, &channel.models, &joined)
            .await?
        {
            return Err(ApiError::invalid(
                "The channel changed meanwhile (or is gone); try again",
            ));
        }
        announce(&app, &[id]).await?;
    }
    Ok(envelope::ok(
        json!({ "channel_id": id, "models": split_list(&joined) }),
    ))
}

/// The model names of a request: a list of names or a comma-separated string, none empty.
fn names(models: &Value) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = match models {
        Value::String(list) => split_list(list).into_iter().map(str::to_string).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|name| name.trim().to_string())
                    .filter(|name| !name.is_empty() && !name.contains(','))
                    .ok_or_else(|| ApiError::invalid(format!("models: {item} is no model name")))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(ApiError::invalid(format!(
                "models must be a list of names, not {other}"
            )));
        }
    };
    if names.is_empty() {
        return Err(ApiError::invalid("models is empty"));
    }
    Ok(names)
}
