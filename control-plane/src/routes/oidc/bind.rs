//! Finishing a binding flow: the subject becomes the account's `oidc_id`, unless another user
//! already holds it. The answer is new-api's: `message` "bind", which its console checks.

use super::lock;
use super::provider::Identity;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::response::{IntoResponse, Response};
use pylon_shared::db::OidcOwner;
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::json;

/// Binds the subject of `identity` to `user_id`, who started the flow.
pub async fn finish(app: &App, user_id: i64, identity: &Identity) -> ApiResult {
    lock::with_subject(app, &identity.sub, async {
        match app.db.oidc_owner(&identity.sub).await? {
            // Binding again what is already bound changes nothing.
            Some(OidcOwner::Live(owner)) if owner == user_id => return Ok(()),
            Some(_) => {
                return Err(ApiError::invalid(
                    "This OIDC account is already bound to another user",
                ));
            }
            None => {}
        }
        let user = app.db.user_by_id(user_id).await?;
        if user.is_none_or(|u| u.status != STATUS_ENABLED) {
            return Err(ApiError::invalid("User has been banned or deleted"));
        }
        if !app.db.bind_oidc_id(user_id, &identity.sub).await? {
            return Err(ApiError::invalid("User has been banned or deleted"));
        }
        tracing::info!(user = user_id, "OIDC account bound");
        Ok(())
    })
    .await?;
    Ok(bound())
}

/// new-api's answer to a finished binding: `message` "bind", which its console checks.
pub fn bound() -> Response {
    Json(json!({
        "success": true,
        "message": "bind",
        "data": { "action": "bind" },
    }))
    .into_response()
}
