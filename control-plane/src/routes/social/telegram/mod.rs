//! Telegram sign-in as new-api does it, with the data of Telegram's login widget (checked in
//! [`widget`]) in the query:
//!
//! - `GET /api/oauth/telegram/login` (the console calls it with the widget's data): signs in
//!   as the account bound to the Telegram id. new-api makes no account here: an id nobody
//!   bound is refused.
//! - `GET /api/oauth/telegram/bind` (the widget sends the browser there): binds the id to the
//!   account of the session cookie, then redirects to the console's personal page, as new-api
//!   does. The session cookie is `SameSite=Strict`, so a page of another site cannot make a
//!   signed-in browser bind someone else's Telegram account.
//!
//! Both are refused while `TelegramOAuthEnabled` is off; an authorization is used at most once
//! and only while it is recent, and both are limited per client IP like logins.

mod widget;

use super::not_enabled;
use crate::app::{App, AppState};
use crate::auth::session;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use crate::routes::custom_oauth::account::Client;
use crate::routes::oidc::bind;
use crate::routes::oidc::login::{owner, start_session};
use crate::routes::oidc::sign_in_id::{Person, Slot};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use pylon_shared::db::now_secs;
use pylon_shared::session::refusals;
use std::net::IpAddr;
use std::time::Duration;
use widget::Refusal;

/// Where new-api sends the browser after a binding.
const AFTER_BIND: &str = "/console/personal";

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let person = authorized(&app, ip, query).await?;
    let Some(user_id) = owner(&app, &Slot::TELEGRAM, &person).await? else {
        return Err(ApiError::invalid(
            "This Telegram account is not bound to any user",
        ));
    };
    let ip = ip.to_string();
    let client = Client::of(&ip, &headers);
    start_session(&app, user_id, client.ip, client.user_agent).await
}

pub async fn bind(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let Some(session) = session::from_headers(&headers, &app).await? else {
        return Err(ApiError::Unauthorized(refusals::NOT_LOGGED_IN));
    };
    let person = authorized(&app, ip, query).await?;
    bind::finish(&app, &Slot::TELEGRAM, session.user_id, &person).await?;
    Ok((StatusCode::FOUND, [(header::LOCATION, AFTER_BIND)]).into_response())
}

/// The Telegram user of the widget data in `query`, once: refused while Telegram sign-in is
/// off, when the data is not signed with the bot's token, too old, or was used before.
async fn authorized(app: &App, ip: IpAddr, query: Option<String>) -> Result<Person, ApiError> {
    rate_limit::login_attempt(app, ip).await?;
    let options = app.settings.now();
    if !options.flag("TelegramOAuthEnabled") {
        return Err(not_enabled(&Slot::TELEGRAM));
    }
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let bot_token = options.text("TelegramBotToken").trim();
    let verified =
        widget::verify(&pairs, bot_token, now_secs()).map_err(|refusal| match refusal {
            Refusal::Invalid => {
                ApiError::invalid("Invalid request: the Telegram authorization is not authentic")
            }
            Refusal::Expired => ApiError::invalid(
                "The Telegram authorization has expired, please sign in with Telegram again",
            ),
        })?;
    // The first use wins, across every control-plane node: the counter is atomic.
    let remembered = Duration::from_secs(widget::MAX_AGE_SECS as u64 * 2);
    if app
        .cache
        .hit(&format!("telegram:used:{}", verified.hash), remembered)
        .await?
        != 1
    {
        return Err(ApiError::invalid(
            "This Telegram authorization was already used, please sign in with Telegram again",
        ));
    }
    Ok(Person {
        id: verified.id,
        ..Person::default()
    })
}
