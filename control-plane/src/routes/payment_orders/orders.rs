//! The caller's top-up orders: `POST /api/user/payment/orders` with `{"amount", "method",
//! "channel_id"}` (the amount in units, a number or its text; the channel optional) creates a
//! pending YiPay order (priced as new-api prices an EPay top-up) and answers it with
//! `payment_url`, the gateway's address with the signed order;
//! `GET /api/user/payment/orders` pages through the caller's orders, newest first;
//! `GET /api/user/payment/orders/:order_no` shows one of them.

use super::order_view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::pagination::{Page, PageQuery};
use crate::routes::payment::epay_pay::{Item, YIPAY, create_order};
use crate::routes::topup::list::expire_stale;
use axum::extract::{Path, Query, State};
use pylon_shared::db::TopUpFilter;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct CreateOrder {
    /// Units, as a number or its text (Veloce sends text).
    #[serde(default)]
    amount: Value,
    #[serde(default, alias = "payment_method")]
    method: String,
    #[serde(default)]
    channel_id: String,
}

pub async fn create(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<CreateOrder>,
) -> ApiResult {
    let amount = match &request.amount {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let Some(amount) = amount else {
        return Err(ApiError::invalid(
            "The amount must be a whole number of units",
        ));
    };
    if !request.channel_id.is_empty() && request.channel_id != YIPAY.provider {
        return Err(ApiError::invalid("The payment channel does not exist"));
    }
    let order = create_order(&app, &user, Item::Units(amount), &request.method, YIPAY)
        .await?
        .map_err(ApiError::invalid)?;
    let row = app
        .db
        .top_up_by_trade_no(&order.trade_no)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("created order not found")))?;
    let mut view = order_view(&row);
    view["payment_url"] = order.payment_url().into();
    Ok(envelope::ok(view))
}

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(page): Query<PageQuery>,
) -> ApiResult {
    expire_stale(&app).await?;
    let page = Page::from_query(&page);
    let filter = TopUpFilter {
        user_id: Some(user.id),
        keyword: "",
        since: None,
        plans_only: false,
    };
    let (rows, total) = app
        .db
        .top_ups_page(filter, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(
        page.body(rows.iter().map(order_view).collect(), total),
    ))
}

pub async fn one(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Path(order_no): Path<String>,
) -> ApiResult {
    expire_stale(&app).await?;
    match app.db.top_up_by_trade_no(&order_no).await? {
        Some(order) if order.user_id == user.id => Ok(envelope::ok(order_view(&order))),
        _ => Err(ApiError::invalid("Order not found")),
    }
}
