//! Who is calling: new-api's `UserAuth` / `AdminAuth` / `RootAuth`. A caller proves identity
//! with the session cookie or with an access token in `Authorization`, and must name the same
//! user in `New-Api-User`. The user is re-read on every call, so a ban or role change applies
//! at once.
//!
//! Who may call each route is declared once, in the route table (`routes/table.rs`); its
//! [`guard`] authenticates every non-public call and hands the user to the handler, which reads
//! it with [`AuthUser`], [`AdminUser`] or [`RootUser`].

pub mod access_token;
pub mod guard;
pub mod session;

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pylon_shared::db::UserRow;
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_ENABLED};

pub use pylon_shared::session::USER_ID_HEADER;
use pylon_shared::session::{check_named_user, refusals};

/// An authenticated, enabled user of at least role 1.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: UserRow,
}

/// An authenticated administrator (role 10 or more).
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

/// The authenticated root user (role 100).
#[derive(Debug, Clone)]
pub struct RootUser(pub AuthUser);

/// Authenticates the caller as a user of at least `min_role` (what the route table's guard runs
/// on every route that is not public).
pub async fn authenticate(
    parts: &Parts,
    app: &AppState,
    min_role: i64,
) -> Result<AuthUser, ApiError> {
    let user_id = match session::from_headers(&parts.headers, app).await? {
        Some(found) => found.user_id,
        None => {
            let token = access_token::from_headers(&parts.headers)
                .ok_or(ApiError::Unauthorized(refusals::NOT_LOGGED_IN))?;
            access_token::resolve(app, token)
                .await?
                .ok_or(ApiError::Unauthorized(refusals::ACCESS_TOKEN_INVALID))?
        }
    };
    let named = parts.headers.get(USER_ID_HEADER).map(|v| v.as_bytes());
    check_named_user(named, user_id).map_err(ApiError::Unauthorized)?;

    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized(refusals::USER_INVALID))?;
    if user.status != STATUS_ENABLED {
        return Err(ApiError::Forbidden(refusals::BANNED));
    }
    if user.role < min_role {
        return Err(ApiError::Forbidden(INSUFFICIENT));
    }
    Ok(AuthUser { user })
}

/// The caller, when the request proves one; `None` for an anonymous caller. Only a failure to
/// check (database down) is an error. For the public routes that answer a signed-in caller
/// differently; the route table authenticates every other route itself ([`guard`]).
pub async fn caller(parts: &mut Parts, app: &AppState) -> Result<Option<AuthUser>, ApiError> {
    match authenticate(parts, app, ROLE_COMMON).await {
        Ok(user) => Ok(Some(user)),
        Err(ApiError::Internal(error)) => Err(ApiError::Internal(error)),
        Err(_) => Ok(None),
    }
}

/// The user the route table authenticated for this request, at least of `min_role`. A handler
/// asking for a user on a route the table declares public is a bug in the table: it fails
/// loudly (500) instead of authenticating on its own.
fn granted(parts: &Parts, min_role: i64) -> Result<AuthUser, ApiError> {
    let user = parts.extensions.get::<AuthUser>().cloned().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "{} {} asks for a signed-in user, but the route table declares it public",
            parts.method,
            parts.uri.path()
        ))
    })?;
    if user.user.role < min_role {
        return Err(ApiError::Forbidden(INSUFFICIENT));
    }
    Ok(user)
}

/// new-api's answer to a caller of too low a role.
const INSUFFICIENT: &str = "Unauthorized, insufficient privileges";

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        granted(parts, ROLE_COMMON)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        granted(parts, ROLE_ADMIN).map(AdminUser)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RootUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        granted(parts, ROLE_ROOT).map(RootUser)
    }
}

/// The signed-in caller of a public route, if any (see [`caller`]).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        caller(parts, app).await.map(MaybeUser)
    }
}
