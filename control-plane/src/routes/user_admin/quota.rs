//! Administrators' changes to a user's quota: setting it (`PUT /api/user/` with `quota`, and
//! the `add_quota` action's `override` mode) and adding or subtracting an amount (`add_quota`
//! with mode `add` or `subtract`, as new-api's console sends). Each change is one ledger
//! movement (`crate::ledger`): the balance, its audit row (with the balance before and after),
//! the change event and a fresh idempotency key in one transaction.

use super::{NOT_FOUND, audit_text, fields, quota_text, target};
use crate::app::App;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use pylon_shared::db::{
    LOG_TYPE_MANAGE, Movement, MovementKind, MovementOutcome, Refusal, UserRow,
};
use serde_json::json;

/// Sets the quota of `user_id` to `quota` (already checked): the difference to a fresh read
/// is applied, so that charges settled meanwhile are not undone. Nothing is written or logged
/// when the quota already is `quota`.
pub(super) async fn set_quota(
    app: &App,
    admin: &UserRow,
    user_id: i64,
    quota: i64,
) -> Result<(), ApiError> {
    let old = target(app, user_id).await?.quota;
    if old == quota {
        return Ok(());
    }
    let what = format!(
        "changed the quota from {} to {}",
        quota_text(old),
        quota_text(quota)
    );
    let movement = adjustment(admin, user_id, quota.saturating_sub(old), &what).allowing_negative();
    match ledger::apply(app, &movement).await? {
        MovementOutcome::Applied { .. } => Ok(()),
        _ => Err(ApiError::invalid(NOT_FOUND)),
    }
}

/// The `add_quota` action of `POST /api/user/manage`: `mode` is `add`, `subtract` (never below
/// zero) or `override`; `value` a positive amount (or the new quota for `override`). Answers
/// the new quota.
pub(super) async fn add_quota(
    app: &App,
    admin: &UserRow,
    user: &UserRow,
    mode: &str,
    value: i64,
) -> ApiResult {
    match mode {
        "add" | "subtract" => {
            if value <= 0 {
                return Err(ApiError::invalid(
                    "Invalid parameters: value must be a positive quota amount",
                ));
            }
            fields::check_quota(value)?;
            let old = target(app, user.id).await?.quota;
            let (delta, verb) = if mode == "add" {
                (value, "added")
            } else {
                (-value, "subtracted")
            };
            let what = format!(
                "{verb} {} (quota was {})",
                quota_text(value),
                quota_text(old)
            );
            match ledger::apply(app, &adjustment(admin, user.id, delta, &what)).await? {
                MovementOutcome::Applied {
                    user_quota_after, ..
                } => return Ok(envelope::ok(json!({ "quota": user_quota_after }))),
                MovementOutcome::Refused(Refusal::InsufficientQuota) => {
                    let now = target(app, user.id).await?.quota;
                    return Err(ApiError::invalid(format!(
                        "Insufficient quota: the user has {}, cannot subtract {}",
                        quota_text(now),
                        quota_text(value)
                    )));
                }
                _ => return Err(ApiError::invalid(NOT_FOUND)),
            }
        }
        "override" => {
            fields::check_quota(value)?;
            set_quota(app, admin, user.id, value).await?;
        }
        _ => {
            return Err(ApiError::invalid(
                "Invalid parameters: mode must be add, subtract or override",
            ));
        }
    }
    let quota = target(app, user.id).await?.quota;
    Ok(envelope::ok(json!({ "quota": quota })))
}

/// An administrator's change of `delta` on `user_id`'s quota, audited on the user's log.
fn adjustment(admin: &UserRow, user_id: i64, delta: i64, what: &str) -> Movement {
    Movement::new(
        ledger::fresh_key("admin"),
        MovementKind::AdminAdjustment,
        user_id,
        delta,
    )
    .with_log(LOG_TYPE_MANAGE, audit_text(admin, what), 0)
}
