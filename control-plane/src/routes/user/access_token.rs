//! `GET /api/user/token`: issues a new access token for `Authorization: Bearer` (replacing the
//! previous one) and returns it as `data`. It is shown only here: only its hash is kept.

use crate::app::AppState;
use crate::auth::{AuthUser, access_token};
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn generate(State(app): State<AppState>, AuthUser { user, .. }: AuthUser) -> ApiResult {
    let token = access_token::regenerate(&app, user.id).await?;
    Ok(envelope::ok(token))
}
