//! Seed 001's payment dialect (Veloce): the user's payment configuration
//! (`GET /api/user/payment/config`), their top-up orders (`GET|POST /api/user/payment/orders`,
//! `GET /api/user/payment/orders/:order_no`) and the YiPay gateway's callbacks
//! (`GET|POST /api/payment/yipay/notify`, `GET /api/payment/yipay/return`). YiPay is an
//! EPay-compatible gateway: it uses the EPay settings and signing, and its orders are the same
//! `top_ups` rows, credited by the same transaction as new-api's routes.

mod config;
mod orders;
pub(crate) mod yipay;

use crate::app::AppState;
use crate::envelope::rfc3339;
use axum::Router;
use axum::routing::get;
use pylon_shared::db::{TOPUP_SUCCESS, TopUpRow};
use pylon_shared::payment::money::Cents;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/user/payment/config", get(config::config))
        .route(
            "/api/user/payment/orders",
            get(orders::list).post(orders::create),
        )
        .route("/api/user/payment/orders/{order_no}", get(orders::one))
        .route(
            "/api/payment/yipay/notify",
            get(yipay::notify).post(yipay::notify),
        )
        .route("/api/payment/yipay/return", get(yipay::back))
}

/// An order in this dialect (Veloce's fields): `amount` in units and `rmb_amount` what the
/// gateway charges, as exact decimal strings; a paid order is `paid`; times in RFC 3339.
fn order_view(order: &TopUpRow) -> Value {
    let status = match order.status.as_str() {
        TOPUP_SUCCESS => "paid",
        other => other,
    };
    let mut view = json!({
        "order_no": order.trade_no,
        "amount": order.amount.to_string(),
        "rmb_amount": Cents(order.money_cents).to_decimal_string(),
        "method": order.payment_method,
        "status": status,
        "quota": order.quota,
        "channel_id": order.payment_provider,
        "created_at": rfc3339(order.create_time),
    });
    if order.complete_time > 0 {
        view["paid_at"] = rfc3339(order.complete_time).into();
    }
    view
}
