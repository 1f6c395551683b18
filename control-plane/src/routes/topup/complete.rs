//! `POST /api/user/topup/complete` with `{"trade_no"}`: an administrator marks a pending (or
//! expired) order paid and credits it (new-api's manual completion). Idempotent: completing a
//! completed order succeeds and credits nothing more. A cancelled order stays cancelled.

use super::credit::describe_payment;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger::after_commit;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use pylon_shared::db::{ADMIN_COMPLETION, CompleteOutcome, PaymentProof};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct CompleteRequest {
    #[serde(default)]
    trade_no: String,
}

pub async fn complete(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    ApiJson(request): ApiJson<CompleteRequest>,
) -> ApiResult {
    let trade_no = request.trade_no.trim();
    if trade_no.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: trade_no is empty"));
    }
    let settings = PaymentSettings::load(&app).await?;
    let per_unit = settings.quota_per_unit;
    let rules = settings.completion_rules(true);
    let proof = PaymentProof {
        provider: ADMIN_COMPLETION,
        event_id: None,
        money_cents: None,
        currency: None,
        gateway_trade_no: "",
        payment_method: "",
    };
    let outcome = app
        .db
        .complete_top_up(trade_no, &proof, &rules, |order| {
            describe_payment(order, per_unit)
        })
        .await?;
    match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(
                admin = admin.id,
                trade_no,
                user = order.user_id,
                quota = order.quota,
                "top-up completed by an administrator"
            );
            after_commit(&app, &movements, &changes).await;
            Ok(envelope::ok(serde_json::Value::Null))
        }
        CompleteOutcome::AlreadyDone => Ok(envelope::ok(serde_json::Value::Null)),
        CompleteOutcome::NotFound => Err(ApiError::invalid("The top-up order does not exist")),
        CompleteOutcome::NotPending => Err(ApiError::invalid(
            "The order is paid or cancelled, it cannot be completed",
        )),
        // Not reached for an administrator (gateway and amount are not compared).
        CompleteOutcome::ProviderMismatch | CompleteOutcome::AmountMismatch => Err(
            ApiError::invalid("The order does not match the payment, it cannot be completed"),
        ),
        CompleteOutcome::Refused(refusal) => {
            tracing::warn!(admin = admin.id, trade_no, %refusal, "top-up completion refused by the ledger");
            Err(ApiError::invalid(format!(
                "The order cannot be completed: {refusal}"
            )))
        }
    }
}
