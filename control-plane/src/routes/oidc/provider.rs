//! Talking to the provider's back channel: redeeming the code at the token endpoint (with the
//! client secret and the PKCE verifier) and reading who signed in from the user info endpoint.
//! Every failure becomes a clear error for the user and changes nothing.

use super::pending::Pending;
use super::settings::{Endpoints, Settings, client, http_url, read_body};
use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;

/// The longest subject stored.
const MAX_SUBJECT_LEN: usize = 255;

/// The person the provider vouches for (OIDC standard claims).
#[derive(Debug, Clone)]
pub struct Identity {
    /// The subject: the provider's stable id of the person.
    pub sub: String,
    pub email: String,
    pub preferred_username: String,
    pub name: String,
}

impl Identity {
    /// The claims of a user info answer; a missing or null claim is empty, a numeric one (some
    /// providers number their subjects) is its decimal text.
    fn from_claims(claims: &Value) -> Self {
        let claim = |key: &str| match &claims[key] {
            Value::String(text) => text.trim().to_string(),
            Value::Number(number) => number.to_string(),
            _ => String::new(),
        };
        Self {
            sub: claim("sub"),
            email: claim("email"),
            preferred_username: claim("preferred_username"),
            name: claim("name"),
        }
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    id_token: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Redeems `code` and reads the identity behind it.
pub async fn identify(
    settings: &Settings,
    endpoints: &Endpoints,
    pending: &Pending,
    code: &str,
) -> Result<Identity, ApiError> {
    let tokens = redeem(settings, endpoints, pending, code).await?;
    let identity = user_info(endpoints, &tokens.access_token).await?;
    if !tokens.id_token.is_empty() {
        check_id_token(&tokens.id_token, settings, pending, &identity)?;
    }
    Ok(identity)
}

async fn redeem(
    settings: &Settings,
    endpoints: &Endpoints,
    pending: &Pending,
    code: &str,
) -> Result<TokenAnswer, ApiError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("client_id", settings.client_id.as_str()),
        ("client_secret", settings.client_secret.as_str()),
    ];
    if let Some(verifier) = &pending.code_verifier {
        form.push(("code_verifier", verifier));
    }
    let response = client()?
        .post(http_url(&endpoints.token)?)
        .header(ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|error| unreachable_provider("token", &error))?;
    let status = response.status();
    let body = read_body(response)
        .await
        .map_err(|error| unreachable_provider("token", &error))?;
    let answer: Option<TokenAnswer> = serde_json::from_slice(&body).ok();
    match answer {
        Some(answer) if status.is_success() && answer.error.is_empty() => {
            if answer.access_token.is_empty() {
                return Err(ApiError::invalid(
                    "OIDC token request failed: the provider returned no access token",
                ));
            }
            Ok(answer)
        }
        Some(answer) if !answer.error.is_empty() => {
            tracing::warn!(%status, error = %answer.error, "OIDC token request refused");
            let reason = if answer.error_description.is_empty() {
                answer.error
            } else {
                answer.error_description
            };
            Err(ApiError::invalid(format!(
                "OIDC token request failed: {}",
                clip(&reason)
            )))
        }
        _ => {
            tracing::warn!(%status, "OIDC token request failed");
            Err(ApiError::invalid(format!(
                "OIDC token request failed: the provider answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

async fn user_info(endpoints: &Endpoints, access_token: &str) -> Result<Identity, ApiError> {
    let response = client()?
        .get(http_url(&endpoints.user_info)?)
        .header(ACCEPT, "application/json")
        .header(AUTHORIZATION, format!("Bearer {access_token}"))
        .send()
        .await
        .map_err(|error| unreachable_provider("user info", &error))?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, "OIDC user info request failed");
        return Err(ApiError::invalid(format!(
            "Failed to get user info from the OIDC provider (HTTP {})",
            status.as_u16()
        )));
    }
    let body = read_body(response)
        .await
        .map_err(|error| unreachable_provider("user info", &error))?;
    let claims: Value = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid("Failed to get user info from the OIDC provider: unreadable answer")
    })?;
    let identity = Identity::from_claims(&claims);
    if identity.sub.is_empty() {
        return Err(ApiError::invalid(
            "The OIDC provider returned no subject (sub) for this user",
        ));
    }
    // `users.oidc_id` is VARCHAR(255); OIDC Core caps `sub` at 255 ASCII characters too.
    if identity.sub.len() > MAX_SUBJECT_LEN {
        return Err(ApiError::invalid(
            "The OIDC provider returned a subject (sub) longer than 255 characters",
        ));
    }
    Ok(identity)
}

/// Checks the ID token's claims that bind it to this flow: audience, nonce, and the subject
/// the user info endpoint named (OIDC Core 3.1.3.7 and 5.3.2). The token came straight from
/// the token endpoint over the connection we opened, which OIDC accepts in place of checking
/// its signature.
fn check_id_token(
    id_token: &str,
    settings: &Settings,
    pending: &Pending,
    identity: &Identity,
) -> Result<(), ApiError> {
    let bad = |what: &str| ApiError::invalid(format!("The OIDC ID token is not valid: {what}"));
    let claims: Value = id_token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| bad("unreadable"))?;
    let audience_ok = match &claims["aud"] {
        Value::String(aud) => *aud == settings.client_id,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(&settings.client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err(bad("issued to another client"));
    }
    if let Some(nonce) = &pending.nonce
        && claims["nonce"].as_str() != Some(nonce.as_str())
    {
        return Err(bad("nonce mismatch"));
    }
    if claims["sub"].as_str() != Some(identity.sub.as_str()) {
        return Err(bad("subject differs from the user info"));
    }
    Ok(())
}

fn unreachable_provider(what: &str, error: &reqwest::Error) -> ApiError {
    tracing::warn!(%error, "OIDC {what} request failed");
    let why = if error.is_timeout() {
        "timed out"
    } else {
        "unreachable"
    };
    ApiError::invalid(format!(
        "Cannot connect to the OIDC server ({what} request {why}), please try again later"
    ))
}

/// A provider's text, shortened for an error message.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}
