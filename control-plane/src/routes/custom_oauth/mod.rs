//! new-api's custom OAuth providers: sign-in providers the root defines at run time, beside the
//! built-in OIDC provider.
//!
//! - Root only, `/api/custom-oauth-provider/`: list, get, create, update, delete ([`manage`]),
//!   and `POST /discovery` ([`discovery`]), which reads an issuer's OpenID configuration.
//! - `GET /api/oauth/{slug}?code=&state=` ([`callback`]): the authorization code flow of an
//!   `oauth_code` provider, as new-api's console finishes it from its `/oauth/{slug}` page.
//! - `POST /api/auth/external/{slug}/jwt/login` ([`jwt_login`]): a `jwt_direct` provider's
//!   signed JWT, verified with its public key or JWKS.
//! - `POST /api/auth/external/{slug}/header/login` ([`header_login`]): a `trusted_header`
//!   provider, whose proxy (from a trusted address) names the person in headers.
//! - `GET`/`DELETE /api/user/oauth/bindings[/{provider_id}]` ([`bindings`]): the caller's
//!   bindings (the administrators' routes are in `user_admin`).
//!
//! Every flow starts with a state from `GET /api/oauth/state` (the OIDC module's), tied to the
//! browser by its cookie and redeemed once; a signed-in caller's state binds instead of
//! signing in. Finishing a flow ([`account`]) shares the OIDC sign-in's session and answers.

pub(super) mod account;
pub(super) mod bindings;
pub(super) mod callback;
pub(super) mod claims;
pub(super) mod config;
pub(super) mod discovery;
pub(super) mod exchange;
pub(super) mod header_login;
pub(super) mod jwt;
pub(super) mod jwt_login;
pub(super) mod manage;
pub(super) mod policy;
pub(super) mod redeem;
pub(super) mod validate;

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use claims::{ExternalUser, Identity};
use config::{Kind, Provider};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Duration;

/// The longest provider account id stored (`user_oauth_bindings.provider_user_id`).
const MAX_EXTERNAL_ID_CHARS: usize = 256;

/// The enabled providers as `GET /api/status` lists them (`custom_oauth_providers`).
pub async fn status_entries(app: &App) -> Result<Vec<Value>, ApiError> {
    Ok(app
        .db
        .custom_oauth_providers(true)
        .await?
        .into_iter()
        .map(|row| Provider::from_row(app, row).public_view())
        .collect())
}

/// The enabled provider of `kind` whose slug is `slug`. An unknown slug (or one of another
/// kind) is new-api's "unknown provider"; a disabled provider is refused by name.
async fn enabled_provider(app: &App, slug: &str, kind: Kind) -> Result<Provider, Refused> {
    let provider = Provider::by_slug(app, slug)
        .await?
        .filter(|p| p.kind == kind)
        .ok_or(Refused::UnknownProvider)?;
    if !provider.enabled {
        return Err(Refused::Plain(ApiError::invalid(format!(
            "The administrator has not enabled login via {}",
            provider.name
        ))));
    }
    Ok(provider)
}

/// A refusal before any flow state is spent.
enum Refused {
    /// new-api answers an unknown provider with HTTP 400.
    UnknownProvider,
    Plain(ApiError),
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused::Plain(error)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> axum::response::Response {
        match self {
            Refused::UnknownProvider => (
                StatusCode::BAD_REQUEST,
                Json(json!({ "success": false, "message": "Unknown OAuth provider" })),
            )
                .into_response(),
            Refused::Plain(error) => error.into_response(),
        }
    }
}

/// Flows finished per client IP, like logins.
async fn limit(app: &App, ip: IpAddr) -> Result<(), ApiError> {
    rate_limit::check(
        app,
        "custom_oauth_login",
        &ip.to_string(),
        app.config.auth.login_attempts_per_ip,
        Duration::from_secs(app.config.auth.login_window_secs),
    )
    .await
}

/// Who the provider says signed in, from a document of claims (user info or a JWT): the
/// account's fields per the provider's mapping, refused by its access policy when it says so.
async fn identity_from_claims(
    app: &App,
    provider: &Provider,
    claims: &Value,
) -> Result<Identity, ApiError> {
    let settings = &provider.settings;
    let user = claims::external_user(claims, settings);
    check_external_id(provider, &user, &settings.user_id_field)?;
    if !settings.access_policy.is_empty() {
        let policy = policy::Policy::parse(&settings.access_policy).map_err(|why| {
            tracing::error!(provider = %provider.slug, %why, "stored access policy unreadable");
            ApiError::invalid(format!(
                "Failed to get user info from {}: invalid access policy configuration",
                provider.name
            ))
        })?;
        if let Err(failure) = policy.evaluate(claims) {
            return Err(ApiError::invalid(policy::denial(
                &settings.access_denied_message,
                &provider.name,
                claims,
                &failure,
            )));
        }
    }
    let groups = claims::candidates_at(claims, &settings.group_field);
    let roles = claims::candidates_at(claims, &settings.role_field);
    mapped(app, provider, user, &groups, &roles).await
}

/// `user` with the group and role the provider's mappings give for `groups` and `roles`.
async fn mapped(
    app: &App,
    provider: &Provider,
    user: ExternalUser,
    groups: &[String],
    roles: &[String],
) -> Result<Identity, ApiError> {
    let group = if groups.is_empty() {
        String::new()
    } else {
        let known = super::group::known_groups(app).await?;
        claims::mapped_group(groups, &provider.settings, &|g| known.contains(g))
    };
    Ok(Identity {
        user,
        group,
        role: claims::mapped_role(roles, &provider.settings),
    })
}

/// Refuses an account without an id, or with one too long to store.
fn check_external_id(
    provider: &Provider,
    user: &ExternalUser,
    field: &str,
) -> Result<(), ApiError> {
    if user.id.is_empty() {
        return Err(ApiError::invalid(format!(
            "{} returned no user id (field {field})",
            provider.name
        )));
    }
    if user.id.chars().count() > MAX_EXTERNAL_ID_CHARS {
        return Err(ApiError::invalid(format!(
            "{} returned a user id longer than {MAX_EXTERNAL_ID_CHARS} characters",
            provider.name
        )));
    }
    Ok(())
}

/// Adds the cookie that makes the browser forget its spent state.
fn clearing_state(mut response: axum::response::Response, https: bool) -> ApiResult {
    response.headers_mut().append(
        axum::http::header::SET_COOKIE,
        super::oidc::pending::clearing_cookie(https)?,
    );
    Ok(response)
}
