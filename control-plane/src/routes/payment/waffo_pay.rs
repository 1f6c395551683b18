//! `POST /api/user/waffo/pay` with `{"amount", "pay_method_index"}` (or new-api's older
//! `pay_method_type` and `pay_method_name`, which must name a configured method): records a
//! pending order for `amount` units priced at `WaffoUnitPrice` (the group's top-up ratio and
//! the amount's discount applied, as for the other gateways) and creates it at Waffo
//! (`POST /order/create`, the body signed with the merchant's key); answers
//! `data.payment_url` and `data.order_id`, as new-api does. `POST /api/user/waffo/amount`
//! answers what an amount costs.
//!
//! The order number is also Waffo's `paymentRequestId` (its idempotency key) and
//! `merchantOrderId`, which the notification names.

use super::settings::{PaymentSettings, WaffoSettings};
use super::{pay_error, pay_ok};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::routes::topup::pricing::{Quote, quote};
use axum::extract::State;
use bytes::Bytes;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::NewTopUp;
use pylon_shared::payment::money::Cents;
use pylon_shared::payment::waffo::{self, CreateOrder, MerchantInfo, PaymentInfo, UserInfo};
use serde::Deserialize;
use serde_json::{Value, json};

/// The order's `payment_method` and `payment_provider`.
pub const PROVIDER: &str = "waffo";

#[derive(Deserialize)]
struct PayRequest {
    #[serde(default)]
    amount: i64,
    /// An index into `WaffoPayMethods`; absent: Waffo's checkout lets the payer choose.
    #[serde(default)]
    pay_method_index: Option<i64>,
    /// new-api's older fields, accepted only as a pair that is configured.
    #[serde(default)]
    pay_method_type: String,
    #[serde(default)]
    pay_method_name: String,
}

pub async fn amount(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    let Ok(request) = serde_json::from_slice::<PayRequest>(&body) else {
        return Ok(pay_error("Invalid parameters"));
    };
    let settings = PaymentSettings::load(&app).await?;
    Ok(match price(&settings, request.amount, &user.group) {
        Ok((_, charge)) => pay_ok(charge.to_decimal_string()),
        Err(reason) => pay_error(reason),
    })
}

pub async fn pay(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    let settings = PaymentSettings::load(&app).await?;
    let config = &settings.waffo;
    if !config.enabled() {
        return Ok(pay_error("Waffo payment is not enabled"));
    }
    let Ok(request) = serde_json::from_slice::<PayRequest>(&body) else {
        return Ok(pay_error("Invalid parameters"));
    };
    let Some(method) = pay_method(config, &request) else {
        return Ok(pay_error("This Waffo payment method is not supported"));
    };
    let (quote, charge) = match price(&settings, request.amount, &user.group) {
        Ok(priced) => priced,
        Err(reason) => return Ok(pay_error(reason)),
    };
    if config.notify_url.is_empty() {
        return Ok(pay_error(
            "The administrator has not set ServerAddress, the address Waffo notifies",
        ));
    }
    // Keys that do not read are a configuration error: no order is recorded for them.
    let (Ok(merchant_key), Ok(waffo_key)) = (
        waffo::private_key(&config.private_key),
        waffo::public_key(&config.public_key),
    ) else {
        tracing::error!("waffo keys do not read; check WaffoPrivateKey and WaffoPublicCert");
        return Ok(pay_error("Waffo payment is misconfigured"));
    };
    let trade_no = format!(
        "WAFFO-{}-{}-{}",
        user.id,
        chrono::Utc::now().timestamp_millis(),
        random_alphanumeric(8)
    );
    app.db
        .create_top_up(&NewTopUp {
            user_id: user.id,
            amount: request.amount,
            quota: quote.quota,
            money_cents: charge.0,
            currency: &config.currency,
            trade_no: &trade_no,
            payment_method: PROVIDER,
            payment_provider: PROVIDER,
            plan_id: 0,
            subscription_plan_id: 0,
        })
        .await?;
    let order = CreateOrder {
        payment_request_id: &trade_no,
        merchant_order_id: &trade_no,
        order_currency: &config.currency,
        order_amount: waffo::format_amount(charge, &config.currency),
        order_description: format!("Recharge {} credits", request.amount),
        order_requested_at: chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
        success_redirect_url: &config.return_url,
        failed_redirect_url: &config.return_url,
        notify_url: &config.notify_url,
        merchant_info: MerchantInfo {
            merchant_id: &config.merchant_id,
        },
        user_info: UserInfo {
            user_id: user.id.to_string(),
            // new-api sends a placeholder, not the user's address.
            user_email: format!("{}@examples.com", user.id),
            user_terminal: "WEB",
        },
        payment_info: PaymentInfo {
            product_name: waffo::ONE_TIME_PAYMENT,
            pay_method_type: method.map_or("", |m| m.pay_method_type.as_str()),
            pay_method_name: method.map_or("", |m| m.pay_method_name.as_str()),
        },
    };
    match create_order(config, &order, &merchant_key, &waffo_key).await {
        Ok(payment_url) => {
            tracing::info!(user = user.id, %trade_no, amount = request.amount, money = %charge, currency = %config.currency, "waffo order created");
            Ok(pay_ok(
                json!({ "payment_url": payment_url, "order_id": trade_no }),
            ))
        }
        Err(reason) => {
            tracing::warn!(user = user.id, %trade_no, %reason, "waffo order failed");
            Ok(pay_error("Failed to start the payment"))
        }
    }
}

/// The quote of `amount` units at Waffo's price, and what is charged for it in the
/// configured currency; the error is the reason to show the user.
fn price(settings: &PaymentSettings, amount: i64, group: &str) -> Result<(Quote, Cents), String> {
    let config = &settings.waffo;
    let quote = quote(settings, amount, group, config.unit_price, config.min_topup)?;
    let charge = waffo::charge(quote.money, &config.currency);
    if charge.0 < 1 {
        return Err("The payment amount is too low".into());
    }
    Ok((quote, charge))
}

/// The configured method the request names: `Some(None)` when it names none (the checkout
/// chooses), `None` when it names one that is not configured.
fn pay_method<'a>(
    config: &'a WaffoSettings,
    request: &PayRequest,
) -> Option<Option<&'a waffo::PayMethod>> {
    if let Some(index) = request.pay_method_index {
        let index = usize::try_from(index).ok()?;
        return config.pay_methods.get(index).map(Some);
    }
    if request.pay_method_type.is_empty() {
        return Some(None);
    }
    config
        .pay_methods
        .iter()
        .find(|m| {
            m.pay_method_type == request.pay_method_type
                && m.pay_method_name == request.pay_method_name
        })
        .map(Some)
}

/// Creates the order at Waffo; answers the address the payer is sent to.
async fn create_order(
    config: &WaffoSettings,
    order: &CreateOrder<'_>,
    merchant_key: &waffo::rsa::RsaPrivateKey,
    waffo_key: &waffo::rsa::RsaPublicKey,
) -> Result<String, String> {
    let body = serde_json::to_vec(order).map_err(|e| e.to_string())?;
    let signature = waffo::sign(merchant_key, &body).map_err(|e| e.to_string())?;
    let client = super::http::client().map_err(|_| "no HTTP client".to_string())?;
    let answer = client
        .post(format!("{}{}", config.api_base, waffo::CREATE_ORDER_PATH))
        .header("Content-Type", "application/json")
        .header(waffo::HEADER_API_KEY, &config.api_key)
        .header(waffo::HEADER_SIGNATURE, signature)
        .header(waffo::HEADER_API_VERSION, waffo::API_VERSION)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let signature = answer
        .headers()
        .get(waffo::HEADER_SIGNATURE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = answer.bytes().await.map_err(|e| e.to_string())?;
    // As Waffo's SDK: a signed answer must verify; an answer it did not sign is read as is.
    if !signature.is_empty() && waffo::verify(waffo_key, &text, &signature).is_err() {
        return Err("the answer's signature does not verify".into());
    }
    if !status.is_success() {
        return Err(format!("Waffo answered {status}"));
    }
    let body: Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let code = body["code"].as_str().unwrap_or("");
    if code != waffo::CODE_SUCCESS {
        return Err(format!(
            "Waffo answered code {code:?}: {}",
            body["msg"].as_str().unwrap_or("")
        ));
    }
    let action = body["data"]["orderAction"].as_str().unwrap_or("");
    let url = waffo::redirect_url(action).unwrap_or_else(|| action.to_string());
    if url.is_empty() {
        return Err("Waffo answered no orderAction".into());
    }
    Ok(url)
}
