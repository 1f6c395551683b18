//! `DELETE /api/user/self`: the caller deletes their own account. The row is soft-deleted (its
//! logs keep their user), every session and the access token are revoked, the session cookie
//! is cleared, and the proxies drop the user (and so its keys) at once. The last root cannot
//! delete itself: the system would be left without an administrator.

use crate::app::AppState;
use crate::auth::{AuthUser, session};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::header;
use pylon_shared::changes::Topic;
use pylon_shared::db::SelfDeleteOutcome;

pub async fn delete(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    match app.db.delete_self(user.id).await? {
        SelfDeleteOutcome::Deleted => {}
        SelfDeleteOutcome::LastRoot => {
            return Err(ApiError::invalid(
                "Cannot delete the last root user: make another user root first",
            ));
        }
        SelfDeleteOutcome::NoUser => {
            return Err(ApiError::Unauthorized(
                "Unauthorized, user information is invalid",
            ));
        }
    }
    app.db.delete_user_sessions(user.id).await?;
    app.changes.publish(Topic::User, user.id).await?;
    let mut response = envelope::ok_message("");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clearing_cookie()?);
    Ok(response)
}
