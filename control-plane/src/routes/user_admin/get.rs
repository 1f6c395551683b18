//! `GET /api/user/{id}`: one live user, for an administrator of a higher role (or root).

use super::{NO_PERMISSION_VIEW, can_manage, target, view};
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;

pub async fn get(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let user = target(&app, id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_VIEW));
    }
    Ok(envelope::ok(view(&user)))
}
