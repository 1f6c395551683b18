//! `POST /api/user/topup` with `{"key"}` (and seed 002's `POST /api/coupon/redeem` with
//! `{"code"}`): redeems a code for the caller. Of any number of
//! concurrent redemptions of one code exactly one credits (see
//! `pylon_shared::db::payments`); the others, and used, expired, disabled or unknown codes,
//! get a clear reason and change nothing. Answers the credited quota in `data`.

use super::credit::describe_redemption;
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger::after_commit;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use pylon_shared::db::{RedeemOutcome, UserRow};
use serde::Deserialize;

/// The longest key a code can have (`redemptions.key`).
const MAX_KEY_LEN: usize = 64;

#[derive(Deserialize)]
pub struct RedeemRequest {
    /// `code` in seed 002's `/api/coupon/redeem`.
    #[serde(default, alias = "code")]
    key: String,
}

pub async fn redeem(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<RedeemRequest>,
) -> ApiResult {
    redeem_for(&app, &user, &request.key)
        .await
        .map(envelope::ok)
}

/// Redeems `key` for `user`; answers the credited quota, or the reason to show them.
pub(crate) async fn redeem_for(app: &App, user: &UserRow, key: &str) -> Result<i64, ApiError> {
    let key = key.trim();
    if key.is_empty() {
        return Err(ApiError::invalid("Please enter a redemption code"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid("Invalid redemption code"));
    }
    let per_unit = PaymentSettings::load(app).await?.quota_per_unit;
    let outcome = app
        .db
        .redeem_code(key, user.id, |code| describe_redemption(code, per_unit))
        .await?;
    match outcome {
        RedeemOutcome::Credited {
            code_id,
            quota,
            movement,
            changes,
        } => {
            tracing::info!(
                user = user.id,
                code = code_id,
                quota,
                "redemption code redeemed"
            );
            after_commit(app, std::slice::from_ref(&movement), &changes).await;
            Ok(quota)
        }
        RedeemOutcome::Unknown => Err(ApiError::invalid("Invalid redemption code")),
        RedeemOutcome::Used => Err(ApiError::invalid(
            "This redemption code has already been used",
        )),
        RedeemOutcome::Expired => Err(ApiError::invalid("This redemption code has expired")),
        RedeemOutcome::Disabled => Err(ApiError::invalid("This redemption code is disabled")),
        RedeemOutcome::Refused(refusal) => {
            tracing::warn!(user = user.id, %refusal, "redemption refused by the ledger");
            Err(ApiError::invalid(format!("Redemption failed: {refusal}")))
        }
    }
}
