//! `GET /api/oauth/state`: new-api's start of an OAuth flow. The console gets a bare state
//! (`data` is the string) and builds the authorization URL itself, without a PKCE challenge,
//! so this flow redeems its code without a verifier; `GET /api/oauth/oidc/start` is the same
//! flow with PKCE. Any provider may redeem a bare state: the OIDC provider, or a custom
//! provider (its callback, JWT or trusted header login). A signed-in caller's flow binds, as
//! new-api decides by the session. `?aff=` carries the inviter's code: a sign-up this flow
//! ends in is credited to it as a password registration with that code is
//! (`routes::account::invitation_rewards`).

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
    let aff = aff_code(parts.uri.query().unwrap_or(""));
    let purpose = match signed_in(&app, parts).await? {
        Some(user_id) => Purpose::Bind(user_id),
        None => Purpose::Login,
    };
    // Only a sign-up is credited to an inviter.
    let aff = aff.filter(|_| purpose == Purpose::Login);
    let address = pending::server_address(&app)?;
    let started = pending::begin_invited(&app, purpose, Request::Console, aff).await?;
    let cookie = started.cookie(pending::is_https(&address))?;
    let mut response = envelope::ok(&started.state);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The longest invitation code kept (new-api's codes are 4 characters; its newer state route
/// refuses more than 32).
const MAX_AFF_CHARS: usize = 32;

/// The `aff` of a query string, when set and of a usable length.
fn aff_code(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "aff")
        .map(|(_, value)| value.trim().to_string())
        .filter(|code| !code.is_empty() && code.chars().count() <= MAX_AFF_CHARS)
}

#[cfg(test)]
mod tests {
    use super::aff_code;

    #[test]
    fn the_invitation_code_is_read_from_the_query() {
        assert_eq!(aff_code("aff=Ab12").as_deref(), Some("Ab12"));
        assert_eq!(aff_code("x=1&aff=%20Zz9%20").as_deref(), Some("Zz9"));
        assert_eq!(aff_code("aff="), None);
        assert_eq!(aff_code(""), None);
        assert_eq!(aff_code(&format!("aff={}", "a".repeat(33))), None);
    }
}
