//! `POST /api/auth/external/{slug}/header/login` (new-api's `HandleCustomOAuthHeaderLogin`):
//! a `trusted_header` provider is an authenticating proxy in front of the site that names the
//! person in request headers. The console posts its state (`{"state": ...}`, JSON or a form)
//! through that proxy; the request must come from one of the provider's trusted networks (the
//! client address as Pylon's proxy saw it), and its headers then name the account (one value
//! each; groups and roles may list several, separated by `,` or `|`).

use super::account::{self, Client};
use super::claims::ExternalUser;
use super::config::{Kind, Provider};
use super::jwt_login::Started;
use super::validate::trusted_networks;
use super::{check_external_id, mapped};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::routes::oidc::pending::{self, Pending};
use axum::body::Bytes;
use axum::extract::{RawPathParams, State};
use axum::http::HeaderMap;
use axum::response::Response;
use std::net::IpAddr;

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    params: RawPathParams,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let started = Started::new(&app, ip, &params, &headers, &body, Kind::TrustedHeader).await?;
    let ip_text = ip.to_string();
    let client = Client::of(&ip_text, &headers);
    let outcome = finish(
        &app,
        &started.provider,
        &started.pending,
        &headers,
        ip,
        &client,
    )
    .await;
    Ok(started.end(outcome))
}

async fn finish(
    app: &App,
    provider: &Provider,
    pending: &Pending,
    headers: &HeaderMap,
    ip: IpAddr,
    client: &Client<'_>,
) -> ApiResult {
    if !pending.is_for(&provider.slug) {
        return Err(ApiError::invalid(pending::INVALID_STATE));
    }
    let settings = &provider.settings;
    let trusted = trusted_networks(&settings.trusted_proxy_cidrs)
        .unwrap_or_default()
        .iter()
        .any(|network| network.contains(ip));
    if !trusted {
        tracing::warn!(provider = %provider.slug, %ip, "trusted header login from an untrusted address");
        return Err(ApiError::invalid(format!(
            "{}: this request did not come through a trusted proxy",
            provider.name
        )));
    }
    let missing = || {
        ApiError::invalid(format!(
            "{}: the trusted proxy did not send a usable identity",
            provider.name
        ))
    };
    let one = |name: &str| single(headers, name).map_err(|_| missing());
    let user = ExternalUser {
        id: one(&settings.external_id_header)?,
        username: one(&settings.username_header)?,
        display_name: one(&settings.display_name_header)?,
        email: one(&settings.email_header)?,
    };
    if user.id.is_empty() {
        return Err(missing());
    }
    check_external_id(provider, &user, &settings.external_id_header)?;
    let groups = listed(headers, &settings.group_header).map_err(|_| missing())?;
    let roles = listed(headers, &settings.role_header).map_err(|_| missing())?;
    let identity = mapped(app, provider, user, &groups, &roles).await?;
    account::finish(app, provider, &identity, pending, client).await
}

/// The one non-empty value of header `name` (empty when the name is empty or the header is
/// absent); several values are refused, as new-api does.
fn single(headers: &HeaderMap, name: &str) -> Result<String, ()> {
    if name.is_empty() {
        return Ok(String::new());
    }
    let mut values = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
        .filter(|v| !v.is_empty());
    let first = values.next().unwrap_or_default();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first)
}

/// The values listed in header `name`, split at `,` and `|`.
fn listed(headers: &HeaderMap, name: &str) -> Result<Vec<String>, ()> {
    Ok(single(headers, name)?
        .split([',', '|'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn headers_name_one_value_and_lists_split() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", HeaderValue::from_static(" ada "));
        headers.insert("x-groups", HeaderValue::from_static("eng| ops ,,qa"));
        headers.append("x-twice", HeaderValue::from_static("a"));
        headers.append("x-twice", HeaderValue::from_static("b"));
        assert_eq!(single(&headers, "X-User"), Ok("ada".to_string()));
        assert_eq!(single(&headers, "x-missing"), Ok(String::new()));
        assert_eq!(single(&headers, ""), Ok(String::new()));
        assert!(single(&headers, "x-twice").is_err());
        assert_eq!(
            listed(&headers, "x-groups"),
            Ok(vec!["eng".to_string(), "ops".to_string(), "qa".to_string()])
        );
    }
}
