//! `POST /api/user/passkey/verify/begin`: starts a passkey ceremony that proves the signed-in
//! user again before a sensitive action (new-api's `PasskeyVerifyBegin`). Answers
//! `{"options": {"publicKey": ...}}` allowing only the user's own passkeys; the challenge is
//! remembered for this login session, which alone can finish it.

use super::{ceremony, relying_party};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::secure_verification;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::json;
use webauthn_rs::prelude::Passkey;

/// new-api's answer for a user without a passkey.
pub(super) const NOT_BOUND: &str = "The user has not bound a passkey";

pub async fn begin(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    headers: HeaderMap,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    let session = secure_verification::session_of(&app, &headers, &user).await?;
    let passkeys: Vec<Passkey> = app
        .db
        .user_passkeys(user.id)
        .await?
        .iter()
        .filter_map(|row| serde_json::from_str(&row.passkey).ok())
        .collect();
    if passkeys.is_empty() {
        return Err(ApiError::invalid(NOT_BOUND));
    }
    let webauthn = relying_party::webauthn(&app, &headers).await?;
    let (challenge, state) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::invalid(format!("Cannot start the passkey verification: {e}")))?;
    ceremony::save(&app, &ceremony::verification_key(&session.id_hash), &state).await?;
    Ok(envelope::ok(json!({ "options": challenge })))
}
