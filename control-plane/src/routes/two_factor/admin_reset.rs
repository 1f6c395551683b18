//! `DELETE /api/user/{id}/2fa`: an administrator turns off a user's 2FA (lost phone and backup
//! codes). Only over users of a lower role, except root who may reset anyone. Ends the user's
//! sessions and writes an audit log row.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;
use pylon_shared::db::LOG_TYPE_MANAGE;

pub async fn reset(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let target = super::managed_user(&app, &admin.user, id).await?;
    if !app.db.delete_two_factor(target.id).await? {
        return Err(ApiError::invalid(super::NOT_ENABLED));
    }
    app.db.delete_user_sessions(target.id).await?;
    app.db
        .record_log(
            target.id,
            LOG_TYPE_MANAGE,
            &format!(
                "Administrator {} (id {}) disabled the two-factor authentication of user {} (id {})",
                admin.user.username, admin.user.id, target.username, target.id
            ),
            0,
        )
        .await?;
    tracing::info!(
        admin = admin.user.id,
        user = target.id,
        "2FA reset by an administrator"
    );
    Ok(envelope::ok_message(
        "The user's two-factor authentication has been disabled",
    ))
}
