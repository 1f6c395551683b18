//! `POST /api/user/passkey/register/finish`: verifies the authenticator's answer to `begin`
//! (the body is the `PublicKeyCredential` JSON, as new-api reads it, or
//! `{"credential": ..., "name": ...}`) and stores the passkey. A credential already registered
//! to anyone is refused.

use super::{DEFAULT_NAME, MAX_NAME_CHARS, ceremony, credential_hash, relying_party};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_shared::db::NewPasskey;
use serde_json::{Value, json};
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential};

pub async fn finish(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    let (credential, name) = parse(&body)?;
    let state: PasskeyRegistration = ceremony::take(&app, &ceremony::registration_key(user.id))
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "The passkey registration has expired or was not started; start again",
            )
        })?;
    let webauthn = relying_party::webauthn(&app, &headers).await?;
    let passkey = webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| ApiError::invalid(format!("Passkey registration failed: {e}")))?;
    let raw_id = passkey.cred_id().clone();
    let stored = serde_json::to_string(&passkey).map_err(|e| ApiError::Internal(e.into()))?;
    let id = app
        .db
        .insert_passkey(&NewPasskey {
            user_id: user.id,
            credential_hash: &credential_hash(&raw_id),
            credential_id: &URL_SAFE_NO_PAD.encode(&raw_id),
            name: &name,
            passkey: &stored,
        })
        .await?
        .ok_or_else(|| ApiError::invalid("This passkey is already registered"))?;
    tracing::info!(user = user.id, passkey = id, "passkey registered");
    Ok(Json(json!({
        "success": true,
        "message": "Passkey registered",
        "data": { "id": id, "name": name },
    }))
    .into_response())
}

/// The credential and the passkey's name from either body shape.
fn parse(body: &[u8]) -> Result<(RegisterPublicKeyCredential, String), ApiError> {
    let mut value: Value = parse_json(body)?;
    let (credential, name) = match value.get_mut("credential").map(Value::take) {
        Some(credential) => (credential, value.get("name").cloned()),
        None => (value, None),
    };
    let name = match name {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(name)) => name.trim().to_string(),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid parameters: name must be a string",
            ));
        }
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "Invalid parameters: the passkey name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    let name = if name.is_empty() {
        DEFAULT_NAME.to_string()
    } else {
        name
    };
    let credential = serde_json::from_value(credential)
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    Ok((credential, name))
}
