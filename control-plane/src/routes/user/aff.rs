//! `GET /api/user/aff`: the caller's invitation code (`data`), created on first request as in
//! new-api: four random letters and digits, unique among all users. Concurrent first requests
//! agree on one code (only the first stores its own), and a code another user holds is never
//! reused: a collision just draws again, with a longer code after a few tries.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::AffCodeOutcome;

/// new-api's code length.
const CODE_LEN: usize = 4;
/// Draws before giving up (each collision makes the next code longer every other try).
const MAX_ATTEMPTS: usize = 16;

pub async fn get(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    if let Some(code) = user.aff_code.filter(|c| !c.is_empty()) {
        return Ok(envelope::ok(code));
    }
    for attempt in 0..MAX_ATTEMPTS {
        let code = random_alphanumeric(CODE_LEN + attempt / 2);
        match app.db.set_aff_code_if_missing(user.id, &code).await? {
            AffCodeOutcome::Set => return Ok(envelope::ok(code)),
            AffCodeOutcome::Existing(code) => return Ok(envelope::ok(code)),
            AffCodeOutcome::Taken => continue,
            AffCodeOutcome::NoUser => {
                return Err(ApiError::Unauthorized(
                    "Unauthorized, user information is invalid",
                ));
            }
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "no free invitation code after {MAX_ATTEMPTS} draws"
    )))
}
