//! Who is calling: new-api's `UserAuth` / `AdminAuth` / `RootAuth`. A caller proves identity
//! with the session cookie or with an access token in `Authorization`, and must name the same
//! user in `New-Api-User`. The user is re-read on every call, so a ban or role change applies
//! at once.

pub mod access_token;
pub mod session;

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pylon_shared::db::UserRow;
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_ENABLED};

/// The header naming the user a console acts as.
pub const USER_ID_HEADER: &str = "New-Api-User";

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

async fn authenticate(
    parts: &mut Parts,
    app: &AppState,
    min_role: i64,
) -> Result<AuthUser, ApiError> {
    let user_id = match session::from_headers(&parts.headers, app).await? {
        Some(found) => found.user_id,
        None => {
            let token = access_token::from_headers(&parts.headers).ok_or(
                ApiError::Unauthorized("Unauthorized, not logged in and no access token provided"),
            )?;
            access_token::resolve(app, token)
                .await?
                .ok_or(ApiError::Unauthorized(
                    "Unauthorized, access token is invalid",
                ))?
        }
    };

    let named = parts
        .headers
        .get(USER_ID_HEADER)
        .ok_or(ApiError::Unauthorized(
            "Unauthorized, New-Api-User header not provided",
        ))?;
    let named: i64 = named
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or(ApiError::Unauthorized(
            "Unauthorized, New-Api-User header is malformed",
        ))?;
    if named != user_id {
        return Err(ApiError::Unauthorized(
            "Unauthorized, New-Api-User does not match the logged-in user",
        ));
    }

    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .ok_or(ApiError::Unauthorized(
            "Unauthorized, user information is invalid",
        ))?;
    if user.status != STATUS_ENABLED {
        return Err(ApiError::Forbidden("User has been banned"));
    }
    if user.role < min_role {
        return Err(ApiError::Forbidden("Unauthorized, insufficient privileges"));
    }
    Ok(AuthUser { user })
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, app, ROLE_COMMON).await
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, app, ROLE_ADMIN).await.map(AdminUser)
    }
}

impl FromRequestParts<AppState> for RootUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, app, ROLE_ROOT).await.map(RootUser)
    }
}
