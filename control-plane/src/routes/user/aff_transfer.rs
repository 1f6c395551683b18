//! `POST /api/user/aff_transfer` with `{"quota": n}`: moves `n` of the caller's invitation
//! quota (`aff_quota`, earned by inviting users) into their quota, as new-api's
//! `TransferAffQuota` does. At least one unit (`QuotaPerUnit`, 500 000 by default) per transfer.
//!
//! The transfer is one ledger movement: the invitation quota is taken by a conditional update
//! that refuses to take more than there is (so concurrent transfers can never overdraw it), the
//! quota credited and a system log row written, all in one transaction.

use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger;
use axum::extract::State;
use pylon_shared::db::{LOG_TYPE_SYSTEM, Movement, MovementKind, MovementOutcome, Refusal};
use pylon_shared::roles::QUOTA_PER_UNIT;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TransferRequest {
    #[serde(default)]
    quota: i64,
}

pub async fn transfer(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<TransferRequest>,
) -> ApiResult {
    let per_unit = quota_per_unit(&app).await?;
    let amount = request.quota;
    if amount < per_unit {
        return Err(ApiError::invalid(format!(
            "Transfer failed: the minimum transfer is {}",
            describe_quota(per_unit, per_unit)
        )));
    }
    let movement = Movement::new(
        ledger::fresh_key("aff_transfer"),
        MovementKind::AffTransfer,
        user.id,
        amount,
    )
    .with_aff_delta(-amount)
    .with_log(
        LOG_TYPE_SYSTEM,
        format!(
            "Transferred {} of invitation quota to quota",
            describe_quota(amount, per_unit)
        ),
        amount,
    );
    match ledger::apply(&app, &movement).await? {
        MovementOutcome::Applied { .. } => Ok(envelope::ok_message("Transfer successful")),
        MovementOutcome::Refused(Refusal::NoSuchUser) => Err(ApiError::Unauthorized(
            "Unauthorized, user information is invalid",
        )),
        // A fresh key is never a duplicate; anything else is a short invitation quota.
        _ => Err(ApiError::invalid(
            "Transfer failed: not enough invitation quota",
        )),
    }
}

/// Quota per US dollar: the `QuotaPerUnit` option, 500 000 when unset or unusable.
pub(super) async fn quota_per_unit(app: &App) -> Result<i64, ApiError> {
    let configured = app
        .settings
        .now()
        .get("QuotaPerUnit")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 1.0 && *v <= 1e15);
    // The bounds make the conversion exact enough and overflow-free.
    Ok(configured.map_or(QUOTA_PER_UNIT, |v| v.round() as i64))
}

/// `quota` for people: the raw amount and its value in US dollars.
pub(super) fn describe_quota(quota: i64, per_unit: i64) -> String {
    let dollars = quota as f64 / per_unit.max(1) as f64;
    format!("{quota} quota (${dollars:.6})")
}

#[cfg(test)]
mod tests {
    use super::describe_quota;

    #[test]
    fn quota_is_described_in_dollars() {
        assert_eq!(describe_quota(500_000, 500_000), "500000 quota ($1.000000)");
        assert_eq!(describe_quota(1_000, 500_000), "1000 quota ($0.002000)");
    }
}
