//! `POST /api/pay/precreate` with `{"pay_type", "product_id", "quantity"}`: an order for
//! `quantity` (default 1) of a product (a plan on sale, priced in CNY) paid through the
//! EPay-compatible YiPay channel, or for one membership product (`member_<id>`, a subscription).
//! Answers the order number and the gateway's payment address with the signed order in its
//! query string; the gateway's notification credits the order or activates the membership.

use super::{shop_answer, shop_ok};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::payment::epay_pay::{Item, YIPAY, create_order};
use axum::extract::State;
use axum::response::Response;
use pylon_shared::db::UserRow;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct Precreate {
    #[serde(default)]
    pay_type: String,
    /// A number or a string, as the seed writes ids both ways.
    #[serde(default)]
    product_id: Value,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

pub async fn precreate(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<Precreate>,
) -> Response {
    shop_answer(order(&app, &user, request).await)
}

async fn order(app: &App, user: &UserRow, request: Precreate) -> Result<Response, ApiError> {
    let product_id = match &request.product_id {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => String::new(),
    };
    if product_id.is_empty() {
        return Err(ApiError::invalid("Please choose a product (product_id)"));
    }
    let order = if let Some(id) = super::membership::plan_id(&product_id) {
        let plan = app.db.subscription_plan(id).await?;
        let Some(plan) = plan.filter(|p| p.duration_unit == "day") else {
            return Err(ApiError::invalid("The product does not exist"));
        };
        if request.quantity != 1 {
            return Err(ApiError::invalid("A membership is bought one at a time"));
        }
        create_order(
            app,
            user,
            Item::Subscription(&plan),
            &request.pay_type,
            YIPAY,
        )
        .await?
    } else {
        let Some(plan) = app.db.plan(&product_id).await? else {
            return Err(ApiError::invalid("The product does not exist"));
        };
        let item = Item::Plan {
            plan: &plan,
            quantity: request.quantity,
        };
        create_order(app, user, item, &request.pay_type, YIPAY).await?
    };
    let order = order.map_err(ApiError::invalid)?;
    Ok(shop_ok(
        json!({ "order_id": order.trade_no, "pay_url": order.payment_url() }),
        "",
    ))
}
