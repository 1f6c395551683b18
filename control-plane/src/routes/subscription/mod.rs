//! new-api's subscriptions: plans sold for a price, each granting a quota per period that pays
//! for relayed requests as the buyer's billing preference says.
//!
//! - users: `GET /api/subscription/plans`, `GET /api/subscription/self`,
//!   `PUT /api/subscription/self/preference`, and buying: `POST /api/subscription/balance/pay`
//!   (with the wallet, one ledger transaction), `POST /api/subscription/epay/pay` (an EPay order
//!   activated by the gateway's notification `GET|POST /api/subscription/epay/notify`);
//! - administrators: `/api/subscription/admin/plans` (list, create, replace, PATCH to put on
//!   sale or withdraw), `POST /api/subscription/admin/bind`, a user's subscriptions
//!   (`/api/subscription/admin/users/{id}/subscriptions`), ending or deleting one
//!   (`/api/subscription/admin/user_subscriptions/{id}`).
//!
//! Answers are new-api's: a plan is `{"plan": {...}}` with `price_amount` (the price stored in
//! cents, shown as a decimal), a subscription `{"subscription": {...}}`.

pub mod admin;
pub mod buy;
pub mod own;
pub mod plans;
pub mod reset;

use pylon_shared::db::{SubscriptionPlanRow, UserSubscriptionRow, now_secs};
use pylon_shared::payment::money::Cents;
use serde_json::{Value, json};

/// A price in cents as new-api's JSON number (display only; amounts are computed in cents).
fn price_amount(cents: i64) -> Value {
    Cents(cents)
        .to_decimal_string()
        .parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

/// A plan as new-api's `SubscriptionPlanDTO`.
pub fn plan_view(plan: &SubscriptionPlanRow) -> Value {
    json!({ "plan": {
        "id": plan.id,
        "title": plan.title,
        "subtitle": plan.subtitle,
        "price_amount": price_amount(plan.price_cents),
        "currency": plan.currency,
        "duration_unit": plan.duration_unit,
        "duration_value": plan.duration_value,
        "custom_seconds": plan.custom_seconds,
        "enabled": plan.enabled == 1,
        "sort_order": plan.sort_order,
        "stripe_price_id": plan.stripe_price_id,
        "creem_product_id": plan.creem_product_id,
        "max_purchase_per_user": plan.max_purchase_per_user,
        "upgrade_group": plan.upgrade_group,
        "total_amount": plan.total_amount,
        "quota_reset_period": plan.quota_reset_period,
        "quota_reset_custom_seconds": plan.quota_reset_custom_seconds,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
    }})
}

/// A user's subscription as new-api's `SubscriptionSummary` (the status as of now).
pub fn subscription_view(row: &UserSubscriptionRow) -> Value {
    let mut subscription = serde_json::to_value(row).unwrap_or(Value::Null);
    subscription["status"] = row.status_at(now_secs()).into();
    json!({ "subscription": subscription })
}
