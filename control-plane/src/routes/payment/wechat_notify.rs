//! `POST /api/payment/wechat/notify`: WeChat Pay's payment notifications (API v3). The
//! platform signature over timestamp, nonce and body must verify and the timestamp be recent
//! (else 401); the resource must decrypt under the API v3 key. A `TRANSACTION.SUCCESS` for our
//! merchant and app credits its order once, when the amount and currency are the order's; the
//! transaction id is recorded with the credit so that a repeat changes nothing. Success answers
//! 204 with no body; a refusal 4xx and a failure 500 with `{"code": "FAIL", "message"}`, as
//! WeChat Pay expects (it retries until it reads a success).

use super::settings::PaymentSettings;
use crate::app::AppState;
use crate::ledger::after_commit;
use crate::routes::topup::credit::describe_payment;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pylon_shared::db::{CompleteOutcome, PaymentProof, now_secs};
use pylon_shared::payment::wechat::{self, NotificationHeaders};
use serde_json::json;

fn fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "code": "FAIL", "message": message }))).into_response()
}

pub async fn notify(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(settings) = PaymentSettings::load(&app).await else {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "settings unreadable");
    };
    let wechat = &settings.wechat;
    let Ok(platform) = wechat::public_key_from_pem(&wechat.platform_public_key) else {
        tracing::warn!("wechat notification refused: WeChat Pay is not configured");
        return fail(StatusCode::BAD_REQUEST, "not configured");
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let signed = NotificationHeaders {
        timestamp: header(wechat::HEADER_TIMESTAMP),
        nonce: header(wechat::HEADER_NONCE),
        signature: header(wechat::HEADER_SIGNATURE),
    };
    let (event_type, transaction) = match wechat::open_notification(
        &body,
        signed,
        &platform,
        &wechat.api_v3_key,
        now_secs(),
        wechat::NOTIFICATION_TOLERANCE_SECS,
    ) {
        Ok(opened) => opened,
        Err(reason) => {
            tracing::warn!(%reason, "wechat notification refused");
            return fail(StatusCode::UNAUTHORIZED, "signature or resource refused");
        }
    };
    let trade_no = transaction.out_trade_no.as_str();
    if event_type != wechat::TRANSACTION_SUCCESS
        || transaction.trade_state != wechat::TRADE_STATE_SUCCESS
    {
        tracing::info!(%event_type, trade_no, state = %transaction.trade_state, "wechat notification ignored: not paid");
        return StatusCode::NO_CONTENT.into_response();
    }
    if transaction.mchid != wechat.mch_id || transaction.appid != wechat.app_id {
        tracing::warn!(trade_no, mchid = %transaction.mchid, "wechat notification refused: another merchant or app");
        return fail(StatusCode::BAD_REQUEST, "merchant mismatch");
    }
    if transaction.transaction_id.is_empty() {
        return fail(StatusCode::BAD_REQUEST, "transaction_id missing");
    }
    let proof = PaymentProof {
        provider: "wechat",
        event_id: Some(&transaction.transaction_id),
        money_cents: Some(transaction.amount.total),
        currency: Some(&transaction.amount.currency),
        gateway_trade_no: &transaction.transaction_id,
        payment_method: "wxpay",
    };
    let per_unit = settings.quota_per_unit;
    let rules = settings.completion_rules(false);
    let outcome = match app
        .db
        .complete_top_up(trade_no, &proof, &rules, |order| {
            describe_payment(order, per_unit)
        })
        .await
    {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, trade_no, "wechat notification failed");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    };
    match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(
                trade_no,
                user = order.user_id,
                quota = order.quota,
                "wechat payment credited"
            );
            after_commit(&app, &movements, &changes).await;
            StatusCode::NO_CONTENT.into_response()
        }
        CompleteOutcome::AlreadyDone => {
            tracing::info!(trade_no, "wechat notification repeated: already credited");
            StatusCode::NO_CONTENT.into_response()
        }
        refused => {
            tracing::warn!(trade_no, paid = transaction.amount.total, outcome = ?refused, "wechat notification refused");
            fail(StatusCode::BAD_REQUEST, "the order does not match")
        }
    }
}
