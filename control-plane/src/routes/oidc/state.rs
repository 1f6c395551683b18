//! `GET /api/oauth/state`: new-api's start of an OAuth flow. The console gets a bare state
//! (`data` is the string) and builds the authorization URL itself, without a PKCE challenge,
//! so this flow redeems its code without a verifier; `GET /api/oauth/oidc/start` is the same
//! flow with PKCE. Any provider may redeem a bare state: the OIDC provider, or a custom
//! provider (its callback, JWT or trusted header login). A signed-in caller's flow binds, as
//! new-api decides by the session.

use super::pending::{self, Purpose, Request};
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
    let address = pending::server_address(&app)?;
    let started = pending::begin(&app, purpose, Request::Console).await?;
    let cookie = started.cookie(pending::is_https(&address))?;
    let mut response = envelope::ok(&started.state);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
