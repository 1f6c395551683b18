//! Buying a subscription: `POST /api/subscription/balance/pay` with `{"plan_id"}` pays with the
//! wallet (one ledger transaction: the debit, the paid order and the subscription);
//! `POST /api/subscription/epay/pay` with `{"plan_id", "payment_method"}` records a pending
//! EPay order for the plan and answers the gateway's signed form (`data`) and address (`url`),
//! as new-api does; the gateway's notification (`/api/subscription/epay/notify`, the same
//! verification as a top-up's) activates it. `POST /api/subscription/stripe/pay` (the plan's
//! `stripe_price_id`) and `POST /api/subscription/creem/pay` (its `creem_product_id`) start a
//! checkout whose webhook (the top-ups' `/api/stripe/webhook`, `/api/creem/webhook`)
//! activates it when the amount and currency paid are the plan's. A plan's
//! `max_purchase_per_user` is checked before an order is made.

use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger::after_commit;
use crate::routes::payment::creem_pay;
use crate::routes::payment::epay_pay::{EpayDialect, Item, create_order};
use crate::routes::payment::settings::PaymentSettings;
use crate::routes::payment::stripe_pay::{self, Redirects};
use crate::routes::payment::{pay_error, pay_ok};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{BalancePurchase, NewTopUp, SubscriptionPlanRow, UserRow, now_secs};
use serde::Deserialize;
use serde_json::json;

/// new-api's EPay for subscriptions: the same gateway and settings, its own notify path.
pub const SUBSCRIPTION_EPAY: EpayDialect = EpayDialect {
    provider: "epay",
    notify_path: "/api/subscription/epay/notify",
};

#[derive(Deserialize)]
pub struct PayInput {
    #[serde(default)]
    plan_id: i64,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    success_url: String,
    #[serde(default)]
    cancel_url: String,
}

/// The pending order of one subscription of `plan` through `provider`.
fn order<'a>(
    user: &UserRow,
    plan: &'a SubscriptionPlanRow,
    trade_no: &'a str,
    provider: &'a str,
) -> NewTopUp<'a> {
    NewTopUp {
        user_id: user.id,
        amount: 1,
        quota: 0,
        money_cents: plan.price_cents,
        currency: &plan.currency,
        trade_no,
        payment_method: provider,
        payment_provider: provider,
        plan_id: 0,
        subscription_plan_id: plan.id,
    }
}

/// The plan on sale that `user` may still buy, or the reason to show.
async fn purchasable(
    app: &App,
    user: &UserRow,
    plan_id: i64,
) -> Result<Result<SubscriptionPlanRow, &'static str>, ApiError> {
    if plan_id <= 0 {
        return Ok(Err(
            "Invalid parameters: plan_id must be a positive integer",
        ));
    }
    let Some(plan) = app.db.subscription_plan(plan_id).await? else {
        return Ok(Err("The subscription plan does not exist"));
    };
    if plan.enabled != 1 {
        return Ok(Err("The subscription plan is not on sale"));
    }
    if plan.max_purchase_per_user > 0
        && app.db.purchases_of_plan(user.id, plan.id).await? >= plan.max_purchase_per_user
    {
        return Ok(Err("You have bought this plan as often as it allows"));
    }
    Ok(Ok(plan))
}

/// A card gateway that sells a plan by its own id of it (Stripe's price, Creem's product).
#[derive(Clone, Copy)]
enum Gateway {
    Stripe,
    Creem,
}

/// The plan `user` may buy through `gateway`, and the payment settings; or the reason to show.
async fn checkout_plan(
    app: &App,
    user: &UserRow,
    plan_id: i64,
    gateway: Gateway,
) -> Result<Result<(SubscriptionPlanRow, PaymentSettings), String>, ApiError> {
    let plan = match purchasable(app, user, plan_id).await? {
        Ok(plan) => plan,
        Err(reason) => return Ok(Err(reason.to_string())),
    };
    let settings = PaymentSettings::load(app).await?;
    let (name, configured, id) = match gateway {
        Gateway::Stripe => (
            "Stripe",
            settings.stripe_configured(),
            &plan.stripe_price_id,
        ),
        Gateway::Creem => ("Creem", settings.creem_configured(), &plan.creem_product_id),
    };
    if !configured {
        return Ok(Err(format!("The administrator has not configured {name}")));
    }
    if id.is_empty() || plan.price_cents <= 0 {
        return Ok(Err(format!("This plan is not sold through {name}")));
    }
    Ok(Ok((plan, settings)))
}

pub async fn with_stripe(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(input): ApiJson<PayInput>,
) -> ApiResult {
    let (plan, settings) = match checkout_plan(&app, &user, input.plan_id, Gateway::Stripe).await? {
        Ok(found) => found,
        Err(reason) => return Ok(pay_error(reason)),
    };
    let trade_no = format!("sub_ref_{}{}", random_alphanumeric(16), now_secs());
    let redirects = Redirects {
        success_url: &input.success_url,
        cancel_url: &input.cancel_url,
    };
    let order = order(&user, &plan, &trade_no, "stripe");
    stripe_pay::checkout(
        &app,
        &settings,
        &user,
        &order,
        &plan.stripe_price_id,
        redirects,
    )
    .await
}

pub async fn with_creem(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(input): ApiJson<PayInput>,
) -> ApiResult {
    let (plan, settings) = match checkout_plan(&app, &user, input.plan_id, Gateway::Creem).await? {
        Ok(found) => found,
        Err(reason) => return Ok(pay_error(reason)),
    };
    let trade_no = format!("sub_ref_{}", random_alphanumeric(32));
    let metadata = json!({
        "username": user.username,
        "reference_id": trade_no,
        "product_name": plan.title,
        "subscription_plan_id": plan.id,
    });
    let order = order(&user, &plan, &trade_no, "creem");
    creem_pay::checkout(
        &app,
        &settings,
        &user,
        &order,
        &plan.creem_product_id,
        metadata,
    )
    .await
}

pub async fn with_epay(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(input): ApiJson<PayInput>,
) -> ApiResult {
    let plan = match purchasable(&app, &user, input.plan_id).await? {
        Ok(plan) => plan,
        Err(reason) => return Ok(pay_error(reason)),
    };
    let order = match create_order(
        &app,
        &user,
        Item::Subscription(&plan),
        &input.payment_method,
        SUBSCRIPTION_EPAY,
    )
    .await?
    {
        Ok(order) => order,
        Err(reason) => return Ok(pay_error(reason)),
    };
    Ok(Json(json!({
        "success": true,
        "message": "success",
        "data": order.params,
        "url": order.url,
        "order_id": order.trade_no,
    }))
    .into_response())
}

pub async fn with_balance(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(input): ApiJson<PayInput>,
) -> ApiResult {
    let plan = match purchasable(&app, &user, input.plan_id).await? {
        Ok(plan) => plan,
        Err(reason) => return Ok(pay_error(reason)),
    };
    let settings = PaymentSettings::load(&app).await?;
    let Some(price_quota) = price_in_quota(&plan, settings.quota_per_unit) else {
        return Ok(pay_error(
            "Only plans priced in USD can be bought with the balance",
        ));
    };
    let trade_no = format!("SUBBAL{}{}", now_secs(), random_alphanumeric(8));
    match app
        .db
        .buy_subscription_with_balance(user.id, &plan, price_quota, &trade_no)
        .await?
    {
        BalancePurchase::Bought {
            subscription,
            movement,
            changes,
        } => {
            after_commit(&app, std::slice::from_ref(&movement), &changes).await;
            tracing::info!(user = user.id, plan = plan.id, subscription = subscription.id, %trade_no, price_quota, "subscription bought with the balance");
            Ok(pay_ok(json!({
                "trade_no": trade_no,
                "subscription": super::subscription_view(&subscription)["subscription"],
            })))
        }
        BalancePurchase::InsufficientBalance => {
            Ok(pay_error("Your balance does not cover the plan's price"))
        }
        BalancePurchase::LimitReached => {
            Ok(pay_error("You have bought this plan as often as it allows"))
        }
        BalancePurchase::Refused => Ok(pay_error("The purchase was refused")),
    }
}

/// A USD plan's price in quota (`QuotaPerUnit` per dollar), rounded up so that a purchase
/// never costs less than its price; None for a price in another currency.
fn price_in_quota(plan: &SubscriptionPlanRow, quota_per_unit: i64) -> Option<i64> {
    if !plan.currency.eq_ignore_ascii_case("USD") {
        return None;
    }
    let quota = (i128::from(plan.price_cents) * i128::from(quota_per_unit) + 99) / 100;
    i64::try_from(quota).ok()
}
