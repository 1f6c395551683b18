//! `GET /api/oauth/{slug}?code=&state=` (new-api's `HandleOAuth` for a custom provider; its
//! console calls it from its `/oauth/{slug}` page): redeems the state, then the code at the
//! provider's token endpoint, reads the user info, maps its fields, and signs in, signs up or
//! binds. The fixed routes beside it (`/api/oauth/state`, `/api/oauth/oidc`, the built-in
//! providers') are matched first, and their names are reserved slugs.
//!
//! As in new-api, an unknown provider is HTTP 400 and a refused state HTTP 403; other failures
//! are HTTP 200 with `success: false`. A provider that is off, or an unknown one, is refused
//! before the state is spent; from then on the state is spent whatever happens.

use super::account::{self, Client};
use super::config::{Kind, Provider};
use super::redeem::Redeemed;
use super::{enabled_provider, exchange, identity_from_claims, limit};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::ApiResult;
use axum::extract::{RawPathParams, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

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
    let redeemed = Redeemed::take(&app, &headers, query).await?;
    let ip = ip.to_string();
    let client = Client::of(&ip, &headers);
    let outcome = finish(&app, &provider, &redeemed, &client).await;
    Ok(redeemed.end(outcome))
}

async fn finish(
    app: &App,
    provider: &Provider,
    redeemed: &Redeemed,
    client: &Client<'_>,
) -> ApiResult {
    let code = redeemed.code(&provider.name, &provider.slug)?;
    let claims = exchange::user_info_for_code(
        provider,
        code,
        &redeemed.redirect_uri(&provider.slug),
        redeemed.pending.code_verifier.as_deref(),
    )
    .await?;
    let identity = identity_from_claims(app, provider, &claims).await?;
    account::finish(app, provider, &identity, &redeemed.pending, client).await
}

/// A parameter of the path, as routed.
pub(super) fn path_param(params: &RawPathParams, name: &str) -> String {
    params
        .iter()
        .find_map(|(key, value)| (key == name).then(|| value.to_string()))
        .unwrap_or_default()
}
