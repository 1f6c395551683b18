//! `POST /api/user/passkey/register/begin`: starts registering a passkey for the signed-in
//! user. Answers `{"options": {"publicKey": ...}}` for `navigator.credentials.create()`; the
//! user's existing passkeys are excluded, and a discoverable credential is asked for so that it
//! can log in without a username (new-api requires a resident key).

use super::{MAX_PASSKEYS, ceremony, relying_party};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use webauthn_rs::prelude::Passkey;

pub async fn begin(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    headers: HeaderMap,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    let existing = app.db.user_passkeys(user.id).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(ApiError::invalid(format!(
            "At most {MAX_PASSKEYS} passkeys can be registered; delete one first"
        )));
    }
    let webauthn = relying_party::webauthn(&app, &headers).await?;
    let exclude = existing
        .iter()
        .filter_map(|row| serde_json::from_str::<Passkey>(&row.passkey).ok())
        .map(|passkey| passkey.cred_id().clone())
        .collect();
    let display_name = match user.display_name.trim() {
        "" => user.username.as_str(),
        name => name,
    };
    let (challenge, state) = webauthn
        .start_passkey_registration(
            relying_party::user_handle(user.id),
            &user.username,
            display_name,
            Some(exclude),
        )
        .map_err(|e| ApiError::invalid(format!("Cannot start the passkey registration: {e}")))?;
    let mut options = serde_json::to_value(&challenge).map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = Value::from("required");
        selection["requireResidentKey"] = Value::from(true);
    }
    ceremony::save(&app, &ceremony::registration_key(user.id), &state).await?;
    Ok(envelope::ok(json!({ "options": options })))
}
