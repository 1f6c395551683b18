//! Removing the signed-in user's passkeys: `DELETE /api/user/passkey` removes all of them (as
//! new-api, which kept one per user), `DELETE /api/user/passkey/{id}` (or `/passkeys/{id}`)
//! one. Another user's passkey id is "not found" and changes nothing.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;

pub async fn delete_all(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let removed = app.db.delete_user_passkeys(user.id).await?;
    tracing::info!(user = user.id, removed, "passkeys removed");
    Ok(envelope::ok_message("Passkey removed"))
}

pub async fn delete_one(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    PathId(id): PathId,
) -> ApiResult {
    if !app.db.delete_passkey(user.id, id).await? {
        return Err(ApiError::invalid("Passkey not found"));
    }
    tracing::info!(user = user.id, passkey = id, "passkey removed");
    Ok(envelope::ok_message("Passkey removed"))
}
