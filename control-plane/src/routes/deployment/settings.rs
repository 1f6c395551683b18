//! `GET /api/deployments/settings`: whether io.net deployments are on and a key is set (the
//! key itself is never sent back). `POST /api/deployments/settings/test-connection` (and
//! `/api/deployments/test-connection`) with `{"api_key"}` or no body (the stored key) asks io.net
//! for its hardware with that key and answers how much there is, or io.net's refusal.

use super::{API_KEY, ENABLED, client};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::ionet::shapes::MaxGpus;
use crate::ionet::{Api, IoNetError};
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

pub async fn settings(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let options = app.settings.now();
    let enabled = options.flag(ENABLED);
    let configured = !options.text(API_KEY).trim().is_empty();
    Ok(envelope::ok(json!({
        "provider": "io.net",
        "enabled": enabled,
        "configured": configured,
        "can_connect": enabled && configured,
    })))
}

#[derive(Deserialize)]
struct TestInput {
    #[serde(default)]
    api_key: Option<String>,
}

pub async fn test_connection(State(app): State<AppState>, _: AdminUser, body: Bytes) -> ApiResult {
    let given = if body.trim_ascii().is_empty() {
        None
    } else {
        serde_json::from_slice::<TestInput>(&body)
            .map_err(|_| ApiError::invalid("invalid request payload"))?
            .api_key
    };
    let key = match given
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
    {
        Some(key) => key,
        None => {
            let stored = app.settings.now().text(API_KEY).trim().to_string();
            if stored.is_empty() {
                return Err(ApiError::invalid("api_key is required"));
            }
            stored
        }
    };
    let answer: MaxGpus = client(&app, Api::Enterprise, &key)
        .get_data("/hardware/max-gpus-per-container", &[])
        .await
        .map_err(|error| match error {
            IoNetError::Refused(message) if message.trim().is_empty() => {
                ApiError::invalid("failed to validate api key")
            }
            IoNetError::Refused(message) => ApiError::invalid(message),
            IoNetError::Failed(message) => {
                ApiError::invalid(format!("failed to get max GPUs per container: {message}"))
            }
        })?;
    Ok(envelope::ok(json!({
        "hardware_count": answer.hardware.len(),
        "total_available": answer.total_available(),
    })))
}
