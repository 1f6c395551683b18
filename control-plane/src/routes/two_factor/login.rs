//! `POST /api/user/login/2fa` with `{"code"}` (and `flow_token`, or the flow cookie set by the
//! password login): completes a password login of a user with 2FA, with an authenticator code
//! or a single-use backup code, then starts the session exactly as a password login does.
//! Counts as a login attempt of the client IP; wrong codes lock the account (see `verify`).

use super::pending;
use super::verify::{self, Accepts};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::routes::user::login;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use pylon_shared::roles::STATUS_ENABLED;
use serde::Deserialize;

const EXPIRED: &str = "The login session has expired, please log in again";

#[derive(Deserialize)]
pub struct LoginCodeRequest {
    #[serde(default)]
    code: String,
    #[serde(default)]
    flow_token: String,
}

pub async fn login_2fa(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(request): ApiJson<LoginCodeRequest>,
) -> ApiResult {
    rate_limit::login_attempt(&app, ip).await?;
    if request.code.trim().is_empty() {
        return Err(ApiError::invalid("Invalid parameters: code is required"));
    }
    let token = pending::token_from(&headers, &request.flow_token);
    let user_id = pending::user_of(&app, &token)
        .await?
        .ok_or_else(|| ApiError::invalid(EXPIRED))?;
    let user = app
        .db
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| ApiError::invalid(EXPIRED))?;
    if user.status != STATUS_ENABLED {
        return Err(ApiError::invalid("User has been disabled"));
    }
    let row = super::enabled_row(&app, user.id).await?;
    verify::verify(&app, &row, &request.code, Accepts::TotpOrBackup, ip).await?;
    pending::finish(&app, &token).await?;
    let mut response = login::sign_in(&app, &user, ip, &headers).await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, pending::clearing_cookie()?);
    Ok(response)
}
