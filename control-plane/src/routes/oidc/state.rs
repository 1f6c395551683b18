//! `GET /api/oauth/state`: new-api's start of an OAuth flow. The console gets a bare state
//! (`data` is the string) and builds the authorization URL itself, without a PKCE challenge,
//! so this flow redeems its code without a verifier; `GET /api/oauth/oidc/start` is the same
//! flow with PKCE. A signed-in caller's flow binds, as new-api decides by the session.

use super::CONSOLE_CALLBACK_PATH;
use super::pending::{self, Purpose};
use super::settings::Settings;
use super::start::{limit_starts, signed_in};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;

pub async fn state(State(app): State<AppState>, ClientIp(ip): ClientIp, parts: Parts) -> ApiResult {
    limit_starts(&app, ip).await?;
    let purpose = match signed_in(&app, parts).await? {
        Some(user_id) => Purpose::Bind(user_id),
        None => Purpose::Login,
    };
    let settings = Settings::load(&app).await?;
    let redirect_uri = settings.redirect_uri(CONSOLE_CALLBACK_PATH)?;
    let started = pending::begin(&app, purpose, redirect_uri, false).await?;
    let cookie = started.cookie(settings.is_https())?;
    let mut response = envelope::ok(&started.state);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
