//! `POST /api/user/pay` with `{"amount", "payment_method"}`: prices the top-up, records a
//! pending order and answers the signed form to post to the EPay gateway (`data`) and its
//! address (`url`), as new-api does.

use super::pay_error;
use super::settings::PaymentSettings;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::routes::topup::pricing::{Quote, quote};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewTopUp, now_secs};
use pylon_shared::payment::epay;
use serde::Deserialize;
use serde_json::json;

/// The currency EPay gateways charge in.
pub const EPAY_CURRENCY: &str = "CNY";

#[derive(Deserialize)]
struct PayRequest {
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    payment_method: String,
}

pub async fn pay(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    let Ok(request) = serde_json::from_slice::<PayRequest>(&body) else {
        return Ok(pay_error("Invalid parameters"));
    };
    let settings = PaymentSettings::load(&app).await?;
    let Quote { quota, money } = match quote(
        &settings,
        request.amount,
        &user.group,
        settings.price,
        settings.min_topup,
    ) {
        Ok(quote) => quote,
        Err(reason) => return Ok(pay_error(reason)),
    };
    if !settings.has_pay_method(&request.payment_method) {
        return Ok(pay_error("The payment method does not exist"));
    }
    if !settings.epay_enabled() {
        return Ok(pay_error("The administrator has not configured payment"));
    }
    if settings.callback_address.is_empty() {
        return Ok(pay_error(
            "The administrator has not set ServerAddress, the address the gateway calls back",
        ));
    }
    let trade_no = format!("USR{}NO{}{}", user.id, random_alphanumeric(6), now_secs());
    let notify_url = format!("{}/api/user/epay/notify", settings.callback_address);
    let return_url = format!("{}/console/topup", settings.server_address);
    let money_text = money.to_decimal_string();
    let name = format!("TUC{}", request.amount);
    let params = epay::purchase_params(
        &epay::Purchase {
            merchant_id: &settings.epay_id,
            payment_type: &request.payment_method,
            trade_no: &trade_no,
            name: &name,
            money: &money_text,
            notify_url: &notify_url,
            return_url: &return_url,
        },
        &settings.epay_key,
    );
    app.db
        .create_top_up(&NewTopUp {
            user_id: user.id,
            amount: request.amount,
            quota,
            money_cents: money.0,
            currency: EPAY_CURRENCY,
            trade_no: &trade_no,
            payment_method: &request.payment_method,
            payment_provider: "epay",
            plan_id: 0,
        })
        .await?;
    tracing::info!(user = user.id, %trade_no, amount = request.amount, money = %money_text, "epay order created");
    // new-api puts the gateway's address next to `data`.
    let url = format!("{}{}", settings.pay_address, epay::SUBMIT_PATH);
    Ok(
        Json(json!({ "success": true, "message": "success", "data": params, "url": url }))
            .into_response(),
    )
}
