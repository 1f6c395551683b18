//! `POST /api/creem/webhook`: Creem's events. The `creem-signature` must be the HMAC-SHA256
//! of the raw body under `CreemWebhookSecret` (else 401, nothing changes). A paid one-time
//! `checkout.completed` credits the order named by its `request_id` once, when the order's
//! amount and currency are the order's; the event id is recorded with the credit so that a
//! redelivery changes nothing. Other events are acknowledged and ignored. A refused event
//! answers 400; a database failure 500, so that Creem delivers again.

use super::settings::PaymentSettings;
use crate::app::AppState;
use crate::ledger::after_commit;
use crate::routes::topup::credit::describe_payment;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use pylon_shared::db::{CompleteOutcome, PaymentProof};
use pylon_shared::payment::creem::{CHECKOUT_COMPLETED, SIGNATURE_HEADER, verify_webhook};
use serde_json::Value;

pub async fn webhook(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let settings = match PaymentSettings::load(&app).await {
        Ok(settings) => settings,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if signature.is_empty() || !verify_webhook(&body, signature, &settings.creem_webhook_secret) {
        tracing::warn!("creem webhook refused: bad or missing signature");
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        tracing::warn!("creem webhook refused: body is not JSON");
        return StatusCode::BAD_REQUEST;
    };
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let kind = text(&event["eventType"]);
    if kind != CHECKOUT_COMPLETED {
        tracing::info!(%kind, "creem webhook ignored");
        return StatusCode::OK;
    }
    let checkout = &event["object"];
    let order = &checkout["order"];
    if text(&order["status"]) != "paid" || text(&order["type"]) != "onetime" {
        tracing::info!(status = %text(&order["status"]), "creem checkout not a paid one-time order");
        return StatusCode::OK;
    }
    let event_id = text(&event["id"]);
    let trade_no = text(&checkout["request_id"]);
    let (Some(paid), false, false) = (
        order["amount"].as_i64(),
        event_id.is_empty(),
        trade_no.is_empty(),
    ) else {
        tracing::warn!("creem webhook refused: event id, request id or amount missing");
        return StatusCode::BAD_REQUEST;
    };
    let currency = text(&order["currency"]);
    let creem_order = text(&order["id"]);
    let proof = PaymentProof {
        provider: "creem",
        event_id: Some(&event_id),
        money_cents: Some(paid),
        currency: Some(&currency),
        gateway_trade_no: &creem_order,
        payment_method: "creem",
    };
    let per_unit = settings.quota_per_unit;
    let rules = settings.completion_rules(false);
    let outcome = match app
        .db
        .complete_top_up(&trade_no, &proof, &rules, |order| {
            describe_payment(order, per_unit)
        })
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, %trade_no, "creem webhook failed");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(%trade_no, user = order.user_id, quota = order.quota, "creem top-up credited");
            after_commit(&app, &movements, &changes).await;
            StatusCode::OK
        }
        CompleteOutcome::AlreadyDone => {
            tracing::info!(%trade_no, %event_id, "creem webhook repeated: already credited");
            StatusCode::OK
        }
        refused => {
            tracing::warn!(%trade_no, %event_id, paid, %currency, outcome = ?refused, "creem webhook refused");
            StatusCode::BAD_REQUEST
        }
    }
}
