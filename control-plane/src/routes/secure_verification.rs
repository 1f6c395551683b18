//! new-api's secure verification: before a sensitive action (viewing a channel's keys), the
//! signed-in user proves it is them again at `POST /api/verify`, with a code of their enabled
//! 2FA (`{"method": "2fa", "code"}`) or with a passkey (`{"method": "passkey"}`, after the
//! WebAuthn ceremony of `POST /api/user/passkey/verify/begin` and `/finish`, which leaves a
//! one-use mark valid for [`PASSKEY_READY_FOR`]). The proof belongs to the login session (kept
//! in the shared cache under the session's id hash, so every control-plane node sees it) and
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
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{UserRow, now_secs};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long a verification lasts (new-api's `SecureVerificationTimeout`, 5 minutes).
pub const VALID_FOR: Duration = Duration::from_secs(300);
/// How long a finished passkey ceremony may wait for `POST /api/verify` (new-api's
/// `PasskeyReadyTimeout`, 60 seconds).
pub const PASSKEY_READY_FOR: Duration = Duration::from_secs(60);

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

fn passkey_ready_key(session: &FoundSession) -> String {
    format!("secure_passkey_ready:{}", session.id_hash)
}

/// The login session of the request, which must be `user`'s: secure verification belongs to a
/// session, so a caller with an access token is refused (new-api: 401).
pub async fn session_of(
    app: &App,
    headers: &HeaderMap,
    user: &UserRow,
) -> Result<FoundSession, ApiError> {
    session::from_headers(headers, app)
        .await?
        .filter(|found| found.user_id == user.id)
        .ok_or(ApiError::Unauthorized(
            "The current authentication method does not support secure verification",
        ))
}

/// Records that `session` just passed a passkey ceremony: `POST /api/verify` with `method:
/// passkey` may turn it into a verification once, within [`PASSKEY_READY_FOR`]. A verification
/// the session held is withdrawn, as new-api does.
pub async fn mark_passkey_ready(app: &App, session: &FoundSession) -> Result<(), ApiError> {
    app.cache
        .set(
            &passkey_ready_key(session),
            &random_alphanumeric(24),
            PASSKEY_READY_FOR,
        )
        .await?;
    app.cache.delete(&cache_key(session)).await?;
    Ok(())
}

/// Takes the session's passkey mark: true once per finished ceremony. Two concurrent calls
/// cannot both take it: the mark's random value is claimed with an atomic counter.
async fn take_passkey_ready(app: &App, session: &FoundSession) -> Result<bool, ApiError> {
    let key = passkey_ready_key(session);
    let Some(mark) = app.cache.get(&key).await? else {
        return Ok(false);
    };
    let claims = app
        .cache
        .hit(&format!("secure_passkey_taken:{mark}"), PASSKEY_READY_FOR)
        .await?;
    app.cache.delete(&key).await?;
    Ok(claims == 1)
}

/// `POST /api/verify`.
pub async fn verify(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> ApiResult {
    let session = session_of(&app, &headers, &user).await?;
    let two_factor = app
        .db
        .two_factor(user.id)
        .await?
        .filter(|row| row.enabled == 1);
    let has_passkey = !app.db.user_passkeys(user.id).await?.is_empty();
    if two_factor.is_none() && !has_passkey {
        return Err(ApiError::invalid(
            "Secure verification needs 2FA or a passkey; enable one first",
        ));
    }
    match request.method.as_str() {
        "2fa" => {
            if request.code.trim().is_empty() {
                return Err(ApiError::invalid("The verification code cannot be empty"));
            }
            let row =
                two_factor.ok_or_else(|| ApiError::invalid("The user has not enabled 2FA"))?;
            verify::verify(&app, &row, &request.code, Accepts::TotpOrBackup, ip).await?;
        }
        "passkey" => {
            if !has_passkey {
                return Err(ApiError::invalid("The user has not bound a passkey"));
            }
            if !take_passkey_ready(&app, &session).await? {
                return Err(ApiError::invalid(
                    "Passkey verification failed: complete POST /api/user/passkey/verify/begin \
                     and /finish first",
                ));
            }
        }
        other => {
            return Err(ApiError::invalid(format!(
                "Unsupported verification method: {other}"
            )));
        }
    }
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
