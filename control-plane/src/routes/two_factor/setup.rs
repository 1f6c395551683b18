//! `POST /api/user/2fa/setup`: creates a fresh TOTP secret and backup codes for the caller,
//! pending until confirmed by `enable`. Answers the secret, the `otpauth://` URI to show as a
//! QR code and the backup codes (the only time they are shown). Refused while 2FA is enabled.

use super::codes;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::crypto::seal;
use serde_json::json;

/// Issuer shown in authenticator apps when the operator set no `SystemName`.
const DEFAULT_ISSUER: &str = "Pylon";

pub async fn setup(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    if app.db.two_factor_enabled(user.id).await? {
        return Err(ApiError::invalid(
            "Two-factor authentication is already enabled; disable it before setting it up again",
        ));
    }
    let issuer = app
        .settings
        .now()
        .get("SystemName")
        .filter(|name| !name.trim().is_empty())
        .unwrap_or(DEFAULT_ISSUER)
        .to_string();
    let (secret, uri) = codes::new_secret(issuer.trim(), &user.username)?;
    let backup_codes = codes::new_backup_codes();
    let hashes = codes::hash_backup_codes(&backup_codes).await?;
    let sealed = seal(&app.secrets.key_encryption, &secret);
    if !app
        .db
        .start_two_factor_setup(user.id, &sealed, &hashes)
        .await?
    {
        return Err(ApiError::invalid(
            "Two-factor authentication is already enabled; disable it before setting it up again",
        ));
    }
    tracing::info!(user = user.id, "2FA setup started");
    Ok(Json(json!({
        "success": true,
        "message": "2FA setup initialized: scan the QR code with your authenticator app and enter a code to finish",
        "data": {
            "secret": secret,
            "qr_code_data": uri,
            "backup_codes": backup_codes,
        },
    }))
    .into_response())
}
