//! `POST /api/user/creem/pay` with `{"product_id", "payment_method": "creem"}`: records a
//! pending order for one of the products on sale (`CreemProducts`: its price and quota are
//! fixed on the order) and creates a checkout for it through Creem's API (`x-api-key`), with
//! the order number as the checkout's `request_id`; answers `data.checkout_url` and
//! `data.order_id`, as new-api does.

use super::settings::PaymentSettings;
use super::{pay_error, pay_ok};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use axum::extract::State;
use bytes::Bytes;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewTopUp, UserRow};
use pylon_shared::payment::creem::{CHECKOUTS_PATH, Product};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct PayRequest {
    #[serde(default)]
    product_id: String,
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
    if request.payment_method != "creem" {
        return Ok(pay_error("Unsupported payment method"));
    }
    if request.product_id.trim().is_empty() {
        return Ok(pay_error("Please choose a product"));
    }
    let settings = PaymentSettings::load(&app).await?;
    if !settings.creem_enabled() {
        return Ok(pay_error("The administrator has not configured Creem"));
    }
    let Some(product) = settings
        .creem_products
        .iter()
        .find(|p| p.product_id == request.product_id.trim())
    else {
        return Ok(pay_error("The product does not exist"));
    };
    let trade_no = format!("ref_{}", random_alphanumeric(32));
    let order = NewTopUp {
        user_id: user.id,
        // new-api records the product's quota as the order's amount.
        amount: product.quota,
        quota: product.quota,
        money_cents: product.price.0,
        currency: &product.currency,
        trade_no: &trade_no,
        payment_method: "creem",
        payment_provider: "creem",
        plan_id: 0,
        subscription_plan_id: 0,
    };
    let metadata = json!({
        "username": user.username,
        "reference_id": trade_no,
        "product_name": product.name,
        "quota": product.quota.to_string(),
    });
    checkout(
        &app,
        &settings,
        &user,
        &order,
        &product.product_id,
        metadata,
    )
    .await
}

/// Records the pending `order` and creates a Creem checkout of `product_id` for it (the order
/// number as the checkout's `request_id`); answers new-api's `checkout_url` and `order_id`.
pub async fn checkout(
    app: &App,
    settings: &PaymentSettings,
    user: &UserRow,
    order: &NewTopUp<'_>,
    product_id: &str,
    metadata: Value,
) -> ApiResult {
    app.db.create_top_up(order).await?;
    let trade_no = order.trade_no;
    let checkout = json!({
        "product_id": product_id,
        "request_id": trade_no,
        "customer": { "email": user.email },
        "metadata": metadata,
    });
    match create_checkout(settings, &checkout).await {
        Ok(url) => {
            tracing::info!(user = user.id, %trade_no, product = %product_id, "creem checkout created");
            Ok(pay_ok(json!({ "checkout_url": url, "order_id": trade_no })))
        }
        Err(reason) => {
            tracing::warn!(user = user.id, %trade_no, %reason, "creem checkout failed");
            Ok(pay_error("Failed to start the payment"))
        }
    }
}

/// Creates the checkout; answers its `checkout_url`.
async fn create_checkout(settings: &PaymentSettings, checkout: &Value) -> Result<String, String> {
    let client = super::http::client().map_err(|_| "no HTTP client".to_string())?;
    let answer = client
        .post(format!("{}{CHECKOUTS_PATH}", settings.creem_api_base))
        .header("x-api-key", &settings.creem_api_key)
        .json(checkout)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("Creem answered {status}"));
    }
    let body: Value = answer.json().await.map_err(|e| e.to_string())?;
    body["checkout_url"]
        .as_str()
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "Creem answered no checkout_url".to_string())
}

/// What the top-up page lists of a product (never the API key).
pub fn product_view(product: &Product) -> Value {
    json!({
        "productId": product.product_id,
        "name": product.name,
        "price": product.price.to_decimal_string(),
        "currency": product.currency,
        "quota": product.quota,
    })
}
