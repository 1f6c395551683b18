//! Administrators' hold on users' subscriptions: `POST /api/subscription/admin/bind` with
//! `{"user_id", "plan_id"}` and `POST /api/subscription/admin/users/{id}/subscriptions` with
//! `{"plan_id"}` grant a plan without payment; `GET` of the latter lists the user's
//! subscriptions; `POST /api/subscription/admin/user_subscriptions/{id}/invalidate` ends one now,
//! `DELETE /api/subscription/admin/user_subscriptions/{id}` deletes it.

use super::subscription_view;
use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use crate::ledger::{after_commit, fresh_key};
use axum::extract::State;
use pylon_shared::db::GrantOutcome;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct BindInput {
    #[serde(default)]
    user_id: i64,
    #[serde(default)]
    plan_id: i64,
}

#[derive(Deserialize)]
pub struct PlanChoice {
    #[serde(default)]
    plan_id: i64,
}

pub async fn bind(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(input): ApiJson<BindInput>,
) -> ApiResult {
    grant(&app, input.user_id, input.plan_id).await
}

pub async fn grant_to_user(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(user_id): PathId,
    ApiJson(input): ApiJson<PlanChoice>,
) -> ApiResult {
    grant(&app, user_id, input.plan_id).await
}

async fn grant(app: &App, user_id: i64, plan_id: i64) -> ApiResult {
    if user_id <= 0 || plan_id <= 0 {
        return Err(ApiError::invalid(
            "Invalid parameters: user_id and plan_id must be positive integers",
        ));
    }
    if app.db.user_by_id(user_id).await?.is_none() {
        return Err(ApiError::invalid("The user does not exist"));
    }
    let Some(plan) = app.db.subscription_plan(plan_id).await? else {
        return Err(ApiError::invalid("The subscription plan does not exist"));
    };
    match app
        .db
        .grant_subscription(user_id, &plan, &fresh_key("admin"), "admin")
        .await?
    {
        GrantOutcome::Granted {
            subscription,
            change,
        } => {
            after_commit(app, &[], &[change]).await;
            tracing::info!(
                user = user_id,
                plan = plan_id,
                subscription = subscription.id,
                "subscription granted by an administrator"
            );
            Ok(envelope::ok(subscription_view(&subscription)))
        }
        GrantOutcome::Duplicate => Err(ApiError::invalid("The grant was already made")),
        GrantOutcome::InvalidPlan => Err(ApiError::invalid(
            "The subscription plan's duration is not valid",
        )),
    }
}

pub async fn list_of_user(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(user_id): PathId,
) -> ApiResult {
    let rows = app.db.user_subscriptions(user_id).await?;
    Ok(envelope::ok(
        rows.iter().map(subscription_view).collect::<Vec<_>>(),
    ))
}

pub async fn invalidate(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let Some((_, change)) = app.db.cancel_user_subscription(id).await? else {
        return Err(ApiError::invalid("The subscription does not exist"));
    };
    after_commit(&app, &[], &[change]).await;
    Ok(envelope::ok(Value::Null))
}

pub async fn delete(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let Some((_, change)) = app.db.delete_user_subscription(id).await? else {
        return Err(ApiError::invalid("The subscription does not exist"));
    };
    after_commit(&app, &[], &[change]).await;
    Ok(envelope::ok(Value::Null))
}
