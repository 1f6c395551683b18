//! The server half of a WebAuthn ceremony between `begin` and `finish`: webauthn-rs's state
//! (challenge, allowed credentials), kept in the shared cache so that any node can finish it,
//! and taken (deleted) when used, so a challenge is answered once. Registration state is keyed
//! by the signed-in user, a secure verification by the login session it proves; a passwordless
//! login has no user yet, so its state is keyed by a random flow id carried in a short-lived
//! cookie, as new-api keeps it in its session cookie.

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use pylon_shared::crypto::sha256_hex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use webauthn_rs::prelude::{Passkey, PasskeyAuthentication, PublicKeyCredential};

/// How long a ceremony may take (the browser's own timeout is 2 minutes).
const TTL: Duration = Duration::from_secs(300);
/// The cookie carrying a passwordless login's flow id.
pub const LOGIN_COOKIE: &str = "pylon_passkey";

/// The cache key of the user's registration in progress.
pub fn registration_key(user_id: i64) -> String {
    format!("passkey:register:{user_id}")
}

/// The cache key of the secure verification (`/api/user/passkey/verify/*`) in progress in the
/// login session whose id hashes to `session_id_hash`.
pub fn verification_key(session_id_hash: &str) -> String {
    format!("passkey:verify:{session_id_hash}")
}

/// The cache key of the passwordless login `flow`.
pub fn login_key(flow: &str) -> String {
    format!("passkey:login:{}", sha256_hex(flow.as_bytes()))
}

/// Keeps `state` under `key` until the ceremony finishes or lapses.
pub async fn save<T: Serialize>(app: &App, key: &str, state: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string(state).map_err(|e| ApiError::Internal(e.into()))?;
    app.cache.set(key, &text, TTL).await?;
    Ok(())
}

/// Takes the state under `key` (it cannot be used again); `None` when absent or lapsed.
pub async fn take<T: DeserializeOwned>(app: &App, key: &str) -> Result<Option<T>, ApiError> {
    let Some(text) = app.cache.get(key).await? else {
        return Ok(None);
    };
    app.cache.delete(key).await?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// The flow id in the request's login cookie (empty when there is none).
pub fn login_flow(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == LOGIN_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
        .unwrap_or_default()
}

/// The `Set-Cookie` value that hands `flow` to the client (empty `flow`: removes it).
pub fn login_cookie(flow: &str) -> Result<HeaderValue, ApiError> {
    let max_age = if flow.is_empty() { 0 } else { TTL.as_secs() };
    HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={flow}; Path=/api/user/passkey/login; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

/// Checks an authenticator's answer against the ceremony `state` and records the use of the
/// stored `passkey` (row `row_id` of user `user_id`): its signature counter moves on, as a
/// stale copy would flag the next use as a clone. A refusal is logged as `what` and answers
/// `refused`.
#[expect(
    clippy::too_many_arguments,
    reason = "one ceremony's parts, named at each call"
)]
pub async fn finish_authentication(
    app: &App,
    headers: &HeaderMap,
    credential: &PublicKeyCredential,
    state: &PasskeyAuthentication,
    mut passkey: Passkey,
    row_id: i64,
    user_id: i64,
    (what, refused): (&str, &'static str),
) -> Result<(), ApiError> {
    let webauthn = super::relying_party::webauthn(app, headers).await?;
    let result = webauthn
        .finish_passkey_authentication(credential, state)
        .map_err(|error| {
            tracing::info!(user = user_id, %error, "{what} refused");
            ApiError::invalid(refused)
        })?;
    passkey.update_credential(&result);
    let stored = serde_json::to_string(&passkey).map_err(|e| ApiError::Internal(e.into()))?;
    app.db.record_passkey_use(row_id, &stored).await?;
    Ok(())
}
