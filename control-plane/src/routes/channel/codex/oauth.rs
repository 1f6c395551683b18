//! `POST /api/channel/codex/oauth/start|complete` and `/api/channel/{id}/codex/oauth/*`: the
//! Codex sign-in (OAuth 2 with PKCE, S256) as new-api runs it.

use super::{
    CLIENT_ID, OAuthKey, REDIRECT_URI, codex_channel, jwt_claims, now_rfc3339, save_key,
    token_request,
};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_shared::crypto::constant_time_eq;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a started sign-in can be completed.
const PENDING_FOR: Duration = Duration::from_secs(600);

/// A started sign-in, kept in the cache.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
}

/// The body of `complete`.
#[derive(Deserialize)]
pub struct CompleteRequest {
    #[serde(default)]
    input: String,
}

/// The cache key of the sign-in `user` started for `channel` (0: no channel).
fn pending_key(user: i64, channel: i64) -> String {
    format!("codex_oauth:{user}:{channel}")
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

pub async fn start(State(app): State<AppState>, AdminUser(admin): AdminUser) -> ApiResult {
    begin(&app, admin.user.id, 0).await
}

pub async fn start_for_channel(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    codex_channel(&app, id).await?;
    begin(&app, admin.user.id, id).await
}

async fn begin(app: &AppState, user: i64, channel: i64) -> ApiResult {
    let state = hex::encode(random_bytes::<16>());
    let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&format!(
        "{}/oauth/authorize",
        app.config
            .control_plane
            .codex_auth_url
            .trim_end_matches('/')
    ))
    .map_err(|e| ApiError::Internal(e.into()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("id_token_add_organizations", "true")
        .append_pair("codex_cli_simplified_flow", "true")
        .append_pair("originator", "codex_cli_rs");
    let pending = serde_json::to_string(&Pending { state, verifier })
        .map_err(|e| ApiError::Internal(e.into()))?;
    app.cache
        .set(&pending_key(user, channel), &pending, PENDING_FOR)
        .await?;
    Ok(envelope::ok(json!({ "authorize_url": url.to_string() })))
}

/// The code and state of what the operator pasted: `code#state`, the callback URL, or its query.
fn code_and_state(input: &str) -> (String, String) {
    let input = input.trim();
    if let Some((code, state)) = input.split_once('#') {
        return (code.trim().to_string(), state.trim().to_string());
    }
    if input.contains("code=") {
        let query = url::Url::parse(input)
            .ok()
            .and_then(|u| u.query().map(str::to_string))
            .unwrap_or_else(|| input.trim_start_matches('?').to_string());
        let mut pairs = url::form_urlencoded::parse(query.as_bytes());
        let get = |name: &str, pairs: &mut url::form_urlencoded::Parse<'_>| {
            pairs
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let code = get("code", &mut pairs);
        let state = get("state", &mut url::form_urlencoded::parse(query.as_bytes()));
        return (code, state);
    }
    (input.to_string(), String::new())
}

pub async fn complete(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> ApiResult {
    finish(&app, admin.user.id, 0, &request.input).await
}

pub async fn complete_for_channel(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> ApiResult {
    finish(&app, admin.user.id, id, &request.input).await
}

async fn finish(app: &AppState, user: i64, channel: i64, input: &str) -> ApiResult {
    let (code, state) = code_and_state(input);
    if code.is_empty() {
        return Err(ApiError::invalid("missing authorization code"));
    }
    if state.is_empty() {
        return Err(ApiError::invalid("missing state in input"));
    }
    let row = if channel > 0 {
        Some(codex_channel(app, channel).await?)
    } else {
        None
    };
    let cache_key = pending_key(user, channel);
    let pending: Pending = app
        .cache
        .get(&cache_key)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| ApiError::invalid("oauth flow not started or session expired"))?;
    if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
        return Err(ApiError::invalid("state mismatch"));
    }
    let tokens = token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("code_verifier", &pending.verifier),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await
    .map_err(|reason| {
        ApiError::invalid(format!(
            "Exchanging the authorization code failed: {reason}"
        ))
    })?;
    let claims = jwt_claims(&tokens.access_token).unwrap_or_default();
    let account_id = claims["https://api.openai.com/auth"]["chatgpt_account_id"]
        .as_str()
        .unwrap_or("")
        .trim()
        .to_string();
    if account_id.is_empty() {
        return Err(ApiError::invalid(
            "failed to extract account_id from access_token",
        ));
    }
    let email = claims["email"].as_str().unwrap_or("").trim().to_string();
    let key = OAuthKey {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        account_id: account_id.clone(),
        last_refresh: now_rfc3339(),
        email: email.clone(),
        r#type: "codex".into(),
        expired: tokens.expires_at,
        ..OAuthKey::default()
    };
    app.cache.delete(&cache_key).await?;
    let mut data = json!({"account_id": account_id, "email": email,
        "expires_at": key.expired, "last_refresh": key.last_refresh});
    let message = match row {
        Some(row) => {
            save_key(app, &row, &key).await?;
            data["channel_id"] = json!(row.id);
            "saved"
        }
        None => {
            data["key"] =
                json!(serde_json::to_string(&key).map_err(|e| ApiError::Internal(e.into()))?);
            "generated"
        }
    };
    Ok(Json(json!({"success": true, "message": message, "data": data})).into_response())
}

#[cfg(test)]
mod tests {
    use super::code_and_state;

    #[test]
    fn pasted_callbacks_are_read() {
        let both = |c: &str, s: &str| (c.to_string(), s.to_string());
        assert_eq!(code_and_state(" abc#st "), both("abc", "st"));
        assert_eq!(
            code_and_state("http://localhost:1455/auth/callback?code=abc&state=st"),
            both("abc", "st")
        );
        assert_eq!(code_and_state("code=abc&state=st"), both("abc", "st"));
        assert_eq!(code_and_state("abc"), both("abc", ""));
    }
}
