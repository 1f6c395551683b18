//! `GET /api/usage/stats` (seed 002): `{tokenUsed, tokenLimit, remaining, requestCount, plan,
//! expiresAt}`, the seed's fields mapped onto Pylon's accounts. The seed sells plans of
//! "tokens"; in Pylon a budget is quota (500 000 = 1 USD), so every "token" field is quota:
//!
//! - While a subscription with a quota is in force (the one ending first, which the relay
//!   charges first), it is the plan: `plan` is its plan's title, `tokenLimit` its quota for the
//!   current period (`amount_total`), `tokenUsed` what this period used (`amount_used`),
//!   `remaining` the difference and `expiresAt` its end (unix seconds).
//! - Otherwise the wallet is: `plan` is null, `remaining` the wallet's quota, `tokenUsed`
//!   everything the caller's requests cost (from the aggregates), `tokenLimit` the two
//!   together (all the quota the account has had to spend) and `expiresAt` null (a wallet
//!   does not expire).
//!
//! `requestCount` is every request the caller made that was relayed and charged (aggregates).

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::{HourRange, SUBSCRIPTION_ACTIVE, UsageScope, now_secs};
use serde_json::{Value, json};

pub async fn stats(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let usage = app
        .db
        .usage_totals(UsageScope::User(user.id), HourRange::ALL)
        .await?;
    let now = now_secs();
    let subscription = app
        .db
        .user_subscriptions(user.id)
        .await?
        .into_iter()
        .filter(|s| s.status_at(now) == SUBSCRIPTION_ACTIVE && s.amount_total > 0)
        .min_by_key(|s| (s.end_time, s.id));
    let fields = match subscription {
        Some(subscription) => {
            let plan = app.db.subscription_plan(subscription.plan_id).await?;
            json!({
                "tokenUsed": subscription.amount_used,
                "tokenLimit": subscription.amount_total,
                "remaining": subscription.amount_total.saturating_sub(subscription.amount_used),
                "requestCount": usage.requests,
                "plan": plan.map(|p| p.title),
                "expiresAt": subscription.end_time,
            })
        }
        None => json!({
            "tokenUsed": usage.quota,
            "tokenLimit": usage.quota.saturating_add(user.quota),
            "remaining": user.quota,
            "requestCount": usage.requests,
            "plan": Value::Null,
            "expiresAt": Value::Null,
        }),
    };
    Ok(envelope::ok_flat(fields))
}
