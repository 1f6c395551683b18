//! `POST /api/user/passkey/login/begin`: starts a passwordless login. Answers
//! `{"options": {"publicKey": ...}}` with no allowed credentials, so the browser offers any
//! discoverable passkey of this site; the challenge is remembered under a flow id set in a
//! short-lived cookie.

use super::ceremony;
use super::relying_party;
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use pylon_shared::crypto::random_alphanumeric;
use serde_json::json;
use std::time::Duration;

/// Ceremonies one client IP may start per window (each one holds cache memory until it lapses).
const BEGINS_PER_IP: u64 = 60;
const BEGIN_WINDOW: Duration = Duration::from_secs(300);

pub async fn begin(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> ApiResult {
    relying_party::ensure_enabled(&app).await?;
    rate_limit::check(
        &app,
        "passkey_login",
        &ip.to_string(),
        BEGINS_PER_IP,
        BEGIN_WINDOW,
    )
    .await?;
    let webauthn = relying_party::webauthn(&app, &headers).await?;
    // No credentials listed: the authenticator picks a discoverable one and names its user.
    let (challenge, state) = webauthn
        .start_passkey_authentication(&[])
        .map_err(|e| ApiError::invalid(format!("Cannot start the passkey login: {e}")))?;
    let flow = random_alphanumeric(40);
    ceremony::save(&app, &ceremony::login_key(&flow), &state).await?;
    let mut response = envelope::ok(json!({ "options": challenge }));
    response
        .headers_mut()
        .insert(header::SET_COOKIE, ceremony::login_cookie(&flow)?);
    Ok(response)
}
