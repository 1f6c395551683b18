//! The top-up page and the records of top-ups (new-api's routes): what the page shows
//! (`GET /api/user/topup/info`), pricing an amount (`POST /api/user/amount`), the user's own
//! records (`GET /api/user/topup/self`) and every record for administrators
//! (`GET /api/user/topup`). Gateway orders are created in `routes::payment`. Crediting money:
//! redeeming a code (`POST /api/user/topup`) and an administrator's completion of an order
//! (`POST /api/user/topup/complete`); the gateways' callbacks are in `routes::payment`.

pub(crate) mod amount;
mod complete;
pub(crate) mod credit;
mod info;
pub(crate) mod list;
pub(crate) mod pricing;
pub(crate) mod redeem;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, post};
use pylon_shared::db::TopUpRow;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/user/topup", get(list::all).post(redeem::redeem))
        .route("/api/user/topup/complete", post(complete::complete))
        .route("/api/user/topup/info", get(info::info))
        .route("/api/user/topup/self", get(list::own))
        .route("/api/user/amount", post(amount::amount))
        .route("/api/coupon/redeem", post(redeem::redeem))
}

/// An order as new-api renders it, with the exact amount beside new-api's `money`.
pub(crate) fn view(order: &TopUpRow) -> Value {
    json!({
        "id": order.id,
        "user_id": order.user_id,
        "amount": order.amount,
        "quota": order.quota,
        // new-api's float, for display; `money_cents` is the exact amount.
        "money": order.money_cents as f64 / 100.0,
        "money_cents": order.money_cents,
        "currency": order.currency,
        "trade_no": order.trade_no,
        "payment_method": order.payment_method,
        "payment_provider": order.payment_provider,
        "create_time": order.create_time,
        "complete_time": order.complete_time,
        "status": order.status,
        "plan_id": order.plan_id,
    })
}
