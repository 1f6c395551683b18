//! `POST /api/waffo/webhook`: Waffo's notifications. The `X-SIGNATURE` must be Waffo's
//! signature of the raw body (else 400, nothing changes); 403 while Waffo's keys are not
//! configured. A `PAYMENT_NOTIFICATION` with `orderStatus` `PAY_SUCCESS` credits the order
//! named by `merchantOrderId` once, when its merchant is ours and its `orderAmount` and
//! `orderCurrency` are the order's; the order is recorded as the event, so that a redelivery
//! changes nothing. Other events and statuses are acknowledged and ignored.
//!
//! As new-api (through Waffo's SDK) answers: 200 with `{"message":"success"}` or, for a refused
//! notification, `{"message":"failed"}`, the body signed with the merchant's key in
//! `X-SIGNATURE`. A database failure answers 500, so that Waffo delivers again.
//!
//! New orders need `WaffoEnabled`; notifications only the keys, so that switching Waffo off
//! does not strand orders already placed (as new-api).

use super::settings::PaymentSettings;
use super::waffo_pay::PROVIDER;
use crate::app::AppState;
use crate::ledger::after_commit;
use crate::routes::topup::credit::describe_payment;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pylon_shared::db::{CompleteOutcome, PaymentProof};
use pylon_shared::payment::waffo::{self, Notification, PaymentResult};

pub async fn webhook(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let settings = match PaymentSettings::load(&app).await {
        Ok(settings) => settings,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if !settings.waffo.configured() {
        tracing::warn!("waffo webhook refused: Waffo is not configured");
        return StatusCode::FORBIDDEN.into_response();
    }
    let (Ok(merchant_key), Ok(waffo_key)) = (
        waffo::private_key(&settings.waffo.private_key),
        waffo::public_key(&settings.waffo.public_key),
    ) else {
        tracing::error!(
            "waffo webhook: keys do not read; check WaffoPrivateKey and WaffoPublicCert"
        );
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let signature = headers
        .get(waffo::HEADER_SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature.is_empty() || waffo::verify(&waffo_key, &body, signature).is_err() {
        tracing::warn!("waffo webhook refused: bad or missing signature");
        return StatusCode::BAD_REQUEST.into_response();
    }
    let answer = |success: bool| signed_answer(&merchant_key, success);
    let Ok(notification) = serde_json::from_slice::<Notification>(&body) else {
        tracing::warn!("waffo webhook refused: body is not a notification");
        return answer(false);
    };
    if notification.event_type != waffo::EVENT_PAYMENT {
        tracing::info!(kind = %notification.event_type, "waffo webhook ignored");
        return answer(true);
    }
    let Some(result) = notification.result else {
        tracing::warn!("waffo webhook refused: payment notification without a result");
        return answer(false);
    };
    if result.order_status != waffo::ORDER_PAY_SUCCESS {
        tracing::info!(trade_no = %result.merchant_order_id, status = %result.order_status, "waffo order not paid");
        return answer(true);
    }
    match credit(&app, &settings, &result).await {
        Ok(credited) => answer(credited),
        Err(()) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Credits the paid order of `result`: `Ok(true)` when it is credited now or was before,
/// `Ok(false)` when it is refused (nothing changed), `Err` on a database failure.
async fn credit(
    app: &AppState,
    settings: &PaymentSettings,
    result: &PaymentResult,
) -> Result<bool, ()> {
    let trade_no = result.merchant_order_id.as_str();
    let merchant = &settings.waffo.merchant_id;
    if !merchant.is_empty() && result.merchant_info.merchant_id != *merchant {
        tracing::warn!(%trade_no, merchant = %result.merchant_info.merchant_id, "waffo webhook refused: another merchant's order");
        return Ok(false);
    }
    let Ok(paid) = waffo::parse_amount(&result.order_amount) else {
        tracing::warn!(%trade_no, amount = %result.order_amount, "waffo webhook refused: amount unreadable");
        return Ok(false);
    };
    if trade_no.is_empty() {
        tracing::warn!("waffo webhook refused: no merchantOrderId");
        return Ok(false);
    }
    let proof = PaymentProof {
        provider: PROVIDER,
        // One payment per order: the order itself is the event.
        event_id: Some(trade_no),
        money_cents: Some(paid.0),
        currency: Some(&result.order_currency),
        gateway_trade_no: &result.acquiring_order_id,
        payment_method: PROVIDER,
    };
    let per_unit = settings.quota_per_unit;
    let rules = settings.completion_rules(false);
    let outcome = app
        .db
        .complete_top_up(trade_no, &proof, &rules, |order| {
            describe_payment(order, per_unit)
        })
        .await
        .map_err(|error| tracing::error!(%error, %trade_no, "waffo webhook failed"))?;
    Ok(match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(%trade_no, user = order.user_id, quota = order.quota, "waffo top-up credited");
            after_commit(app, &movements, &changes).await;
            true
        }
        CompleteOutcome::AlreadyDone => {
            tracing::info!(%trade_no, "waffo webhook repeated: already credited");
            true
        }
        refused => {
            tracing::warn!(%trade_no, paid = %paid, currency = %result.order_currency, outcome = ?refused, "waffo webhook refused");
            false
        }
    })
}

/// The answer Waffo expects: 200, the body signed with the merchant's key.
fn signed_answer(merchant_key: &waffo::rsa::RsaPrivateKey, success: bool) -> Response {
    let body = waffo::answer_body(success);
    let Ok(signature) = waffo::sign(merchant_key, body.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        StatusCode::OK,
        [
            ("content-type", "application/json".to_string()),
            (waffo::HEADER_SIGNATURE, signature),
        ],
        body,
    )
        .into_response()
}
