//! `POST /api/orders/create` with `{"planId", "paymentMethod"}`: a pending order for a plan on
//! sale, paid through WeChat Pay (`wxpay`), in the plan's price and currency (WeChat Pay
//! charges CNY only).

use super::view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::NewTopUp;
use serde::Deserialize;
use serde_json::Value;

/// The payment methods of a plan order: WeChat Pay Native.
const WECHAT_METHODS: [&str; 2] = ["wxpay", "wechat"];

#[derive(Deserialize)]
pub struct CreateRequest {
    #[serde(default, rename = "planId", alias = "plan_id")]
    plan_id: Value,
    #[serde(default, rename = "paymentMethod", alias = "payment_method")]
    payment_method: String,
}

pub async fn create(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let plan_id = match &request.plan_id {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if plan_id.is_empty() {
        return Err(ApiError::invalid("Please choose a plan (planId)"));
    }
    if !WECHAT_METHODS.contains(&request.payment_method.as_str()) {
        return Err(ApiError::invalid(
            "Unsupported payment method: plans are paid with wxpay",
        ));
    }
    let settings = PaymentSettings::load(&app).await?;
    if !settings.wechat.enabled() {
        return Err(ApiError::invalid(
            "The administrator has not configured WeChat Pay",
        ));
    }
    let plan = match app.db.plan(&plan_id).await? {
        Some(plan) if plan.enabled == 1 => plan,
        _ => return Err(ApiError::invalid("The plan does not exist")),
    };
    if plan.currency != "CNY" {
        return Err(ApiError::invalid("WeChat Pay charges in CNY only"));
    }
    // WeChat Pay's out_trade_no: 6 to 32 letters, digits, '_', '-', '|' or '*'.
    let trade_no = format!("ord_{}", random_alphanumeric(24));
    app.db
        .create_top_up(&NewTopUp {
            user_id: user.id,
            amount: 1,
            quota: plan.quota,
            money_cents: plan.price_cents,
            currency: &plan.currency,
            trade_no: &trade_no,
            payment_method: "wxpay",
            payment_provider: "wechat",
            plan_id: plan.id,
            subscription_plan_id: 0,
        })
        .await?;
    tracing::info!(user = user.id, %trade_no, plan = %plan.code, "plan order created");
    let order = app
        .db
        .top_up_by_trade_no(&trade_no)
        .await?
        .ok_or_else(|| ApiError::invalid("The order was not recorded"))?;
    Ok(envelope::ok(view(&order, settings.order_expire_secs)))
}
