//! `GET /api/user/topup/info`: what the top-up page shows, in new-api's fields: which ways to
//! pay are on, the EPay methods (and Stripe and Waffo when configured), Waffo's methods, minimum amounts, the preset
//! amounts and their discounts.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::payment::product_view;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn info(State(app): State<AppState>, _: AuthUser) -> ApiResult {
    let settings = PaymentSettings::load(&app).await?;
    let mut pay_methods: Vec<Value> = if settings.epay_enabled() {
        settings.pay_methods.iter().map(|m| json!(m)).collect()
    } else {
        Vec::new()
    };
    if settings.stripe_enabled() && !settings.has_pay_method("stripe") {
        pay_methods.push(json!({
            "name": "Stripe",
            "type": "stripe",
            "color": "#635BFF",
            "min_topup": settings.stripe_min_topup.to_string(),
        }));
    }
    let waffo = &settings.waffo;
    if waffo.enabled() && !settings.has_pay_method("waffo") {
        pay_methods.push(json!({
            "name": "Waffo (Global Payment)",
            "type": "waffo",
            "color": "rgba(var(--semi-blue-5), 1)",
            "min_topup": waffo.min_topup.to_string(),
        }));
    }
    // Discounts as numbers, read from their exact text.
    let discount: serde_json::Map<String, Value> = settings
        .amount_discount
        .iter()
        .filter_map(|(amount, d)| {
            serde_json::from_str::<Value>(&d.to_string())
                .ok()
                .map(|v| (amount.to_string(), v))
        })
        .collect();
    let creem_products: Vec<Value> = if settings.creem_enabled() {
        settings.creem_products.iter().map(product_view).collect()
    } else {
        Vec::new()
    };
    let topup_link = app.db.option("TopUpLink").await?.unwrap_or_default();
    Ok(envelope::ok(json!({
        "enable_online_topup": settings.epay_enabled(),
        "enable_stripe_topup": settings.stripe_enabled(),
        "enable_creem_topup": settings.creem_enabled(),
        "enable_waffo_topup": waffo.enabled(),
        "waffo_pay_methods": waffo.enabled().then_some(&waffo.pay_methods),
        "waffo_min_topup": waffo.min_topup,
        "enable_redemption": true,
        "pay_methods": pay_methods,
        "min_topup": settings.min_topup,
        "stripe_min_topup": settings.stripe_min_topup,
        "amount_options": settings.amount_options,
        "discount": discount,
        // new-api passes its option on as a string of JSON.
        "creem_products": Value::from(creem_products).to_string(),
        "topup_link": topup_link,
    })))
}
