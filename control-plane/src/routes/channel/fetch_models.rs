//! `GET /api/channel/fetch_models/{id}`: the model ids the channel's upstream lists, asked
//! with the channel's own model-list call (OpenAI `/v1/models`, Anthropic `/v1/models`,
//! Gemini `/v1beta/models`, Azure deployments' models, Bedrock foundation models), as new-api's
//! `FetchUpstreamModels` answers: `data` is the list; a failure is `success: false` with the
//! reason.

use super::find;
use super::upstream;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::ApiResult;
use crate::extract::PathId;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

pub async fn fetch_models(
    State(app): State<AppState>,
    _: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let row = find(&app, id).await?;
    let answer = match upstream::list_models(&row).await {
        Ok(mut ids) => {
            ids.sort();
            ids.dedup();
            json!({ "success": true, "message": "", "data": ids })
        }
        Err(reason) => json!({
            "success": false,
            "message": format!("Fetching the model list failed: {reason}"),
        }),
    };
    Ok(Json(answer).into_response())
}
