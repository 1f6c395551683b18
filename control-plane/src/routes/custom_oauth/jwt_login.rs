//! `POST /api/auth/external/{slug}/jwt/login` (new-api's `HandleCustomOAuthJWTLogin`): a
//! `jwt_direct` provider's browser flow ends with a JWT (in the redirect's query or fragment),
//! which the console posts here with its state: `{state, token | id_token | jwt}` as JSON or a
//! form. In `claims` mode the JWT's signature, issuer and audience are verified and its claims
//! name the person; in `userinfo` mode the token is sent to the provider's user info endpoint,
//! whose answer names them. Then the flow signs in, signs up (when the provider registers) or
//! binds, as every custom provider's does.
//!
//! Pylon implements the `direct_token` acquire mode; a provider is never stored with another.

use super::account::{self, Client};
use super::config::{Kind, Provider, Settings};
use super::exchange::{ProviderCall, fetch_json};
use super::jwt::{self, Refusal};
use super::{clearing_state, enabled_provider, identity_from_claims, limit};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::routes::oidc::pending::{self, Pending};
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::IpAddr;

/// The request (new-api's field names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginRequest {
    pub state: String,
    pub token: String,
    pub id_token: String,
    pub jwt: String,
}

impl LoginRequest {
    /// The body as JSON, or as a form when it says so.
    pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let fields: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
            return Ok(Self {
                state: field("state"),
                token: field("token"),
                id_token: field("id_token"),
                jwt: field("jwt"),
            });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        crate::extract::parse_json(body)
    }

    /// The credential new-api reads for the provider's identity mode: the access token first
    /// in `userinfo` mode, the ID token first in `claims` mode; without a `Bearer ` prefix.
    fn credential(&self, settings: &Settings) -> String {
        let order = if settings.jwt_identity_mode == "userinfo" {
            [&self.token, &self.id_token, &self.jwt]
        } else {
            [&self.id_token, &self.jwt, &self.token]
        };
        let value = order
            .into_iter()
            .map(|v| v.trim())
            .find(|v| !v.is_empty())
            .unwrap_or("");
        match value.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim().to_string(),
            _ => value.to_string(),
        }
    }
}

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    params: RawPathParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let started = Started::new(&app, ip, &params, &headers, &body, Kind::JwtDirect).await?;
    let ip = ip.to_string();
    let client = Client::of(&ip, &headers);
    let outcome = finish(
        &app,
        &started.provider,
        &started.pending,
        &started.request,
        &client,
    )
    .await;
    Ok(started.end(outcome))
}

/// What both external logins (JWT and trusted header) start with: the rate limit, the enabled
/// provider of the path's slug and kind, the posted request, and the pending sign-in it names.
pub(super) struct Started {
    pub provider: Provider,
    pub request: LoginRequest,
    pub pending: Pending,
    /// Whether the site is served over HTTPS (the state cookie's `Secure`).
    https: bool,
}

impl Started {
    pub(super) async fn new(
        app: &App,
        ip: IpAddr,
        params: &RawPathParams,
        headers: &HeaderMap,
        body: &[u8],
        kind: Kind,
    ) -> Result<Self, Response> {
        limit(app, ip).await.map_err(IntoResponse::into_response)?;
        let slug = super::callback::path_param(params, "provider");
        let provider = enabled_provider(app, &slug, kind)
            .await
            .map_err(IntoResponse::into_response)?;
        let request = LoginRequest::parse(headers, body).map_err(IntoResponse::into_response)?;
        let address = pending::server_address(app).map_err(IntoResponse::into_response)?;
        let pending = pending::take(app, headers, request.state.trim())
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            provider,
            request,
            pending,
            https: pending::is_https(&address),
        })
    }

    /// The login's answer, with the spent state's cookie cleared.
    pub(super) fn end(&self, outcome: ApiResult) -> Response {
        let answer = outcome.unwrap_or_else(IntoResponse::into_response);
        clearing_state(answer, self.https).unwrap_or_else(IntoResponse::into_response)
    }
}

async fn finish(
    app: &App,
    provider: &Provider,
    pending: &Pending,
    request: &LoginRequest,
    client: &Client<'_>,
) -> ApiResult {
    if !pending.is_for(&provider.slug) {
        return Err(ApiError::invalid(pending::INVALID_STATE));
    }
    let settings = &provider.settings;
    if settings.jwt_acquire_mode != "direct_token" {
        return Err(ApiError::invalid(format!(
            "{}: the JWT acquire mode {} is not supported",
            provider.name, settings.jwt_acquire_mode
        )));
    }
    let token = request.credential(settings);
    if token.is_empty() {
        return Err(ApiError::invalid("The JWT token is missing"));
    }
    let call = ProviderCall {
        name: &provider.name,
    };
    let claims = if settings.jwt_identity_mode == "userinfo" {
        let value = if settings.jwt_header.eq_ignore_ascii_case("authorization") {
            format!("Bearer {token}")
        } else {
            token.clone()
        };
        fetch_json(
            &call,
            "user info",
            &settings.user_info_endpoint,
            Some((settings.jwt_header.as_str(), value.as_str())),
        )
        .await
        .map_err(|e| ApiError::invalid(e.to_string()))?
    } else {
        jwt::verify(&call, settings, &token)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Key(why) => {
                    tracing::warn!(provider = %provider.slug, %why, "JWT key unavailable");
                    ApiError::invalid(format!(
                        "{}: the JWT cannot be verified: {why}",
                        provider.name
                    ))
                }
                Refusal::Token(why) => {
                    ApiError::invalid(format!("{}: the JWT is not valid: {why}", provider.name))
                }
            })?
    };
    let identity = identity_from_claims(app, provider, &claims).await?;
    account::finish(app, provider, &identity, pending, client).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_follows_the_identity_mode() {
        let request = LoginRequest {
            token: "Bearer access".into(),
            id_token: "id".into(),
            ..LoginRequest::default()
        };
        let mut settings = Settings {
            jwt_identity_mode: "claims".into(),
            ..Settings::default()
        };
        assert_eq!(request.credential(&settings), "id");
        settings.jwt_identity_mode = "userinfo".into();
        assert_eq!(request.credential(&settings), "access");
    }

    #[test]
    fn bodies_are_json_or_forms() {
        let mut headers = HeaderMap::new();
        let json = LoginRequest::parse(&headers, br#"{"state": "s", "jwt": "j"}"#).unwrap();
        assert_eq!((json.state.as_str(), json.jwt.as_str()), ("s", "j"));
        assert!(LoginRequest::parse(&headers, b"{").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let form = LoginRequest::parse(&headers, b"state=s&token=t").unwrap();
        assert_eq!((form.state.as_str(), form.token.as_str()), ("s", "t"));
    }
}
