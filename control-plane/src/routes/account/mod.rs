//! Accounts and their email addresses: registration (new-api's `POST /api/user/register`, with
//! email verification and invitation codes), email-code login (seed 004's flow, also under its
//! own paths), password reset by email, and binding a verified address to the signed-in
//! account (`POST /api/oauth/email/bind`). Codes live in [`crate::verification`]; mail goes
//! through [`crate::mail`].
//!
//! Answers never tell whether an address belongs to an account: asking for a code, a login
//! code or a reset answers the same either way, and a code login for an unknown address fails
//! like a wrong code.

pub(super) mod address;
pub(super) mod email_bind;
pub(super) mod email_login;
pub(super) mod invitation_rewards;
pub(super) mod messages;
pub(super) mod register;
pub(super) mod reset;
pub(super) mod send_login_code;
pub(super) mod send_reset;
pub(super) mod send_verification;

use crate::app::App;
use crate::error::ApiError;
use crate::rate_limit;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use pylon_shared::db::UserRow;
use pylon_shared::roles::STATUS_ENABLED;
use serde::Deserialize;
use std::net::IpAddr;
use std::time::Duration;

/// Requests per client IP to the sensitive endpoints within [`CRITICAL_WINDOW`] (new-api's
/// `CriticalRateLimit`: 20 per 20 minutes).
const CRITICAL_PER_IP: u64 = 20;
const CRITICAL_WINDOW: Duration = Duration::from_secs(20 * 60);
/// Mails (codes, links, notices) one client IP may have sent within [`MAIL_WINDOW`].
const MAILS_PER_IP: u64 = 20;
/// Mails one address may receive within [`MAIL_WINDOW`], whatever asked for them.
const MAILS_PER_ADDRESS: u64 = 5;
const MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// A new-api switch option (`"true"`/`"false"`), `default` when unset.
async fn flag(app: &App, key: &str, default: bool) -> Result<bool, ApiError> {
    Ok(match app.settings.now().get(key) {
        Some(value) if !value.trim().is_empty() => value.trim() == "true",
        _ => default,
    })
}

/// A quota amount option; unset, unparsable or negative counts as 0 (new-api's default).
async fn quota_option(app: &App, key: &str) -> Result<i64, ApiError> {
    Ok(app
        .settings
        .now()
        .get(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(0))
}

/// Counts one request of `action` from `ip` against new-api's critical-endpoint budget.
async fn critical_limit(app: &App, action: &str, ip: IpAddr) -> Result<(), ApiError> {
    rate_limit::check(
        app,
        &format!("{action}:ip"),
        &ip.to_string(),
        CRITICAL_PER_IP,
        CRITICAL_WINDOW,
    )
    .await
}

/// Counts one mail asked for by `ip` for `address`; refuses once either budget is spent. Every
/// purpose shares the budgets, so that no inbox can be flooded through any of them. Counted
/// whether or not the address has an account, so the limit reveals nothing either.
async fn mail_limit(app: &App, ip: IpAddr, address: &str) -> Result<(), ApiError> {
    rate_limit::check(app, "mail:ip", &ip.to_string(), MAILS_PER_IP, MAIL_WINDOW).await?;
    rate_limit::check(app, "mail:address", address, MAILS_PER_ADDRESS, MAIL_WINDOW).await
}

/// The enabled account whose address is `email` (exactly one), if any.
async fn enabled_account(app: &App, email: &str) -> Result<Option<UserRow>, ApiError> {
    let Some(user_id) = app.db.user_id_by_email(email).await? else {
        return Ok(None);
    };
    Ok(app
        .db
        .user_by_id(user_id)
        .await?
        .filter(|user| user.status == STATUS_ENABLED))
}

/// The `email` query parameter of new-api's mail endpoints (other parameters, such as
/// `turnstile`, are ignored).
#[derive(Deserialize)]
pub struct EmailQuery {
    #[serde(default)]
    email: String,
}

/// The `email` parameter, or a new-api style error for an unreadable query string.
fn email_param(query: Result<Query<EmailQuery>, QueryRejection>) -> Result<String, ApiError> {
    query
        .map(|Query(q)| q.email)
        .map_err(|_| ApiError::invalid("Invalid parameters"))
}
