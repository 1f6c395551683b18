//! `POST /api/user/passkey/verify/finish`: checks the authenticator's assertion (the
//! `PublicKeyCredential` JSON, bare or as `{"credential": ...}`) against the challenge `begin`
//! gave this login session and one of the user's own passkeys (new-api's
//! `PasskeyVerifyFinish`). On success the session is marked ready: `POST /api/verify` with
//! `method: passkey` then completes the secure verification. Nothing is marked on failure.

use super::verify_begin::NOT_BOUND;
use super::{ceremony, relying_party};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::routes::secure_verification;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rs::prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential};

/// One answer for every failed check, revealing nothing about which one failed.
const FAILED: &str = "Passkey verification failed, please try again";

pub async fn finish(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    let session = secure_verification::session_of(&app, &headers, &user).await?;
    let mut body: Value = parse_json(&body)?;
    let body = match body.get_mut("credential").map(Value::take) {
        Some(credential) => credential,
        None => body,
    };
    let credential: PublicKeyCredential = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let rows = app.db.user_passkeys(user.id).await?;
    if rows.is_empty() {
        return Err(ApiError::invalid(NOT_BOUND));
    }
    let state: PasskeyAuthentication =
        ceremony::take(&app, &ceremony::verification_key(&session.id_hash))
            .await?
            .ok_or_else(|| {
                ApiError::invalid(
                    "The passkey verification has expired or was not started; start again",
                )
            })?;
    let presented = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
    let row = rows
        .iter()
        .find(|row| row.credential_id == presented)
        .ok_or_else(|| ApiError::invalid(FAILED))?;
    let passkey: Passkey =
        serde_json::from_str(&row.passkey).map_err(|e| ApiError::Internal(e.into()))?;
    ceremony::finish_authentication(
        &app,
        &headers,
        &credential,
        &state,
        passkey,
        row.id,
        user.id,
        ("passkey verification", FAILED),
    )
    .await?;
    secure_verification::mark_passkey_ready(&app, &session).await?;
    Ok(envelope::ok_message("Passkey verification successful"))
}
