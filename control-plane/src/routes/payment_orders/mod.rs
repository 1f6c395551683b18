//! Seed 001's payment dialect (Veloce): the user's payment configuration
//! (`GET /api/user/payment/config`), their top-up orders (`GET|POST /api/user/payment/orders`,
//! `GET /api/user/payment/orders/:order_no`) and the YiPay gateway's callbacks
//! (`GET|POST /api/payment/yipay/notify`, `GET /api/payment/yipay/return`). YiPay is an
//! EPay-compatible gateway: it uses the EPay settings and signing, and its orders are the same
//! `top_ups` rows, credited by the same transaction as new-api's routes.

mod config;
mod orders;
mod yipay;

use crate::app::AppState;
use axum::Router;
use axum::routing::get;
use pylon_shared::db::TopUpRow;
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

/// An order in this dialect: its number, what it buys and costs (the amount as an exact
/// decimal string) and where it stands.
fn order_view(order: &TopUpRow) -> Value {
    json!({
        "id": order.id,
        "order_no": order.trade_no,
        "amount": order.amount,
        "quota": order.quota,
        "money": Cents(order.money_cents).to_decimal_string(),
        "currency": order.currency,
        "payment_method": order.payment_method,
        "provider": order.payment_provider,
        "status": order.status,
        "created_at": order.create_time,
        "paid_at": order.complete_time,
    })
}
