//! The route table's guard: who may call a route ([`Access`]), checked on every call before
//! the handler runs. It also refuses a path whose `{id}` is not a number as an unknown route,
//! so that `/api/user/<word>` is never taken for the user-by-id route.

use super::{AuthUser, authenticate};
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT};

/// Who may call a route (new-api's `UserAuth`, `AdminAuth`, `RootAuth`, or nobody in particular).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone; the handler may still look for a signed-in caller (`MaybeUser`) or check a
    /// credential of its own (an `sk-` key, a gateway signature).
    Public,
    /// A signed-in, enabled user.
    User,
    /// An administrator (role 10 or more).
    Admin,
    /// The root user (role 100).
    Root,
}

impl Access {
    /// The name the route table snapshot shows.
    pub fn name(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::User => "user",
            Access::Admin => "admin",
            Access::Root => "root",
        }
    }

    fn min_role(self) -> Option<i64> {
        match self {
            Access::Public => None,
            Access::User => Some(ROLE_COMMON),
            Access::Admin => Some(ROLE_ADMIN),
            Access::Root => Some(ROLE_ROOT),
        }
    }
}

/// Runs before every routed handler: a malformed `{id}` is an unknown route (404), then the
/// caller must have the route's access; the authenticated user goes into the request's
/// extensions for the handler's extractor.
pub async fn guard(
    State((app, access)): State<(AppState, Access)>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    if params
        .iter()
        .any(|(name, value)| name == "id" && !is_digits(value))
    {
        return ApiError::NotFound(request.uri().path().to_string()).into_response();
    }
    if let Some(min_role) = access.min_role() {
        let (parts, body) = request.into_parts();
        match authenticate(&parts, &app, min_role).await {
            Ok(user) => {
                request = Request::from_parts(parts, body);
                request.extensions_mut().insert::<AuthUser>(user);
            }
            Err(error) => {
                // Read the refused request to its end, so that the connection stays usable.
                let limit = app.config.control_plane.max_body_bytes;
                drop(axum::body::to_bytes(body, limit).await);
                return error.into_response();
            }
        }
    }
    next.run(request).await
}

/// Whether an `{id}` of the path is not digits: the path names no route then.
pub fn has_malformed_id(params: &RawPathParams) -> bool {
    params
        .iter()
        .any(|(name, value)| name == "id" && !is_digits(value))
}

/// Whether a path segment can be an id at all (its range is the id extractor's business).
fn is_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_can_be_ids() {
        assert!(is_digits("7"));
        assert!(is_digits("99999999999999999999999"));
        assert!(!is_digits(""));
        assert!(!is_digits("-3"));
        assert!(!is_digits("self"));
        assert!(!is_digits(" 7"));
    }
}
