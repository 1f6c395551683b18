//! `GET /api/product` (`page_size` optional): the plans on sale as the seed's products (price
//! in cents, `value` the quota it credits, type `integral`), then the membership plans on sale
//! (`value` the days, type `day`), and the payment types offered.

use super::shop_ok;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::{Query, State};
use pylon_shared::db::PlanRow;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct ProductQuery {
    page_size: Option<usize>,
}

pub async fn list(
    State(app): State<AppState>,
    _: AuthUser,
    Query(query): Query<ProductQuery>,
) -> ApiResult {
    let settings = PaymentSettings::load(&app).await?;
    let plans = app.db.plans(true).await?;
    let memberships = super::membership::plans(&app, true).await?;
    let products: Vec<Value> = plans
        .iter()
        .map(product_view)
        .chain(memberships.iter().map(super::membership::product_view))
        .take(query.page_size.filter(|n| *n > 0).unwrap_or(usize::MAX))
        .collect();
    let pay_types: Vec<&String> = settings
        .pay_methods
        .iter()
        .filter_map(|method| method.get("type"))
        .collect();
    Ok(shop_ok(
        json!({ "products": products, "pay_types": pay_types }),
        "",
    ))
}

/// A plan as the seed shows a product.
fn product_view(plan: &PlanRow) -> Value {
    json!({
        "id": plan.id.to_string(),
        "title": plan.name,
        "price": plan.price_cents,
        "original_price": plan.original_price_cents,
        "value": plan.quota,
        "badge": plan.description,
        "type": "integral",
        "level": plan.sort_order,
        "status": plan.enabled,
        "create_time": datetime(plan.created_time),
        "update_time": datetime(plan.updated_time),
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as the seed writes times.
pub(super) fn datetime(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
