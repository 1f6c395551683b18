//! `GET|POST /api/user/epay/notify`: EPay's payment notification (query string or form body).
//! It credits only when the signature verifies under the merchant key, the merchant id is
//! ours, the trade status is `TRADE_SUCCESS` and the amount is the order's, to the cent; and
//! only once, however often and however concurrently the gateway repeats it. The gateway reads
//! the plain-text answer: `success` stops its retries, `fail` asks for another try.
//! [`notify_for`] serves every EPay-compatible gateway (seed 001's YiPay): each credits only
//! the orders created for it.

use super::epay_pay::{EPAY, EpayDialect};
use super::settings::PaymentSettings;
use crate::app::AppState;
use crate::ledger::after_commit;
use crate::routes::topup::credit::describe_payment;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use bytes::Bytes;
use pylon_shared::db::{CompleteOutcome, PaymentProof};
use pylon_shared::payment::epay::{self, Notification};
use pylon_shared::payment::money::Cents;
use std::collections::BTreeMap;

const SUCCESS: &str = "success";
const FAIL: &str = "fail";

pub async fn notify(
    State(app): State<AppState>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> &'static str {
    notify_for(&app, &method, query, &body, EPAY).await
}

/// Handles a notification of the EPay-compatible gateway `dialect` (query string for GET, form
/// body for POST) and answers `success` or `fail`.
pub async fn notify_for(
    app: &crate::app::App,
    method: &Method,
    query: Option<String>,
    body: &[u8],
    dialect: EpayDialect,
) -> &'static str {
    let raw = if *method == Method::POST {
        body.to_vec()
    } else {
        query.unwrap_or_default().into_bytes()
    };
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(&raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match handle(app, &params, dialect).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, provider = dialect.provider, "epay notification failed");
            FAIL
        }
    }
}

async fn handle(
    app: &crate::app::App,
    params: &BTreeMap<String, String>,
    dialect: EpayDialect,
) -> anyhow::Result<&'static str> {
    let settings = PaymentSettings::load(app)
        .await
        .map_err(|_| anyhow::anyhow!("payment settings unreadable"))?;
    if !settings.epay_enabled() {
        tracing::warn!("epay notification refused: epay is not configured");
        return Ok(FAIL);
    }
    if params.is_empty() || !epay::verify(params, &settings.epay_key) {
        tracing::warn!(trade_no = ?params.get("out_trade_no"), "epay notification refused: bad signature");
        return Ok(FAIL);
    }
    let notification = Notification::from_params(params);
    if notification.merchant_id != settings.epay_id {
        tracing::warn!(trade_no = %notification.trade_no, merchant = %notification.merchant_id, "epay notification refused: another merchant");
        return Ok(FAIL);
    }
    if !notification.is_paid() {
        tracing::info!(trade_no = %notification.trade_no, status = %notification.trade_status, "epay notification ignored: not paid");
        return Ok(SUCCESS);
    }
    let Ok(paid) = Cents::parse(&notification.money) else {
        tracing::warn!(trade_no = %notification.trade_no, money = %notification.money, "epay notification refused: unreadable amount");
        return Ok(FAIL);
    };
    let event_id = if notification.gateway_trade_no.is_empty() {
        notification.trade_no.clone()
    } else {
        notification.gateway_trade_no.clone()
    };
    let proof = PaymentProof {
        provider: dialect.provider,
        event_id: Some(&event_id),
        money_cents: Some(paid.0),
        currency: None,
        gateway_trade_no: &notification.gateway_trade_no,
        payment_method: &notification.payment_type,
    };
    let per_unit = settings.quota_per_unit;
    let rules = settings.completion_rules(false);
    let outcome = app
        .db
        .complete_top_up(&notification.trade_no, &proof, &rules, |order| {
            describe_payment(order, per_unit)
        })
        .await?;
    Ok(match outcome {
        CompleteOutcome::Credited {
            order,
            movements,
            changes,
        } => {
            tracing::info!(trade_no = %order.trade_no, user = order.user_id, quota = order.quota, "epay top-up credited");
            after_commit(app, &movements, &changes).await;
            SUCCESS
        }
        CompleteOutcome::AlreadyDone => {
            tracing::info!(trade_no = %notification.trade_no, "epay notification repeated: already credited");
            SUCCESS
        }
        refused => {
            tracing::warn!(trade_no = %notification.trade_no, money = %notification.money, outcome = ?refused, "epay notification refused");
            FAIL
        }
    })
}
