//! `GET /api/admin/orders?page&page_size`: every order (newest first) in seed 004's shape
//! `{count, rows}`: the order number as `id`, the gateway's number as `trade_no` (null until
//! paid), the product (plan) bought, the state as an EPay trade status, the amount as an exact
//! decimal string. What Pylon does not keep (the buyer's IP, the raw notification) is left out.

use super::product::datetime;
use super::{ShopPage, shop_answer, shop_ok};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::routes::topup::list::expire_stale;
use axum::extract::{Query, State};
use axum::response::Response;
use pylon_shared::db::{PlanRow, TOPUP_PENDING, TOPUP_SUCCESS, TopUpFilter, TopUpRow};
use pylon_shared::payment::money::Cents;
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    Query(paging): Query<ShopPage>,
) -> Response {
    let result = async {
        expire_stale(&app).await?;
        let filter = TopUpFilter {
            user_id: None,
            keyword: "",
            since: None,
            plans_only: false,
        };
        let (rows, total) = app
            .db
            .top_ups_page(filter, paging.offset(), paging.size())
            .await?;
        let plans: HashMap<i64, PlanRow> = app
            .db
            .plans(false)
            .await?
            .into_iter()
            .map(|plan| (plan.id, plan))
            .collect();
        let rows: Vec<Value> = rows.iter().map(|order| order_view(order, &plans)).collect();
        Ok(shop_ok(json!({ "count": total, "rows": rows }), ""))
    };
    shop_answer(result.await)
}

fn order_view(order: &TopUpRow, plans: &HashMap<i64, PlanRow>) -> Value {
    let trade_status = match order.status.as_str() {
        TOPUP_PENDING => "TRADE_AWAIT",
        TOPUP_SUCCESS => "TRADE_SUCCESS",
        _ => "TRADE_CLOSED",
    };
    let paid_at = if order.complete_time > 0 {
        order.complete_time
    } else {
        order.create_time
    };
    json!({
        "id": order.trade_no,
        "trade_no": (!order.gateway_trade_no.is_empty()).then_some(&order.gateway_trade_no),
        "pay_type": order.payment_method,
        "product_id": order.plan_id,
        "product_title": plans.get(&order.plan_id).map(|plan| plan.name.as_str()),
        "trade_status": trade_status,
        "user_id": order.user_id.to_string(),
        "channel": order.payment_provider,
        "quantity": order.amount,
        "quota": order.quota,
        "money": Cents(order.money_cents).to_decimal_string(),
        "currency": order.currency,
        "create_time": datetime(order.create_time),
        "update_time": datetime(paid_at),
    })
}
