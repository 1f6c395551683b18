//! `GET /api/user/passkey`: whether the signed-in user has a passkey and when one was last
//! used (new-api's answer), plus the list of the user's passkeys.

use super::describe;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn status(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let passkeys = app.db.user_passkeys(user.id).await?;
    if passkeys.is_empty() {
        return Ok(envelope::ok(json!({ "enabled": false, "passkeys": [] })));
    }
    let last_used_at = passkeys
        .iter()
        .map(|p| p.last_used_at)
        .max()
        .filter(|t| *t > 0)
        .map_or(Value::Null, Value::from);
    Ok(envelope::ok(json!({
        "enabled": true,
        "last_used_at": last_used_at,
        "passkeys": passkeys.iter().map(describe).collect::<Vec<_>>(),
    })))
}
