//! Plans: `GET /api/subscription/plans` (those on sale, for users) and the administrators'
//! `GET|POST /api/subscription/admin/plans`, `PUT|PATCH /api/subscription/admin/plans/{id}`.
//! A plan is sent as new-api's console sends it, `{"plan": {...}}` (a bare plan object is
//! taken too). Bad input gets its reason and changes nothing; prices are read exactly, to the
//! cent.

use super::plan_view;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::State;
use pylon_shared::db::{
    DURATION_UNITS, RESET_PERIODS, SubscriptionPlanFields, SubscriptionPlanRow, period_end,
};
use pylon_shared::payment::money::Cents;
use serde::Deserialize;
use serde_json::Value;

/// The plan fields new-api's console sends.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlanInput {
    title: String,
    subtitle: String,
    /// A number or text (`"9.90"`); read exactly, to the cent.
    price_amount: Value,
    currency: String,
    duration_unit: String,
    duration_value: i64,
    custom_seconds: i64,
    enabled: Option<bool>,
    sort_order: i64,
    stripe_price_id: String,
    creem_product_id: String,
    max_purchase_per_user: i64,
    upgrade_group: String,
    total_amount: i64,
    quota_reset_period: String,
    quota_reset_custom_seconds: i64,
}

/// `{"plan": {...}}` or the plan itself.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum PlanRequest {
    Wrapped { plan: PlanInput },
    Bare(PlanInput),
}

impl PlanRequest {
    fn input(&self) -> &PlanInput {
        match self {
            PlanRequest::Wrapped { plan } | PlanRequest::Bare(plan) => plan,
        }
    }
}

/// Checks `input` as new-api does (with its defaults: USD, one month, never reset);
/// answers the plan's fields.
fn fields(input: &PlanInput) -> Result<SubscriptionPlanFields<'_>, ApiError> {
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > 128 {
        return Err(ApiError::invalid(
            "The plan title must be 1 to 128 characters",
        ));
    }
    let price_text = match &input.price_amount {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "0".to_string(),
        _ => String::new(),
    };
    let price = Cents::parse(&price_text)
        .ok()
        .filter(|c| c.0 >= 0)
        .ok_or_else(|| {
            ApiError::invalid("The price must be an amount of at least 0 with at most two decimals")
        })?;
    let currency = match input.currency.trim() {
        "" => "USD",
        code if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) => code,
        _ => {
            return Err(ApiError::invalid(
                "The currency must be a three-letter code",
            ));
        }
    };
    let duration_unit = match input.duration_unit.trim() {
        "" => "month",
        unit if DURATION_UNITS.contains(&unit) => unit,
        _ => {
            return Err(ApiError::invalid(format!(
                "duration_unit must be one of {}",
                DURATION_UNITS.join(", ")
            )));
        }
    };
    let duration_value = if input.duration_value <= 0 && duration_unit != "custom" {
        1
    } else {
        input.duration_value
    };
    if period_end(0, duration_unit, duration_value, input.custom_seconds).is_none() {
        return Err(ApiError::invalid(
            "The plan's duration is not valid (a custom duration needs custom_seconds > 0)",
        ));
    }
    let quota_reset_period = match input.quota_reset_period.trim() {
        "" => "never",
        period if RESET_PERIODS.contains(&period) => period,
        _ => {
            return Err(ApiError::invalid(format!(
                "quota_reset_period must be one of {}",
                RESET_PERIODS.join(", ")
            )));
        }
    };
    if quota_reset_period == "custom" && input.quota_reset_custom_seconds <= 0 {
        return Err(ApiError::invalid(
            "A custom reset period needs quota_reset_custom_seconds > 0",
        ));
    }
    if input.total_amount < 0 {
        return Err(ApiError::invalid(
            "total_amount must not be negative (0 is unlimited)",
        ));
    }
    if input.max_purchase_per_user < 0 {
        return Err(ApiError::invalid(
            "max_purchase_per_user must not be negative (0 is no limit)",
        ));
    }
    Ok(SubscriptionPlanFields {
        title,
        subtitle: input.subtitle.trim(),
        price_cents: price.0,
        currency,
        duration_unit,
        duration_value,
        custom_seconds: input.custom_seconds.max(0),
        enabled: input.enabled.unwrap_or(true),
        sort_order: input.sort_order,
        stripe_price_id: input.stripe_price_id.trim(),
        creem_product_id: input.creem_product_id.trim(),
        max_purchase_per_user: input.max_purchase_per_user,
        upgrade_group: input.upgrade_group.trim(),
        total_amount: input.total_amount,
        quota_reset_period,
        quota_reset_custom_seconds: input.quota_reset_custom_seconds.max(0),
    })
}

fn views(plans: &[SubscriptionPlanRow]) -> Vec<Value> {
    plans.iter().map(plan_view).collect()
}

/// Plans on sale.
pub async fn on_sale(State(app): State<AppState>, _user: AuthUser) -> ApiResult {
    Ok(envelope::ok(views(&app.db.subscription_plans(true).await?)))
}

/// Every plan.
pub async fn all(State(app): State<AppState>, _admin: AdminUser) -> ApiResult {
    Ok(envelope::ok(views(
        &app.db.subscription_plans(false).await?,
    )))
}

pub async fn create(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(request): ApiJson<PlanRequest>,
) -> ApiResult {
    let fields = fields(request.input())?;
    let id = app.db.create_subscription_plan(&fields).await?;
    let plan = app
        .db
        .subscription_plan(id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("plan {id} vanished")))?;
    Ok(envelope::ok(plan_view(&plan)["plan"].clone()))
}

pub async fn update(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
    ApiJson(request): ApiJson<PlanRequest>,
) -> ApiResult {
    let fields = fields(request.input())?;
    if !app.db.update_subscription_plan(id, &fields).await? {
        return Err(ApiError::invalid("The plan does not exist"));
    }
    Ok(envelope::ok(Value::Null))
}

#[derive(Deserialize)]
pub struct StatusInput {
    enabled: bool,
}

/// new-api's PATCH: `{"enabled": bool}` puts the plan on sale or withdraws it (subscriptions
/// already sold run on).
pub async fn set_status(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<StatusInput>,
) -> ApiResult {
    if !app
        .db
        .set_subscription_plan_enabled(id, input.enabled)
        .await?
    {
        return Err(ApiError::invalid("The plan does not exist"));
    }
    Ok(envelope::ok(Value::Null))
}
