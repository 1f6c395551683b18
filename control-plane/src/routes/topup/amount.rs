//! `POST /api/user/amount` with `{"amount"}`: what topping up `amount` units through EPay
//! costs the caller, as new-api answers it (`data`: the price with two decimals).

use super::pricing::quote;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::routes::payment::settings::PaymentSettings;
use crate::routes::payment::{pay_error, pay_ok};
use axum::extract::State;
use bytes::Bytes;
use pylon_shared::payment::money::Decimal6;
use serde::Deserialize;

#[derive(Deserialize)]
struct AmountRequest {
    #[serde(default)]
    amount: i64,
}

pub async fn amount(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    priced_amount(&app, &user.group, &body, |s| (s.price, s.min_topup)).await
}

/// Answers what topping up the body's `amount` costs, at the unit price and minimum that
/// `rate` picks from the payment settings (EPay's here, Stripe's for `/api/user/stripe/amount`).
pub(crate) async fn priced_amount(
    app: &AppState,
    group: &str,
    body: &[u8],
    rate: fn(&PaymentSettings) -> (Decimal6, i64),
) -> ApiResult {
    let Ok(request) = serde_json::from_slice::<AmountRequest>(body) else {
        return Ok(pay_error("Invalid parameters"));
    };
    let settings = PaymentSettings::load(app).await?;
    let (unit_price, min_topup) = rate(&settings);
    Ok(
        match quote(&settings, request.amount, group, unit_price, min_topup) {
            Ok(quote) => pay_ok(quote.money.to_decimal_string()),
            Err(reason) => pay_error(reason),
        },
    )
}
