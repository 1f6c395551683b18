//! `POST /api/custom-oauth-provider/discovery` `{well_known_url | issuer_url}` (root only):
//! fetches an OpenID provider's configuration document for the console to fill a provider's
//! endpoints from, and answers `{well_known_url, discovery}` as new-api does. The issuer's
//! document is at `{issuer}/.well-known/openid-configuration`.

use super::validate::is_http_url;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::oidc::settings::{client, read_body};
use axum::extract::State;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DiscoveryRequest {
    well_known_url: String,
    issuer_url: String,
}

pub async fn discovery(
    State(_app): State<AppState>,
    _: RootUser,
    ApiJson(request): ApiJson<DiscoveryRequest>,
) -> ApiResult {
    let well_known = request.well_known_url.trim();
    let issuer = request.issuer_url.trim();
    if well_known.is_empty() && issuer.is_empty() {
        return Err(ApiError::invalid(
            "Fill in the discovery URL or the issuer URL first",
        ));
    }
    let target = if well_known.is_empty() {
        format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        )
    } else {
        well_known.to_string()
    };
    if !is_http_url(&target) {
        return Err(ApiError::invalid(
            "The discovery URL is invalid: only http and https are supported",
        ));
    }
    let failed =
        |why: String| ApiError::invalid(format!("Failed to get the discovery document: {why}"));
    let response = client()?
        .get(&target)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "custom OAuth discovery failed");
            failed(
                if e.is_timeout() {
                    "timed out"
                } else {
                    "unreachable"
                }
                .to_string(),
            )
        })?;
    let status = response.status();
    let body = read_body(response)
        .await
        .map_err(|_| failed("unreadable answer".to_string()))?;
    if status != reqwest::StatusCode::OK {
        let text: String = String::from_utf8_lossy(&body)
            .trim()
            .chars()
            .take(512)
            .collect();
        return Err(failed(if text.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            text
        }));
    }
    let document: Value = serde_json::from_slice(&body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            ApiError::invalid("Failed to parse the discovery document: not a JSON object")
        })?;
    Ok(envelope::ok(json!({
        "well_known_url": target,
        "discovery": document,
    })))
}
