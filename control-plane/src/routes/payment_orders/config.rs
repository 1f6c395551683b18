//! `GET /api/user/payment/config`, in the seed's (Veloce's) fields: whether paying is
//! possible, the currency shown, the exchange rate (`Price`, CNY per unit), the minimum and
//! preset amounts (units, as exact decimal strings), the methods and the channels offering
//! them. A channel's id is what `POST /api/user/payment/orders` takes as `channel_id`.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::payment::epay_pay::YIPAY;
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::State;
use serde_json::json;

pub async fn config(State(app): State<AppState>, _: AuthUser) -> ApiResult {
    let settings = PaymentSettings::load(&app).await?;
    let enabled = settings.epay_enabled();
    let methods: Vec<&str> = if enabled {
        settings
            .pay_methods
            .iter()
            .filter_map(|m| m.get("type").map(String::as_str))
            .collect()
    } else {
        Vec::new()
    };
    let channels = if enabled {
        let name = match settings.epay_channel_name.as_str() {
            "" => "易支付",
            name => name,
        };
        json!([{ "id": YIPAY.provider, "name": name, "provider": YIPAY.provider, "methods": methods }])
    } else {
        json!([])
    };
    let presets: Vec<String> = settings
        .amount_options
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(envelope::ok(json!({
        "enabled": enabled,
        "currency_display_name": "$",
        "usd_to_rmb_rate": settings.price.to_string(),
        "min_recharge_amount": settings.min_topup.to_string(),
        "recharge_presets": presets,
        "methods": methods,
        "channels": channels,
    })))
}
