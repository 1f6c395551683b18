//! `POST /api/user/2fa/disable` with `{"code"}`: turns the caller's 2FA off, proven with a
//! current authenticator code or a backup code. The secret and backup codes are deleted.

use super::CodeRequest;
use super::verify::{self, Accepts};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;

pub async fn disable(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult {
    let code = request.code()?;
    let row = super::enabled_row(&app, user.id).await?;
    verify::verify(&app, &row, code, Accepts::TotpOrBackup, ip).await?;
    if !app.db.delete_two_factor(user.id).await? {
        return Err(ApiError::invalid(super::NOT_ENABLED));
    }
    tracing::info!(user = user.id, "2FA disabled");
    Ok(envelope::ok_message("Two-factor authentication disabled"))
}
