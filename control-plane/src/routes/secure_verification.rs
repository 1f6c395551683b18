//! new-api's secure verification: before a sensitive action (viewing a channel's keys), the
//! signed-in user proves it is them again with a code of their enabled 2FA at `POST
//! /api/verify` `{"method": "2fa", "code"}`. The proof belongs to the login session (kept in
//! the shared cache under the session's id hash, so every control-plane node sees it) and
//! lasts [`VALID_FOR`]; a caller with an access token has no session and cannot verify.
//! Wrong codes count towards the 2FA lock like any other (see `two_factor::verify`).

use super::two_factor::verify::{self, Accepts};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::auth::session::{self, FoundSession};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pylon_shared::db::now_secs;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long a verification lasts (new-api's `SecureVerificationTimeout`, 5 minutes).
pub const VALID_FOR: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
pub struct VerifyRequest {
    #[serde(default)]
    method: String,
    #[serde(default)]
    code: String,
}

fn cache_key(session: &FoundSession) -> String {
    format!("secure_verified:{}", session.id_hash)
}

/// `POST /api/verify`.
pub async fn verify(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> ApiResult {
    let session = session::from_headers(&headers, &app)
        .await?
        .filter(|found| found.user_id == user.id)
        .ok_or(ApiError::Unauthorized(
            "The current authentication method does not support secure verification",
        ))?;
    match request.method.as_str() {
        "2fa" => {}
        "passkey" => {
            return Err(ApiError::invalid(
                "Passkey verification is not available here; verify with 2fa",
            ));
        }
        other => {
            return Err(ApiError::invalid(format!(
                "Unsupported verification method: {other}"
            )));
        }
    }
    if request.code.trim().is_empty() {
        return Err(ApiError::invalid("The verification code cannot be empty"));
    }
    let row = match app.db.two_factor(user.id).await? {
        Some(row) if row.enabled == 1 => row,
        _ => return Err(ApiError::invalid("The user has not enabled 2FA")),
    };
    verify::verify(&app, &row, &request.code, Accepts::TotpOrBackup, ip).await?;
    let now = now_secs();
    app.cache
        .set(&cache_key(&session), &now.to_string(), VALID_FOR)
        .await?;
    let expires_at = now + i64::try_from(VALID_FOR.as_secs()).unwrap_or(300);
    Ok(Json(json!({
        "success": true,
        "message": "Verification successful",
        "data": { "verified": true, "expires_at": expires_at },
    }))
    .into_response())
}

/// Whether the request's session passed secure verification within [`VALID_FOR`]; else
/// new-api's refusal (HTTP 403 with `code: VERIFICATION_REQUIRED`).
pub async fn required(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let verified = match session::from_headers(headers, app).await {
        Ok(Some(found)) => app
            .cache
            .get(&cache_key(&found))
            .await
            .map_err(|error| ApiError::from(error).into_response())?,
        Ok(None) => None,
        Err(error) => return Err(error.into_response()),
    };
    let fresh = verified
        .and_then(|at| at.parse::<i64>().ok())
        .is_some_and(|at| now_secs() - at < i64::try_from(VALID_FOR.as_secs()).unwrap_or(300));
    if fresh {
        return Ok(());
    }
    Err((
        StatusCode::FORBIDDEN,
        Json(json!({
            "success": false,
            "message": "Secure verification is required: verify with POST /api/verify first",
            "code": "VERIFICATION_REQUIRED",
        })),
    )
        .into_response())
}
