//! `DELETE /api/user/{id}/reset_passkey`: an administrator removes every passkey of a user.
//! Only over users of a lower role, except root who may reset anyone; writes an audit log row.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::routes::two_factor::managed_user;
use axum::extract::State;
use pylon_shared::db::LOG_TYPE_MANAGE;

pub async fn reset(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let target = managed_user(&app, &admin.user, id).await?;
    let removed = app.db.delete_user_passkeys(target.id).await?;
    if removed == 0 {
        return Err(ApiError::invalid("The user has no passkey"));
    }
    app.db
        .record_log(
            target.id,
            LOG_TYPE_MANAGE,
            &format!(
                "Administrator {} (id {}) removed {removed} passkey(s) of user {} (id {})",
                admin.user.username, admin.user.id, target.username, target.id
            ),
            0,
        )
        .await?;
    tracing::info!(
        admin = admin.user.id,
        user = target.id,
        removed,
        "passkeys reset by an administrator"
    );
    Ok(envelope::ok_message("Passkey reset"))
}
