//! Starting a flow with the whole authorization URL built here, PKCE (S256) and nonce included:
//! `GET /api/oauth/oidc/start` answers it (for a console, which then sends the browser there),
//! `GET /auth/login` (seed 001) redirects the browser to it. A signed-in caller of the former
//! binds the provider account to their own; everyone else signs in.

use super::pending::{self, Purpose, Request, Started};
use super::settings::{Settings, http_url};
use super::{CONSOLE_CALLBACK_PATH, SERVER_CALLBACK_PATH};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;

/// The scopes asked for (new-api's).
const SCOPE: &str = "openid profile email";

/// `GET /api/oauth/oidc/start`: `{"url", "state"}` of a new flow.
pub async fn start(State(app): State<AppState>, ClientIp(ip): ClientIp, parts: Parts) -> ApiResult {
    let purpose = match signed_in(&app, parts).await? {
        Some(user_id) => Purpose::Bind(user_id),
        None => Purpose::Login,
    };
    authorization(&app, ip, purpose, CONSOLE_CALLBACK_PATH).await
}

/// `GET /auth/login`: a redirect to the provider to sign in; it comes back to `/auth/callback`.
pub async fn redirect(State(app): State<AppState>, ClientIp(ip): ClientIp) -> ApiResult {
    let flow = begin(&app, ip, Purpose::Login, SERVER_CALLBACK_PATH).await?;
    let location = HeaderValue::from_str(&flow.url).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, flow.cookie),
        ],
    )
        .into_response())
}

/// The JSON answer of a started flow, with the state cookie set.
pub async fn authorization(
    app: &App,
    ip: IpAddr,
    purpose: Purpose,
    callback_path: &str,
) -> ApiResult {
    let flow = begin(app, ip, purpose, callback_path).await?;
    let mut response = envelope::ok(json!({ "url": flow.url, "state": flow.state }));
    response
        .headers_mut()
        .append(header::SET_COOKIE, flow.cookie);
    Ok(response)
}

/// A started flow, as the browser needs it.
struct Flow {
    /// Where to send the browser.
    url: String,
    state: String,
    /// The `Set-Cookie` value tying the state to the browser.
    cookie: HeaderValue,
}

/// Starts a flow that comes back to `callback_path`: the authorization URL and the cookie.
async fn begin(
    app: &App,
    ip: IpAddr,
    purpose: Purpose,
    callback_path: &str,
) -> Result<Flow, ApiError> {
    limit_starts(app, ip).await?;
    let settings = Settings::load(app).await?;
    settings.require_enabled()?;
    let endpoints = settings.endpoints(app).await?;
    let redirect_uri = settings.redirect_uri(callback_path)?;
    let request = Request::Full {
        provider: super::PROVIDER,
        redirect_uri,
    };
    let started = pending::begin(app, purpose, request).await?;
    Ok(Flow {
        url: authorization_url(&endpoints.authorization, &settings, &started)?,
        cookie: started.cookie(settings.is_https())?,
        state: started.state,
    })
}

fn authorization_url(
    endpoint: &str,
    settings: &Settings,
    started: &Started,
) -> Result<String, ApiError> {
    let mut url = http_url(endpoint)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", &started.pending.redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("state", &started.state);
        if let Some(nonce) = &started.pending.nonce {
            query.append_pair("nonce", nonce);
        }
        if let Some(challenge) = started.code_challenge() {
            query
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}

/// Starting flows costs cache entries: limit them per client IP like logins.
pub async fn limit_starts(app: &App, ip: IpAddr) -> Result<(), ApiError> {
    rate_limit::check(
        app,
        "oidc_start",
        &ip.to_string(),
        app.config.auth.login_attempts_per_ip,
        Duration::from_secs(app.config.auth.login_window_secs),
    )
    .await
}

/// The id of the signed-in caller, if the request proves one (cookie or access token, with a
/// matching `New-Api-User`); anything else is an anonymous caller.
pub async fn signed_in(app: &AppState, mut parts: Parts) -> Result<Option<i64>, ApiError> {
    Ok(crate::auth::caller(&mut parts, app)
        .await?
        .map(|AuthUser { user }| user.id))
}
