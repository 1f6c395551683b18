//! Administrators' changes to a user's quota: setting it (`PUT /api/user/` with `quota`, and
//! the `add_quota` action's `override` mode) and adding or subtracting an amount (`add_quota`
//! with mode `add` or `subtract`, as new-api's current console sends). Every change goes
//! through `crate::quota::adjust_user_quota` (database, admission mirror, change feed) and
//! is audited with the balance before and after.

use super::{NOT_FOUND, audit, fields, quota_text, target};
use crate::app::App;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use pylon_shared::db::UserRow;
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
    let delta = quota.saturating_sub(old);
    if !crate::quota::adjust_user_quota(app, user_id, delta, true).await? {
        return Err(ApiError::invalid(NOT_FOUND));
    }
    let what = format!(
        "changed the quota from {} to {}",
        quota_text(old),
        quota_text(quota)
    );
    audit(app, admin, user_id, &what).await
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
            if !crate::quota::adjust_user_quota(app, user.id, delta, false).await? {
                // Either the user is gone or the balance does not cover the subtraction.
                let now = target(app, user.id).await?.quota;
                return Err(ApiError::invalid(format!(
                    "Insufficient quota: the user has {}, cannot subtract {}",
                    quota_text(now),
                    quota_text(value)
                )));
            }
            let what = format!(
                "{verb} {} (quota was {})",
                quota_text(value),
                quota_text(old)
            );
            audit(app, admin, user.id, &what).await?;
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
