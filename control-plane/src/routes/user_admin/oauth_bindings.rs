//! An administrator's view of a user's custom provider bindings (new-api's
//! `GetUserOAuthBindingsByAdmin` and `UnbindCustomOAuthByAdmin`):
//! `GET /api/user/{id}/oauth/bindings` and `DELETE /api/user/{id}/oauth/bindings/{provider_id}`,
//! for a user of a lower role (root: anyone). Removing a binding leaves an audit row on the
//! user's log.

use super::{NO_PERMISSION_EDIT, NO_PERMISSION_VIEW, audit, can_manage, target};
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::routes::custom_oauth::bindings;
use axum::extract::{RawPathParams, State};

pub async fn list(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let user = target(&app, id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_VIEW));
    }
    Ok(envelope::ok(bindings::of_user(&app, user.id).await?))
}

pub async fn unbind(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    PathId(id): PathId,
    params: RawPathParams,
) -> ApiResult {
    let provider_id = bindings::provider_id(&params)?;
    let user = target(&app, id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_EDIT));
    }
    bindings::remove(&app, user.id, provider_id).await?;
    audit(
        &app,
        &admin,
        user.id,
        &format!(
            "removed the binding of {} to OAuth provider {provider_id}",
            user.username
        ),
    )
    .await?;
    Ok(envelope::ok_message("Unbound successfully"))
}
