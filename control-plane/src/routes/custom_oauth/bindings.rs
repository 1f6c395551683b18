//! The signed-in user's custom provider bindings: `GET /api/user/oauth/bindings` lists them
//! (new-api's `UserOAuthBindingResponse` items), `DELETE /api/user/oauth/bindings/{provider_id}`
//! removes the caller's own binding to that provider. A provider the caller is not bound to is
//! refused, and nobody else's binding is ever touched.

use super::config::Settings;
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{RawPathParams, State};
use serde_json::{Value, json};

pub async fn list(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    Ok(envelope::ok(of_user(&app, user.id).await?))
}

pub async fn unbind(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    params: RawPathParams,
) -> ApiResult {
    let provider_id = provider_id(&params)?;
    remove(&app, user.id, provider_id).await?;
    tracing::info!(
        user = user.id,
        provider = provider_id,
        "custom OAuth binding removed"
    );
    Ok(envelope::ok_message("Unbound successfully"))
}

/// `user_id`'s bindings, as new-api lists them.
pub async fn of_user(app: &App, user_id: i64) -> Result<Vec<Value>, ApiError> {
    Ok(app
        .db
        .user_bindings(user_id)
        .await?
        .into_iter()
        .map(|binding| {
            let icon = serde_json::from_str::<Settings>(&binding.provider_settings)
                .map(|settings| settings.icon)
                .unwrap_or_default();
            json!({
                "provider_id": binding.provider_id,
                "provider_name": binding.provider_name,
                "provider_slug": binding.provider_slug,
                "provider_icon": icon,
                "provider_user_id": binding.provider_user_id,
            })
        })
        .collect())
}

/// Removes `user_id`'s binding to `provider_id`; refused when there is none.
pub async fn remove(app: &App, user_id: i64, provider_id: i64) -> Result<(), ApiError> {
    if !app
        .db
        .unbind_external_identity(user_id, provider_id)
        .await?
    {
        return Err(ApiError::invalid("No binding to this OAuth provider"));
    }
    Ok(())
}

/// The `{provider_id}` of the path: a positive 64-bit integer.
pub fn provider_id(params: &RawPathParams) -> Result<i64, ApiError> {
    params
        .iter()
        .find_map(|(name, value)| (name == "provider_id").then_some(value))
        .and_then(|value| value.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("Invalid provider ID"))
}
