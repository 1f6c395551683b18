//! `GET /api/oauth/oidc?code=&state=` (new-api's console calls it from its `/oauth/oidc` page)
//! and `GET /auth/callback` (seed 001, where the provider sends the browser in the
//! server-driven flow): redeems the state, then the code, then signs in or binds. Any failure
//! (a refused or replayed state, an error from the provider, a token or user info request that
//! fails or times out) is a clear error that changes nothing. Limited per client IP.

use super::pending::{self, Purpose};
use super::settings::Settings;
use super::sign_in_id::Slot;
use super::{bind, login, provider};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use crate::routes::custom_oauth::account::Client;
use crate::routes::custom_oauth::redeem::{param, refusal};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::time::Duration;

pub async fn callback(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    rate_limit::check(
        &app,
        "oidc_callback",
        &ip.to_string(),
        app.config.auth.login_attempts_per_ip,
        Duration::from_secs(app.config.auth.login_window_secs),
    )
    .await?;
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();

    let settings = Settings::load(&app).await?;
    if !settings.enabled {
        return Err(ApiError::invalid(super::settings::NOT_ENABLED));
    }
    let pending = pending::take(&app, &headers, param(&query, "state")).await?;

    // The state is spent from here on, whatever happens: the browser forgets it too.
    let ip = ip.to_string();
    let client = Client::of(&ip, &headers);
    let outcome = finish(&app, &settings, &pending, &query, &client).await;
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().append(
        header::SET_COOKIE,
        pending::clearing_cookie(settings.is_https())?,
    );
    Ok(response)
}

async fn finish(
    app: &App,
    settings: &Settings,
    pending: &pending::Pending,
    query: &HashMap<String, String>,
    client: &Client<'_>,
) -> ApiResult {
    if let Some(reason) = refusal(query) {
        return Err(ApiError::invalid(format!(
            "The OIDC provider refused the sign-in: {reason}"
        )));
    }
    let code = param(query, "code");
    if code.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: code is missing"));
    }
    // A flow another provider started (its code is for another client) is refused.
    if !pending.is_for(super::PROVIDER) {
        return Err(ApiError::invalid(pending::INVALID_STATE));
    }
    settings.require_enabled()?;
    let endpoints = settings.endpoints(app).await?;
    let mut pending = pending.clone();
    if pending.redirect_uri.is_empty() {
        pending.redirect_uri = settings.redirect_uri(super::CONSOLE_CALLBACK_PATH)?;
    }
    let person = provider::identify(settings, &endpoints, &pending, code)
        .await?
        .person();
    match pending.purpose {
        Purpose::Login => {
            login::finish(app, &Slot::OIDC, &person, client, pending.aff.as_deref()).await
        }
        Purpose::Bind(user_id) => {
            bind::finish(app, &Slot::OIDC, user_id, &person).await?;
            Ok(bind::bound())
        }
    }
}
