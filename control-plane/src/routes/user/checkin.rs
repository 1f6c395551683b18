//! `POST /api/user/checkin` (new-api) and `POST /api/user/check-in` (seed 001): the daily
//! check-in. The reward is drawn from the configured range and credited exactly once per
//! calendar day of the check-in time zone: of any number of concurrent clicks, the unique key
//! of `checkins` lets one record the day, and only that one is credited, in the same
//! transaction (one ledger movement keyed by user and day); the others are told the user
//! already checked in today.

use super::aff_transfer::{describe_quota, quota_per_unit};
use super::checkin_config::CheckinConfig;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::{LOG_TYPE_SYSTEM, Movement, MovementKind, MovementOutcome};
use serde_json::json;

const ALREADY: &str = "Already checked in today";

pub async fn check_in(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let config = CheckinConfig::load(&app).await?;
    config.require_enabled()?;
    let day = config.today();
    if app.db.has_checkin(user.id, &day).await? {
        return Err(ApiError::invalid(ALREADY));
    }
    let reward = config.draw();
    let per_unit = quota_per_unit(&app).await?;
    let movement = Movement::new(
        format!("checkin:{}:{day}", user.id),
        MovementKind::Checkin,
        user.id,
        reward,
    )
    .with_log(
        LOG_TYPE_SYSTEM,
        format!(
            "Daily check-in: received {}",
            describe_quota(reward, per_unit)
        ),
        reward,
    );
    match app.db.check_in(&day, &movement).await? {
        MovementOutcome::Applied { changes, .. } => {
            ledger::after_commit(&app, std::slice::from_ref(&movement), &changes).await;
        }
        MovementOutcome::Duplicate => return Err(ApiError::invalid(ALREADY)),
        MovementOutcome::Refused(_) => {
            return Err(ApiError::Unauthorized(
                "Unauthorized, user information is invalid",
            ));
        }
    }
    Ok(Json(json!({
        "success": true,
        "message": "Check-in successful",
        "data": { "quota_awarded": reward, "checkin_date": day },
    }))
    .into_response())
}
