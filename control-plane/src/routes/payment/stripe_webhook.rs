//! `POST /api/stripe/webhook`: Stripe's events. The `Stripe-Signature` must verify under the
//! webhook secret within Stripe's 300 s tolerance (else 400, nothing changes). A completed and
//! paid `checkout.session.completed` (or `.async_payment_succeeded`) credits its order once,
//! when the amount (before promotions) and the currency are the order's; the event id is
//! recorded with the credit so that a redelivery changes nothing. Other events are
//! acknowledged and ignored. A database failure answers 500 so that Stripe delivers again.

use super::settings::PaymentSettings;
use crate::app::AppState;
use crate::ledger::after_commit;
use crate::routes::topup::credit::describe_payment;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use pylon_shared::db::{CompleteOutcome, PaymentProof, now_secs};
use pylon_shared::payment::stripe::{DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER, verify_webhook};
use serde_json::Value;

const PAID_EVENTS: [&str; 2] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
];

pub async fn webhook(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let settings = match PaymentSettings::load(&app).await {
        Ok(settings) => settings,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    if settings.stripe_webhook_secret.is_empty() {
        tracing::warn!("stripe webhook refused: no webhook secret configured");
        return StatusCode::BAD_REQUEST;
    }
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(reason) = verify_webhook(
        &body,
        signature,
        &settings.stripe_webhook_secret,
        now_secs(),
        DEFAULT_TOLERANCE_SECS,
    ) {
        tracing::warn!(%reason, "stripe webhook refused");
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        tracing::warn!("stripe webhook refused: body is not JSON");
        return StatusCode::BAD_REQUEST;
    };
    let kind = event["type"].as_str().unwrap_or("");
    if !PAID_EVENTS.contains(&kind) {
        tracing::info!(kind, "stripe webhook ignored");
        return StatusCode::OK;
    }
    let session = &event["data"]["object"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    if text(&session["status"]) != "complete" || text(&session["payment_status"]) != "paid" {
        tracing::info!(kind, "stripe session not paid yet");
        return StatusCode::OK;
    }
    let event_id = text(&event["id"]);
    let trade_no = text(&session["client_reference_id"]);
    let session_id = text(&session["id"]);
    let currency = text(&session["currency"]);
    // The amount before promotion codes: the order's price.
    let paid = session["amount_subtotal"]
        .as_i64()
        .or_else(|| session["amount_total"].as_i64());
    let (Some(paid), false, false) = (paid, event_id.is_empty(), trade_no.is_empty()) else {
        tracing::warn!(
            kind,
            "stripe webhook refused: event id, reference or amount missing"
        );
        return StatusCode::OK;
    };
    let proof = PaymentProof {
        provider: "stripe",
        event_id: Some(&event_id),
        money_cents: Some(paid),
        currency: Some(&currency),
        gateway_trade_no: &session_id,
        payment_method: "stripe",
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
            tracing::error!(%error, %trade_no, "stripe webhook failed");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(%trade_no, user = order.user_id, quota = order.quota, "stripe top-up credited");
            after_commit(&app, &movements, &changes).await;
        }
        CompleteOutcome::AlreadyDone => {
            tracing::info!(%trade_no, %event_id, "stripe webhook repeated: already credited");
        }
        refused => {
            tracing::warn!(%trade_no, %event_id, paid, %currency, outcome = ?refused, "stripe webhook refused");
        }
    }
    StatusCode::OK
}
