//! `POST /api/user/stripe/pay` with `{"amount", "payment_method": "stripe", "success_url",
//! "cancel_url"}`: records a pending order and creates a Stripe Checkout Session for it
//! through Stripe's API (secret key); answers the session's address as `data.pay_link`.
//! Redirect addresses are kept only when they are on this site (`ServerAddress`), so the
//! payment page cannot send the user elsewhere. `POST /api/user/stripe/amount` prices an
//! amount at `StripeUnitPrice`.

use super::settings::PaymentSettings;
use super::{pay_error, pay_ok};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::routes::topup::amount::priced_amount;
use crate::routes::topup::pricing::quote;
use axum::extract::State;
use bytes::Bytes;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewTopUp, UserRow, now_secs};
use pylon_shared::payment::stripe::{CheckoutSession, checkout_session_form};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct PayRequest {
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    success_url: String,
    #[serde(default)]
    cancel_url: String,
}

pub async fn amount(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    priced_amount(&app, &user.group, &body, |s| {
        (s.stripe_unit_price, s.stripe_min_topup)
    })
    .await
}

pub async fn pay(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    let Ok(request) = serde_json::from_slice::<PayRequest>(&body) else {
        return Ok(pay_error("Invalid parameters"));
    };
    if request.payment_method != "stripe" {
        return Ok(pay_error("Unsupported payment method"));
    }
    let settings = PaymentSettings::load(&app).await?;
    if !settings.stripe_enabled() {
        return Ok(pay_error("The administrator has not configured Stripe"));
    }
    let quote = match quote(
        &settings,
        request.amount,
        &user.group,
        settings.stripe_unit_price,
        settings.stripe_min_topup,
    ) {
        Ok(quote) => quote,
        Err(reason) => return Ok(pay_error(reason)),
    };
    let trade_no = format!("ref_{}{}", random_alphanumeric(16), now_secs());
    let order = NewTopUp {
        user_id: user.id,
        amount: request.amount,
        quota: quote.quota,
        money_cents: quote.money.0,
        currency: &settings.stripe_currency,
        trade_no: &trade_no,
        payment_method: "stripe",
        payment_provider: "stripe",
        plan_id: 0,
        subscription_plan_id: 0,
    };
    let redirects = Redirects {
        success_url: &request.success_url,
        cancel_url: &request.cancel_url,
    };
    checkout(
        &app,
        &settings,
        &user,
        &order,
        &settings.stripe_price_id,
        redirects,
    )
    .await
}

/// Where Stripe sends the browser back (kept only when on this site).
pub struct Redirects<'a> {
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// Records the pending `order` and creates a Checkout Session for `order.amount` of
/// `price_id` (one for a subscription), with the order number as the session's reference;
/// answers the payment link in new-api's shape.
pub async fn checkout(
    app: &App,
    settings: &PaymentSettings,
    user: &UserRow,
    order: &NewTopUp<'_>,
    price_id: &str,
    redirects: Redirects<'_>,
) -> ApiResult {
    let on_site = |url: &str, fallback: &str| {
        let site = &settings.server_address;
        if !site.is_empty() && (url == site || url.starts_with(&format!("{site}/"))) {
            url.to_string()
        } else {
            format!("{site}{fallback}")
        }
    };
    let success_url = on_site(redirects.success_url, "/console/log");
    let cancel_url = on_site(redirects.cancel_url, "/console/topup");
    app.db.create_top_up(order).await?;
    let trade_no = order.trade_no;
    let form = checkout_session_form(&CheckoutSession {
        reference_id: trade_no,
        price_id,
        quantity: order.amount.max(1),
        success_url: &success_url,
        cancel_url: &cancel_url,
        customer: Some(user.stripe_customer.as_str()),
        customer_email: Some(user.email.as_str()),
        allow_promotion_codes: settings.stripe_promotion_codes,
    });
    match create_session(settings, &form).await {
        Ok(link) => {
            tracing::info!(user = user.id, %trade_no, amount = order.amount, subscription_plan = order.subscription_plan_id, "stripe checkout created");
            Ok(pay_ok(json!({ "pay_link": link })))
        }
        Err(reason) => {
            tracing::warn!(user = user.id, %trade_no, %reason, "stripe checkout failed");
            Ok(pay_error("Failed to start the payment"))
        }
    }
}

/// Creates the Checkout Session; answers its `url`.
async fn create_session(
    settings: &PaymentSettings,
    form: &[(String, String)],
) -> Result<String, String> {
    let client = super::http::client().map_err(|_| "no HTTP client".to_string())?;
    let answer = client
        .post(format!("{}/v1/checkout/sessions", settings.stripe_api_base))
        .bearer_auth(&settings.stripe_api_secret)
        .form(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let body: Value = answer.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "Stripe answered {status}: {}",
            body["error"]["message"].as_str().unwrap_or("")
        ));
    }
    body["url"]
        .as_str()
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "Stripe answered no url".to_string())
}
