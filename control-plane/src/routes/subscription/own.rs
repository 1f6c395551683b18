//! The caller's subscriptions: `GET /api/subscription/self` (the billing preference, the
//! subscriptions in force and all of them, as new-api answers) and
//! `PUT /api/subscription/self/preference` with `{"billing_preference"}` (new-api normalizes an
//! unknown value to `subscription_first`; so does this).

use super::subscription_view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::db::{
    SUBSCRIPTION_ACTIVE, billing_preference_of, normalize_billing_preference, now_secs,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub async fn get(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let all = app.db.user_subscriptions(user.id).await?;
    let now = now_secs();
    let active: Vec<Value> = all
        .iter()
        .filter(|s| s.status_at(now) == SUBSCRIPTION_ACTIVE)
        .map(subscription_view)
        .collect();
    Ok(envelope::ok(json!({
        "billing_preference": billing_preference_of(&user.setting),
        "subscriptions": active,
        "all_subscriptions": all.iter().map(subscription_view).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct PreferenceInput {
    #[serde(default)]
    billing_preference: String,
}

pub async fn set_preference(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(input): ApiJson<PreferenceInput>,
) -> ApiResult {
    let preference = normalize_billing_preference(&input.billing_preference);
    let Some(change) = app.db.set_billing_preference(user.id, preference).await? else {
        return Err(ApiError::invalid("The user does not exist"));
    };
    crate::ledger::after_commit(&app, &[], &[change]).await;
    Ok(envelope::ok(json!({ "billing_preference": preference })))
}
