//! `GET /api/channel/fetch_models/{id}` (and `POST /api/channel/fetch_models` for a channel not
//! saved yet): the model ids the channel's upstream lists, asked
//! with the channel's own model-list call (OpenAI `/v1/models`, Anthropic `/v1/models`,
//! Gemini `/v1beta/models`, Azure deployments' models, Bedrock foundation models), as new-api's
//! `FetchUpstreamModels` answers: `data` is the list; a failure is `success: false` with the
//! reason.

use super::{find, input, kinds, upstream};
use crate::app::AppState;
use crate::auth::{AdminUser, RootUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::{ChannelFields, ChannelRow};
use serde::Deserialize;
use serde_json::json;

pub async fn fetch_models(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let row = find(&app, id).await?;
    Ok(Json(answer(upstream::list_models(&row).await)).into_response())
}

/// The body of `POST /api/channel/fetch_models` (new-api's `FetchModelsRequest`).
#[derive(Deserialize)]
pub struct UnsavedChannel {
    #[serde(default)]
    base_url: String,
    #[serde(default, rename = "type")]
    kind: i64,
    #[serde(default)]
    key: String,
}

/// `POST /api/channel/fetch_models` (root): the model ids an upstream lists, for a channel
/// that is not saved yet (`base_url`, `type` and `key` of the body; the first line of `key`),
/// asked exactly as a saved channel of that type is.
pub async fn fetch_unsaved(_: RootUser, ApiJson(request): ApiJson<UnsavedChannel>) -> ApiResult {
    if !kinds::is_known(request.kind) {
        return Err(ApiError::invalid(format!(
            "Unknown channel type {}",
            request.kind
        )));
    }
    let mut fields = input::new_channel();
    fields.r#type = request.kind;
    fields.base_url = input::base_url(&request.base_url)?;
    fields.keys = request
        .key
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let row = unsaved_row(fields);
    Ok(Json(answer(upstream::list_models(&row).await)).into_response())
}

/// The answer of both routes to what the upstream listed.
fn answer(listed: Result<Vec<String>, String>) -> serde_json::Value {
    match listed {
        Ok(mut ids) => {
            ids.sort();
            ids.dedup();
            json!({ "success": true, "message": "", "data": ids })
        }
        Err(reason) => json!({
            "success": false,
            "message": format!("Fetching the model list failed: {reason}"),
        }),
    }
}

/// A channel row of `fields` that is not stored (id 0).
fn unsaved_row(fields: ChannelFields) -> ChannelRow {
    ChannelRow {
        id: 0,
        r#type: fields.r#type,
        name: fields.name,
        keys: fields.keys,
        key_mode: fields.key_mode,
        status: fields.status,
        status_reason: fields.status_reason,
        base_url: fields.base_url,
        models: fields.models,
        group: fields.group,
        model_mapping: fields.model_mapping,
        header_override: fields.header_override,
        priority: fields.priority,
        weight: fields.weight,
        test_model: fields.test_model,
        openai_organization: fields.openai_organization,
        auto_ban: fields.auto_ban,
        tag: fields.tag,
        other: fields.other,
        setting: fields.setting,
        settings: fields.settings,
        remark: fields.remark,
        balance: 0.0,
        balance_updated_time: 0,
        response_time: 0,
        test_time: 0,
        used_quota: 0,
        created_time: 0,
        group_multipliers: String::new(),
    }
}
