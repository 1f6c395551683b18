//! `POST /api/user/2fa/backup_codes` with `{"code"}`: replaces the caller's backup codes with
//! new ones, proven with a current authenticator code (not a backup code, as in new-api).

use super::verify::{self, Accepts};
use super::{CodeRequest, codes};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

pub async fn regenerate(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult {
    let code = request.code()?;
    let row = super::enabled_row(&app, user.id).await?;
    verify::verify(&app, &row, code, Accepts::Totp, ip).await?;
    let backup_codes = codes::new_backup_codes();
    let hashes = codes::hash_backup_codes(&backup_codes).await?;
    app.db.replace_backup_codes(user.id, &hashes).await?;
    tracing::info!(user = user.id, "2FA backup codes regenerated");
    Ok(Json(json!({
        "success": true,
        "message": "Backup codes regenerated",
        "data": { "backup_codes": backup_codes },
    }))
    .into_response())
}
