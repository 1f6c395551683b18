//! `POST /api/user/2fa/enable` with `{"code"}`: confirms a pending setup with a current code
//! from the authenticator app; from then on a password login needs a second factor.

use super::{CodeRequest, codes, verify};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;

pub async fn enable(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<CodeRequest>,
) -> ApiResult {
    let code = request.code()?;
    let row = app
        .db
        .two_factor(user.id)
        .await?
        .ok_or_else(|| ApiError::invalid("Please set up two-factor authentication first"))?;
    if row.enabled == 1 {
        return Err(ApiError::invalid(
            "Two-factor authentication is already enabled",
        ));
    }
    let code = codes::clean_numeric(code)?;
    verify::ensure_not_locked(&app, user.id, ip).await?;
    let enabled = match verify::totp_step(&app, &row, &code)? {
        Some(step) => app.db.enable_two_factor(user.id, &row.secret, step).await?,
        None => false,
    };
    if !enabled {
        return Err(verify::record_failure(&app, user.id, ip).await?);
    }
    verify::record_success(&app, user.id).await?;
    tracing::info!(user = user.id, "2FA enabled");
    Ok(envelope::ok_message("Two-factor authentication enabled"))
}
