//! new-api's Codex channel helpers (administrators), for channels of type 57 whose key is
//! new-api's Codex OAuth JSON (`access_token`, `refresh_token`, `account_id`, `email`,
//! `last_refresh`, `expired`, `type`):
//! - `POST /api/channel/codex/oauth/start` (and `/api/channel/{id}/codex/oauth/start`) begins an
//!   OAuth PKCE sign-in at OpenAI's auth server (`control_plane.codex_auth_url`) and answers its
//!   `authorize_url`; the state and verifier wait in the cache for 10 minutes, for this
//!   administrator and channel;
//! - `POST .../oauth/complete` `{input}` (the callback URL, `code#state`, or its query) exchanges
//!   the code: without a channel the answer carries the new `key`, with one it is saved as the
//!   channel's key (every proxy is told);
//! - `POST /api/channel/{id}/codex/refresh` renews the channel's tokens with its refresh token;
//! - `GET /api/channel/{id}/codex/usage` relays the channel's ChatGPT usage
//!   (`{base_url}/backend-api/wham/usage`), renewing the tokens once when they are refused.

pub(in crate::routes) mod oauth;
pub(in crate::routes) mod refresh;
pub(in crate::routes) mod usage;

use super::{announce, find};
use crate::app::AppState;
use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_shared::db::{ChannelFields, ChannelRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// new-api's Codex channel type.
const CODEX: i64 = 57;
/// The Codex CLI's OAuth client, which new-api signs in as.
const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// Where the Codex CLI's sign-in sends the browser back (the operator copies that URL).
const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
/// How long the auth server may take.
const AUTH_TIMEOUT: Duration = Duration::from_secs(20);

/// new-api's Codex OAuth key, stored as the channel's key.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct OAuthKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    access_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    refresh_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    account_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    last_refresh: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    r#type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    expired: String,
}

/// Fresh tokens from the auth server.
struct Tokens {
    access_token: String,
    refresh_token: String,
    /// RFC 3339 time they expire.
    expires_at: String,
}

/// The Codex channel `id`, or new-api's refusal.
async fn codex_channel(app: &AppState, id: i64) -> Result<ChannelRow, ApiError> {
    let row = find(app, id).await?;
    if row.r#type != CODEX {
        return Err(ApiError::invalid("channel type is not Codex"));
    }
    Ok(row)
}

/// The OAuth key of a Codex channel.
fn key_of(row: &ChannelRow) -> Result<OAuthKey, ApiError> {
    serde_json::from_str(row.keys.trim())
        .map_err(|_| ApiError::invalid("The channel's key is not a Codex OAuth JSON object"))
}

/// Stores `key` as the channel's key (the channel's other fields as read) and tells every proxy.
async fn save_key(app: &AppState, row: &ChannelRow, key: &OAuthKey) -> Result<(), ApiError> {
    let mut fields = ChannelFields::from(row);
    fields.keys = serde_json::to_string(key).map_err(|e| ApiError::Internal(e.into()))?;
    if !app.db.update_channel(row.id, &fields).await? {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    announce(app, &[row.id]).await
}

/// Now, as RFC 3339 (UTC).
fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Posts a token request to the auth server (`grant_type` and the rest of `form`).
async fn token_request(app: &AppState, form: &[(&str, &str)]) -> Result<Tokens, String> {
    let client = reqwest::Client::builder()
        .timeout(AUTH_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|_| "cannot build an HTTP client".to_string())?;
    let url = format!(
        "{}/oauth/token",
        app.config
            .control_plane
            .codex_auth_url
            .trim_end_matches('/')
    );
    let response = client
        .post(url)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| format!("the auth server cannot be reached: {}", e.without_url()))?;
    let status = response.status();
    let body = super::upstream::read_bounded(response).await?;
    if !status.is_success() {
        return Err(format!("the auth server answered {}", status.as_u16()));
    }
    let answer: Value =
        serde_json::from_slice(&body).map_err(|_| "the auth server's answer is not JSON")?;
    let text = |name: &str| answer[name].as_str().unwrap_or("").trim().to_string();
    let expires_in = answer["expires_in"].as_i64().unwrap_or(0);
    let (access_token, refresh_token) = (text("access_token"), text("refresh_token"));
    if access_token.is_empty() || refresh_token.is_empty() || expires_in <= 0 {
        return Err("the auth server's answer misses tokens".into());
    }
    let expires_at = chrono::Utc::now() + chrono::Duration::seconds(expires_in);
    Ok(Tokens {
        access_token,
        refresh_token,
        expires_at: expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Renews `key`'s tokens with its refresh token.
async fn refreshed(app: &AppState, mut key: OAuthKey) -> Result<OAuthKey, String> {
    let refresh_token = key.refresh_token.trim().to_string();
    if refresh_token.is_empty() {
        return Err("the key has no refresh_token".into());
    }
    let tokens = token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("client_id", CLIENT_ID),
        ],
    )
    .await?;
    key.access_token = tokens.access_token;
    key.refresh_token = tokens.refresh_token;
    key.last_refresh = now_rfc3339();
    key.expired = tokens.expires_at;
    if key.r#type.is_empty() {
        key.r#type = "codex".into();
    }
    Ok(key)
}

/// The claims of a JWT, unverified (new-api reads the account and email from its own token).
fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}
