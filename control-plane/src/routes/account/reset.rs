//! `POST /api/user/reset` `{"email", "token"}`: completes a password reset mailed by
//! `GET /api/reset_password`. As in new-api, a new random password is set and returned as
//! `data`. The token works once; on success every session and the access token of the account
//! are revoked. A wrong or used token and an unknown address get the same answer.

use super::{address, critical_limit, enabled_account};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::verification::{self, Purpose};
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::crypto::{hash_password, random_alphanumeric};
use serde::Deserialize;

const BAD_TOKEN: &str = "The reset link is invalid or has expired";
/// Length of the generated password (new-api generates 12 characters).
const NEW_PASSWORD_CHARS: usize = 12;

#[derive(Deserialize)]
struct ResetRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    token: String,
}

pub async fn reset(State(app): State<AppState>, ClientIp(ip): ClientIp, body: Bytes) -> ApiResult {
    critical_limit(&app, "reset", ip).await?;
    let request: ResetRequest = parse_json(&body)?;
    if request.email.trim().is_empty() || request.token.trim().is_empty() {
        return Err(ApiError::invalid("Invalid parameters"));
    }
    let email = address::normalize(&request.email)?;
    let user =
        if verification::consume(&app, Purpose::PasswordReset, &email, &request.token).await? {
            enabled_account(&app, &email).await?
        } else {
            None
        };
    let Some(user) = user else {
        return Err(ApiError::invalid(BAD_TOKEN));
    };

    let password = random_alphanumeric(NEW_PASSWORD_CHARS);
    let plain = password.clone();
    // Argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&plain))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    app.db
        .set_password_revoking_token(user.id, &password_hash)
        .await?;
    app.db.delete_user_sessions(user.id).await?;
    tracing::info!(user_id = user.id, "password reset by email");
    Ok(envelope::ok(password))
}
