//! Seed 004's membership products (`type: "day"`, `day` > 0): each is a subscription plan
//! whose length is counted in days (and whose `integral`, if any, is its quota per period; 0 is
//! unlimited). They are listed beside the quota products with an id of their own form,
//! `member_<plan id>`, ordered through the same precreate route and activated by the same
//! gateway notification as every subscription order.

use super::product::datetime;
use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::SubscriptionPlanRow;
use serde_json::{Value, json};

const PREFIX: &str = "member_";

/// The subscription plan id in a membership product id.
pub fn plan_id(product_id: &str) -> Option<i64> {
    product_id
        .strip_prefix(PREFIX)
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
}

/// The product id of a membership plan.
fn product_id(plan: &SubscriptionPlanRow) -> String {
    format!("{PREFIX}{}", plan.id)
}

/// The membership plans (those counted in days), or only those on sale.
pub async fn plans(app: &App, on_sale_only: bool) -> Result<Vec<SubscriptionPlanRow>, ApiError> {
    Ok(app
        .db
        .subscription_plans(on_sale_only)
        .await?
        .into_iter()
        .filter(|plan| plan.duration_unit == "day")
        .collect())
}

/// A membership plan as `GET /api/product` shows it.
pub fn product_view(plan: &SubscriptionPlanRow) -> Value {
    json!({
        "id": product_id(plan),
        "title": plan.title,
        "price": plan.price_cents,
        "original_price": 0,
        "value": plan.duration_value,
        "badge": plan.subtitle,
        "type": "day",
        "level": plan.sort_order,
        "status": plan.enabled,
        "create_time": datetime(plan.created_at),
        "update_time": datetime(plan.updated_at),
    })
}

/// A membership plan as the administrators' product list shows it.
pub fn admin_view(plan: &SubscriptionPlanRow) -> Value {
    json!({
        "id": product_id(plan),
        "title": plan.title,
        "price": plan.price_cents,
        "original_price": 0,
        "integral": plan.total_amount,
        "badge": plan.subtitle,
        "day": plan.duration_value,
        "status": plan.enabled,
        "create_time": datetime(plan.created_at),
        "update_time": datetime(plan.updated_at),
    })
}
