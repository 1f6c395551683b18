//! The caller's top-up orders: `POST /api/user/payment/orders` with `{"amount",
//! "payment_method"}` creates a pending YiPay order (priced as new-api prices an EPay top-up)
//! and answers it with the signed form to post to the gateway (`pay_url`, `pay_params`);
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

#[derive(Deserialize)]
pub struct CreateOrder {
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    payment_method: String,
}

pub async fn create(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<CreateOrder>,
) -> ApiResult {
    let item = Item::Units(request.amount);
    let order = create_order(&app, &user, item, &request.payment_method, YIPAY)
        .await?
        .map_err(ApiError::invalid)?;
    let row = app
        .db
        .top_up_by_trade_no(&order.trade_no)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("created order not found")))?;
    let mut view = order_view(&row);
    view["pay_url"] = order.url.into();
    view["pay_params"] = serde_json::to_value(&order.params).unwrap_or_default();
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
