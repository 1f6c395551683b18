//! Paying for top-ups through gateways: EPay (`POST /api/user/pay`), Stripe
//! (`POST /api/user/stripe/pay`, `POST /api/user/stripe/amount`), Creem
//! (`POST /api/user/creem/pay`, by product) and Waffo (`POST /api/user/waffo/pay`,
//! `POST /api/user/waffo/amount`). An order is created pending
//! with the quota and the money it stands for fixed, so that a callback can later be checked
//! against it (signature, merchant, amount, currency). The gateways' callbacks credit the
//! orders: `GET|POST /api/user/epay/notify`, `POST /api/stripe/webhook`,
//! `POST /api/creem/webhook` and `POST /api/waffo/webhook`. Plan orders (`routes::order`) are paid through WeChat Pay Native:
//! `GET /api/payment/qrcode` and its notification `POST /api/payment/wechat/notify`.
//!
//! These routes answer in new-api's payment shape: `{"message": "success", "data": ...}`, or
//! `{"message": "error", "data": "<reason>"}` (with `success` added for clients that read it).

pub(crate) mod creem_pay;
mod creem_webhook;
pub(crate) mod epay_notify;
pub(crate) mod epay_pay;
mod http;
pub mod settings;
pub(crate) mod stripe_pay;
mod stripe_webhook;
mod waffo_pay;
mod waffo_webhook;
mod wechat_notify;
mod wechat_qrcode;

pub(crate) use creem_pay::product_view;

use crate::app::AppState;
use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/user/pay", post(epay_pay::pay))
        .route("/api/user/stripe/pay", post(stripe_pay::pay))
        .route("/api/user/stripe/amount", post(stripe_pay::amount))
        .route(
            "/api/user/epay/notify",
            get(epay_notify::notify).post(epay_notify::notify),
        )
        .route("/api/stripe/webhook", post(stripe_webhook::webhook))
        .route("/api/user/creem/pay", post(creem_pay::pay))
        .route("/api/creem/webhook", post(creem_webhook::webhook))
        .route("/api/user/waffo/pay", post(waffo_pay::pay))
        .route("/api/user/waffo/amount", post(waffo_pay::amount))
        .route("/api/waffo/webhook", post(waffo_webhook::webhook))
        .route("/api/payment/qrcode", get(wechat_qrcode::qrcode))
        .route("/api/payment/wechat/notify", post(wechat_notify::notify))
}

/// new-api's payment success answer.
pub(crate) fn pay_ok<T: Serialize>(data: T) -> Response {
    Json(json!({ "success": true, "message": "success", "data": data })).into_response()
}

/// new-api's payment failure answer: the reason is in `data`.
pub(crate) fn pay_error(reason: impl Into<String>) -> Response {
    let reason = reason.into();
    Json(json!({ "success": false, "message": "error", "data": reason })).into_response()
}
