//! `POST /api/user/pay` with `{"amount", "payment_method"}`: prices the top-up, records a
//! pending order and answers the signed form to post to the EPay gateway (`data`) and its
//! address (`url`), as new-api does. [`create_order`] is shared with every EPay-compatible
//! route (seed 001's YiPay orders, seed 004's precreate): the same settings, the same order.

use super::pay_error;
use super::settings::PaymentSettings;
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::routes::topup::pricing::{Quote, quote};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewTopUp, PlanRow, SubscriptionPlanRow, UserRow, now_secs};
use pylon_shared::payment::epay;
use pylon_shared::payment::money::Cents;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// The currency EPay gateways charge in.
pub const EPAY_CURRENCY: &str = "CNY";

/// An EPay-compatible gateway: its provider name on the orders and the path it notifies.
#[derive(Debug, Clone, Copy)]
pub struct EpayDialect {
    pub provider: &'static str,
    pub notify_path: &'static str,
}

/// new-api's EPay.
pub const EPAY: EpayDialect = EpayDialect {
    provider: "epay",
    notify_path: "/api/user/epay/notify",
};

/// Seed 001's YiPay: an EPay-compatible gateway with the same settings.
pub const YIPAY: EpayDialect = EpayDialect {
    provider: "yipay",
    notify_path: "/api/payment/yipay/notify",
};

impl EpayOrder {
    /// The gateway's address with the signed order in its query string: what a browser opens
    /// to pay (EPay gateways take the order by GET as by POST).
    pub fn payment_url(&self) -> String {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter())
            .finish();
        format!("{}?{query}", self.url)
    }
}

/// The most of one plan an order may buy.
const MAX_QUANTITY: i64 = 100;

/// What an order buys: units of quota priced by the top-up settings (new-api's top-up), or a
/// quantity of a plan at the plan's price (seed 004's products).
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Units(i64),
    Plan {
        plan: &'a PlanRow,
        quantity: i64,
    },
    /// One subscription of a plan (new-api's `/api/subscription/epay/pay`).
    Subscription(&'a SubscriptionPlanRow),
}

/// An order's content once priced.
struct Priced {
    amount: i64,
    quota: i64,
    money: Cents,
    plan_id: i64,
    subscription_plan_id: i64,
    name: String,
}

/// A created order: the signed form to post to the gateway and where.
pub struct EpayOrder {
    pub trade_no: String,
    pub params: BTreeMap<String, String>,
    pub url: String,
}

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
    let order = match create_order(
        &app,
        &user,
        Item::Units(request.amount),
        &request.payment_method,
        EPAY,
    )
    .await?
    {
        Ok(order) => order,
        Err(reason) => return Ok(pay_error(reason)),
    };
    // new-api puts the gateway's address next to `data`.
    Ok(Json(
        json!({ "success": true, "message": "success", "data": order.params, "url": order.url }),
    )
    .into_response())
}

/// Prices `item` for `user`, records the pending order and signs the gateway's form;
/// `Ok(Err(reason))` when the request or the configuration does not allow it (nothing stored).
pub async fn create_order(
    app: &App,
    user: &UserRow,
    item: Item<'_>,
    payment_method: &str,
    dialect: EpayDialect,
) -> Result<Result<EpayOrder, String>, ApiError> {
    let settings = PaymentSettings::load(app).await?;
    let priced = match price(&settings, user, item) {
        Ok(priced) => priced,
        Err(reason) => return Ok(Err(reason)),
    };
    if !settings.has_pay_method(payment_method) {
        return Ok(Err("The payment method does not exist".into()));
    }
    if !settings.epay_enabled() {
        return Ok(Err("The administrator has not configured payment".into()));
    }
    if settings.callback_address.is_empty() {
        return Ok(Err(
            "The administrator has not set ServerAddress, the address the gateway calls back"
                .into(),
        ));
    }
    let trade_no = format!("USR{}NO{}{}", user.id, random_alphanumeric(6), now_secs());
    let notify_url = format!("{}{}", settings.callback_address, dialect.notify_path);
    let return_url = format!("{}/console/topup", settings.server_address);
    let money_text = priced.money.to_decimal_string();
    let params = epay::purchase_params(
        &epay::Purchase {
            merchant_id: &settings.epay_id,
            payment_type: payment_method,
            trade_no: &trade_no,
            name: &priced.name,
            money: &money_text,
            notify_url: &notify_url,
            return_url: &return_url,
        },
        &settings.epay_key,
    );
    app.db
        .create_top_up(&NewTopUp {
            user_id: user.id,
            amount: priced.amount,
            quota: priced.quota,
            money_cents: priced.money.0,
            currency: EPAY_CURRENCY,
            trade_no: &trade_no,
            payment_method,
            payment_provider: dialect.provider,
            plan_id: priced.plan_id,
            subscription_plan_id: priced.subscription_plan_id,
        })
        .await?;
    tracing::info!(user = user.id, %trade_no, amount = priced.amount, plan = priced.plan_id, money = %money_text, provider = dialect.provider, "epay order created");
    Ok(Ok(EpayOrder {
        trade_no,
        params,
        url: format!("{}{}", settings.pay_address, epay::SUBMIT_PATH),
    }))
}

/// The quota and the money of `item`; the error is the reason to show the user.
fn price(settings: &PaymentSettings, user: &UserRow, item: Item<'_>) -> Result<Priced, String> {
    match item {
        Item::Units(amount) => {
            let Quote { quota, money } = quote(
                settings,
                amount,
                &user.group,
                settings.price,
                settings.min_topup,
            )?;
            Ok(Priced {
                amount,
                quota,
                money,
                plan_id: 0,
                subscription_plan_id: 0,
                name: format!("TUC{amount}"),
            })
        }
        Item::Plan { plan, quantity } => {
            if plan.enabled != 1 {
                return Err("The product does not exist".into());
            }
            if !(1..=MAX_QUANTITY).contains(&quantity) {
                return Err(format!("The quantity must be between 1 and {MAX_QUANTITY}"));
            }
            if plan.currency != EPAY_CURRENCY {
                return Err(format!(
                    "This payment channel charges in {EPAY_CURRENCY} only"
                ));
            }
            let (Some(quota), Some(money)) = (
                plan.quota.checked_mul(quantity),
                plan.price_cents.checked_mul(quantity),
            ) else {
                return Err("The quantity is too large".into());
            };
            if money <= 0 {
                return Err("The product has no price".into());
            }
            Ok(Priced {
                amount: quantity,
                quota,
                money: Cents(money),
                plan_id: plan.id,
                subscription_plan_id: 0,
                name: plan.name.clone(),
            })
        }
        Item::Subscription(plan) => {
            // new-api charges the plan's price as it is, whatever its currency.
            if plan.enabled != 1 {
                return Err("The subscription plan does not exist".into());
            }
            if plan.price_cents <= 0 {
                return Err("The subscription plan has no price".into());
            }
            Ok(Priced {
                amount: 0,
                quota: 0,
                money: Cents(plan.price_cents),
                plan_id: 0,
                subscription_plan_id: plan.id,
                name: format!("SUB:{}", plan.title),
            })
        }
    }
}
