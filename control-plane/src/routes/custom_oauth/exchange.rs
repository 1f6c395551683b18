//! Talking to a custom provider's back channel, as new-api's generic provider does: redeeming
//! the code at the token endpoint (client credentials as form fields or HTTP Basic, per
//! `auth_style`; a JSON or form-encoded answer), then reading the user info endpoint with the
//! access token. Every failure is a clear error naming the provider and changes nothing. The
//! built-in providers of `routes::social` send their own token requests through [`tokens`]
//! and read their user documents through [`fetch_json`].

use super::config::Provider;
use crate::error::ApiError;
use crate::routes::oidc::settings::{client, read_body};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::Value;

/// One provider's back channel: who to name in errors.
pub struct ProviderCall<'p> {
    pub name: &'p str,
}

/// What the token endpoint answered.
pub struct Tokens {
    pub access_token: String,
    token_type: String,
}

/// Redeems `code` (sent back to `redirect_uri`, with the PKCE `verifier` when the flow made a
/// challenge) and answers the user info document.
pub async fn user_info_for_code(
    provider: &Provider,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<Value, ApiError> {
    let call = ProviderCall {
        name: &provider.name,
    };
    let tokens = redeem(provider, &call, code, redirect_uri, verifier).await?;
    let authorization = format!("{} {}", token_type(&tokens.token_type), tokens.access_token);
    fetch_json(
        &call,
        "user info",
        &provider.settings.user_info_endpoint,
        Some(("authorization", &authorization)),
    )
    .await
    .map_err(|e| ApiError::invalid(e.to_string()))
}

async fn redeem(
    provider: &Provider,
    call: &ProviderCall<'_>,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<Tokens, ApiError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    // 0 (auto) and 1 send the credentials as parameters, 2 as HTTP Basic (new-api's styles).
    let basic = provider.settings.auth_style == 2;
    if !basic {
        form.push(("client_id", &provider.client_id));
        form.push(("client_secret", &provider.client_secret));
    }
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    let mut request = client()?
        .post(&provider.settings.token_endpoint)
        .header(ACCEPT, "application/json")
        .form(&form);
    if basic {
        request = request.header(
            AUTHORIZATION,
            basic_auth(&provider.client_id, &provider.client_secret),
        );
    }
    tokens(call, request).await
}

/// The `Authorization` value of HTTP Basic with a client's credentials.
pub fn basic_auth(client_id: &str, client_secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{client_id}:{client_secret}"))
    )
}

/// Sends a token request (a code redeemed at a provider's token endpoint) and reads the access
/// token from the answer (JSON or form-encoded); a provider's error is refused with its reason.
pub async fn tokens(
    call: &ProviderCall<'_>,
    request: reqwest::RequestBuilder,
) -> Result<Tokens, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::invalid(call.unreachable("token", &e)))?;
    let status = response.status();
    let body = read_body(response)
        .await
        .map_err(|e| ApiError::invalid(call.unreachable("token", &e)))?;
    let answer = token_answer(&body);
    let field = |name: &str| {
        answer
            .get(name)
            .map(super::claims::text)
            .unwrap_or_default()
    };
    let error = field("error");
    if !error.is_empty() {
        let description = field("error_description");
        tracing::warn!(provider = call.name, %status, %error, "OAuth token request refused");
        let reason = if description.is_empty() {
            error
        } else {
            description
        };
        return Err(ApiError::invalid(format!(
            "{}: the token request failed: {}",
            call.name,
            clip(&reason)
        )));
    }
    let access_token = field("access_token");
    if access_token.is_empty() {
        tracing::warn!(provider = call.name, %status, "OAuth token request failed");
        return Err(ApiError::invalid(format!(
            "{}: the token request failed (HTTP {}, no access token)",
            call.name,
            status.as_u16()
        )));
    }
    Ok(Tokens {
        access_token,
        token_type: field("token_type"),
    })
}

/// The token endpoint's answer as fields: JSON, or form-encoded (GitHub's style).
fn token_answer(body: &[u8]) -> serde_json::Map<String, Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => serde_json::Map::new(),
        Err(_) => url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    }
}

/// The scheme for the access token: "Bearer" unless the provider named another.
fn token_type(raw: &str) -> &str {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        raw
    }
}

/// A failed call to a provider, as the user reads it.
#[derive(Debug)]
pub struct CallFailed(String);

impl std::fmt::Display for CallFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// GETs `url` (with one extra header) and answers its JSON body; `what` names the document
/// in errors.
pub async fn fetch_json(
    call: &ProviderCall<'_>,
    what: &str,
    url: &str,
    header: Option<(&str, &str)>,
) -> Result<Value, CallFailed> {
    let mut request = client()
        .map_err(|_| CallFailed(format!("{}: no HTTP client", call.name)))?
        .get(url)
        .header(ACCEPT, "application/json");
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let response = request
        .send()
        .await
        .map_err(|e| CallFailed(call.unreachable(what, &e)))?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(provider = call.name, %status, "OAuth {what} request failed");
        return Err(CallFailed(format!(
            "Failed to get the {what} from {} (HTTP {})",
            call.name,
            status.as_u16()
        )));
    }
    let body = read_body(response)
        .await
        .map_err(|e| CallFailed(call.unreachable(what, &e)))?;
    serde_json::from_slice(&body).map_err(|_| {
        CallFailed(format!(
            "Failed to get the {what} from {}: unreadable answer",
            call.name
        ))
    })
}

impl ProviderCall<'_> {
    fn unreachable(&self, what: &str, error: &reqwest::Error) -> String {
        tracing::warn!(provider = self.name, %error, "OAuth {what} request failed");
        let why = if error.is_timeout() {
            "timed out"
        } else {
            "unreachable"
        };
        format!(
            "Cannot connect to {} ({what} request {why}), please try again later",
            self.name
        )
    }
}

/// A provider's text, shortened for an error message.
fn clip(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_json_or_form_encoded() {
        let json = token_answer(br#"{"access_token": "a", "token_type": "bearer"}"#);
        assert_eq!(json["access_token"], "a");
        let form = token_answer(b"access_token=b&scope=user&token_type=bearer");
        assert_eq!(form["access_token"], "b");
        assert_eq!(token_type("bearer"), "Bearer");
        assert_eq!(token_type(""), "Bearer");
        assert_eq!(token_type("token"), "token");
    }
}
