//! `GET /api/user/passkeys`: the signed-in user's passkeys (id, name, credential id, times).

use super::describe;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn list(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let passkeys = app.db.user_passkeys(user.id).await?;
    Ok(envelope::ok(
        passkeys.iter().map(describe).collect::<Vec<_>>(),
    ))
}
