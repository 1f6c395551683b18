//! `GET /api/user/payment/config`: whether paying is possible, through which gateways and
//! methods, and the prices (exact decimal strings) that orders are computed with.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::payment::epay_pay::{EPAY_CURRENCY, YIPAY};
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use serde_json::{Map, Value, json};

pub async fn config(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let settings = PaymentSettings::load(&app).await?;
    let enabled = settings.epay_enabled();
    let discounts: Map<String, Value> = settings
        .amount_discount
        .iter()
        .map(|(amount, discount)| (amount.to_string(), json!(discount.to_string())))
        .collect();
    Ok(envelope::ok(json!({
        "enabled": enabled,
        "providers": [{
            "provider": YIPAY.provider,
            "enabled": enabled,
            "methods": settings.pay_methods,
        }],
        "currency": EPAY_CURRENCY,
        "price": settings.price.to_string(),
        "group_ratio": settings.group_ratio(&user.group).to_string(),
        "min_topup": settings.min_topup,
        "amount_options": settings.amount_options,
        "amount_discount": discounts,
        "quota_per_unit": settings.quota_per_unit,
    })))
}
