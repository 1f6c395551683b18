//! `POST /api/user/passkey/login/finish`: verifies the authenticator's assertion (the body is
//! the `PublicKeyCredential` JSON) against the challenge of `begin`, finds the user by the
//! credential, and starts a session exactly as a password login does. A passkey with user
//! verification is a complete second factor, so no 2FA code follows (as in new-api).

use super::{ceremony, credential_hash, relying_party};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::rate_limit;
use crate::routes::user::login;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::Value;
use webauthn_rs::prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential};

/// One answer for every failed verification, so that it reveals nothing about which check
/// failed or whether the credential exists.
const FAILED: &str = "Passkey verification failed, please try again or contact the administrator";

pub async fn finish(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    rate_limit::login_attempt(&app, ip).await?;
    let mut body: Value = parse_json(&body)?;
    let body = match body.get_mut("credential").map(Value::take) {
        Some(credential) => credential,
        None => body,
    };
    let credential: PublicKeyCredential = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let flow = ceremony::login_flow(&headers);
    let state: Option<Value> = if flow.is_empty() {
        None
    } else {
        ceremony::take(&app, &ceremony::login_key(&flow)).await?
    };
    let state = state.ok_or_else(|| {
        ApiError::invalid("The passkey login has expired or was not started; start again")
    })?;

    let row = app
        .db
        .passkey_by_credential_hash(&credential_hash(credential.get_credential_id()))
        .await?
        .ok_or_else(|| ApiError::invalid(FAILED))?;
    let passkey: Passkey =
        serde_json::from_str(&row.passkey).map_err(|e| ApiError::Internal(e.into()))?;
    let user = app
        .db
        .user_by_id(row.user_id)
        .await?
        .ok_or_else(|| ApiError::invalid(FAILED))?;
    if user.status != STATUS_ENABLED {
        return Err(ApiError::invalid("User has been disabled"));
    }
    if let Some(handle) = credential.get_user_unique_id()
        && handle != relying_party::user_handle(user.id).as_bytes()
    {
        return Err(ApiError::invalid(FAILED));
    }

    let state = with_allowed_credential(state, &passkey)?;
    ceremony::finish_authentication(
        &app,
        &headers,
        &credential,
        &state,
        passkey,
        row.id,
        user.id,
        ("passkey login", FAILED),
    )
    .await?;

    let mut response = login::sign_in(&app, &user, ip, &headers).await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, ceremony::login_cookie("")?);
    Ok(response)
}

/// The login state with `passkey` as its one allowed credential. webauthn-rs does this itself
/// for discoverable logins (`set_allowed_credentials`) only behind its `conditional-ui`
/// feature; with state serialisation enabled the same edit is made on the serialized state.
fn with_allowed_credential(
    mut state: Value,
    passkey: &Passkey,
) -> Result<PasskeyAuthentication, ApiError> {
    let mut passkey = serde_json::to_value(passkey).map_err(|e| ApiError::Internal(e.into()))?;
    let credential = passkey
        .get_mut("cred")
        .map(Value::take)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unexpected passkey layout")))?;
    let credentials = state
        .pointer_mut("/ast/credentials")
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unexpected login state layout")))?;
    *credentials = Value::Array(vec![credential]);
    serde_json::from_value(state).map_err(|e| ApiError::Internal(e.into()))
}
