//! `GET /api/oauth/{slug}?code=&state=` (new-api's `HandleOAuth` for a custom provider; its
//! console calls it from its `/oauth/{slug}` page): redeems the state, then the code at the
//! provider's token endpoint, reads the user info, maps its fields, and signs in, signs up or
//! binds. The fixed routes beside it (`/api/oauth/state`, `/api/oauth/oidc`) are matched
//! first, and their names are reserved slugs.
//!
//! As in new-api, an unknown provider is HTTP 400 and a refused state HTTP 403; other failures
//! are HTTP 200 with `success: false`. A provider that is off, or an unknown one, is refused
//! before the state is spent; from then on the state is spent whatever happens.

use super::account::{self, Client};
use super::config::{Kind, Provider};
use super::{clearing_state, enabled_provider, exchange, identity_from_claims, limit};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::routes::oidc::pending::{self, Pending};
use axum::Json;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;

pub async fn callback(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    params: RawPathParams,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    limit(&app, ip).await.map_err(IntoResponse::into_response)?;
    let slug = path_param(&params, "provider");
    let provider = enabled_provider(&app, &slug, Kind::OAuthCode)
        .await
        .map_err(IntoResponse::into_response)?;
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let address = pending::server_address(&app).map_err(IntoResponse::into_response)?;
    let pending = match pending::take(&app, &headers, param(&query, "state")).await {
        Ok(pending) => pending,
        Err(ApiError::Invalid(message)) => {
            return Err((
                StatusCode::FORBIDDEN,
                Json(json!({ "success": false, "message": message })),
            )
                .into_response());
        }
        Err(other) => return Err(other.into_response()),
    };

    // The state is spent from here on, whatever happens: the browser forgets it too.
    let ip = ip.to_string();
    let client = Client::of(&ip, &headers);
    let outcome = finish(&app, &provider, &pending, &query, &address, &client).await;
    clearing_state(
        outcome.unwrap_or_else(IntoResponse::into_response),
        pending::is_https(&address),
    )
    .map_err(IntoResponse::into_response)
}

async fn finish(
    app: &App,
    provider: &Provider,
    pending: &Pending,
    query: &HashMap<String, String>,
    address: &str,
    client: &Client<'_>,
) -> ApiResult {
    let error = param(query, "error");
    if !error.is_empty() {
        let description = param(query, "error_description");
        let reason = if description.is_empty() {
            error
        } else {
            description
        };
        let reason: String = reason.chars().take(200).collect();
        return Err(ApiError::invalid(format!(
            "{} refused the sign-in: {reason}",
            provider.name
        )));
    }
    // A flow another provider started (its code is for another client) is refused.
    if !pending.is_for(&provider.slug) {
        return Err(ApiError::invalid(pending::INVALID_STATE));
    }
    let code = param(query, "code");
    if code.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: code is missing"));
    }
    let redirect_uri = if pending.redirect_uri.is_empty() {
        format!("{address}/oauth/{}", provider.slug)
    } else {
        pending.redirect_uri.clone()
    };
    let claims = exchange::user_info_for_code(
        provider,
        code,
        &redirect_uri,
        pending.code_verifier.as_deref(),
    )
    .await?;
    let identity = identity_from_claims(app, provider, &claims).await?;
    account::finish(app, provider, &identity, pending.purpose, client).await
}

/// A query parameter, trimmed; empty when absent.
fn param<'q>(query: &'q HashMap<String, String>, name: &str) -> &'q str {
    query.get(name).map_or("", |v| v.trim())
}

/// A parameter of the path, as routed.
pub(super) fn path_param(params: &RawPathParams, name: &str) -> String {
    params
        .iter()
        .find_map(|(key, value)| (key == name).then(|| value.to_string()))
        .unwrap_or_default()
}
