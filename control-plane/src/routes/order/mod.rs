//! Orders for plans (seed 002): `POST /api/orders/create` with `{"planId", "paymentMethod"}`
//! records a pending order that copies the plan's quota and price, `GET /api/orders` lists the
//! caller's plan orders, `POST /api/orders/{id}/cancel` cancels a pending one (by number or
//! id). An order moves pending → paid | expired | cancelled and never back; it is paid through
//! `GET /api/payment/qrcode` (WeChat Pay Native, see `routes::payment`).

mod cancel;
pub(crate) use cancel::own_order;
mod create;
mod list;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};
use pylon_shared::db::{TOPUP_PENDING, TOPUP_SUCCESS, TopUpRow};
use pylon_shared::payment::money::Cents;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/orders/create", post(create::create))
        .route("/api/orders", get(list::list))
        .route("/api/orders/{id}/cancel", post(cancel::cancel))
}

/// An order as seed 002's clients read it (`orderId` is its number), with new-api's fields.
fn view(order: &TopUpRow, expire_secs: i64) -> Value {
    json!({
        "id": order.id,
        "orderId": order.trade_no,
        "trade_no": order.trade_no,
        "plan_id": order.plan_id,
        "status": if order.status == TOPUP_SUCCESS { "paid" } else { order.status.as_str() },
        "quota": order.quota,
        "amount": Cents(order.money_cents).to_decimal_string(),
        "money_cents": order.money_cents,
        "currency": order.currency,
        "paymentMethod": order.payment_method,
        "created_at": order.create_time,
        "expires_at": if order.status == TOPUP_PENDING { order.create_time + expire_secs } else { 0 },
        "paid_at": order.complete_time,
    })
}
