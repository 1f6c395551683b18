//! Plans (seed 002): products with a quota and a price. Users list them
//! (`GET /api/plans`, `GET /api/plans/{id}` by id or code) and buy one through
//! `POST /api/orders/create` (see `routes::order`); administrators manage them
//! (`POST /api/plans`, `PUT|DELETE /api/plans/{id}`).

mod list;
mod manage;

use axum::Router;
use axum::routing::get;
use pylon_shared::db::PlanRow;
use pylon_shared::payment::money::Cents;
use serde_json::{Value, json};

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/plans", get(list::list).post(manage::create))
        .route(
            "/api/plans/{id}",
            get(list::get_one)
                .put(manage::update)
                .delete(manage::delete),
        )
}

/// A plan as clients read it: `planId` is its code; the price exact, as text.
fn view(plan: &PlanRow) -> Value {
    json!({
        "id": plan.id,
        "planId": plan.code,
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "quota": plan.quota,
        "price": Cents(plan.price_cents).to_decimal_string(),
        "price_cents": plan.price_cents,
        "currency": plan.currency,
        "enabled": plan.enabled == 1,
        "sort_order": plan.sort_order,
        "original_price_cents": plan.original_price_cents,
        "created_time": plan.created_time,
        "updated_time": plan.updated_time,
    })
}
