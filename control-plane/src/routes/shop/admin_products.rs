//! Seed 004's product management for administrators, over the plans table:
//! `GET /api/admin/products?page&page_size` (`{count, rows}`), `POST /api/admin/products` and
//! `PUT /api/admin/products` (with `id`) with `{title, badge, status, price, original_price,
//! integral, day}` (prices in cents, `integral` the quota the product credits), and
//! `DELETE /api/admin/products/:id` (answers how many were deleted). Products that grant days
//! of membership (`day` > 0) are subscription plans counted in days (`integral` their quota,
//! 0 unlimited; see `membership`): created, changed and listed here too; deleting one
//! withdraws it from sale (memberships sold run on).

use super::{ShopPage, membership, shop_answer, shop_ok};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{PlanFields, PlanRow, SubscriptionPlanFields};
use serde::Deserialize;
use serde_json::{Value, json};

/// `plans.name` is VARCHAR(128), `plans.description` VARCHAR(1024).
const MAX_TITLE_CHARS: usize = 128;
const MAX_BADGE_CHARS: usize = 1024;
/// `subscription_plans.subtitle` is VARCHAR(255).
const MAX_MEMBERSHIP_BADGE_CHARS: usize = 255;
/// Ten years.
const MAX_MEMBERSHIP_DAYS: i64 = 3653;

#[derive(Deserialize)]
pub struct ProductInput {
    /// A number or a string (the seed writes both); only for an update.
    #[serde(default)]
    id: Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    badge: String,
    #[serde(default = "on_sale")]
    status: i64,
    #[serde(default)]
    price: i64,
    #[serde(default)]
    original_price: i64,
    #[serde(default)]
    integral: i64,
    #[serde(default)]
    day: i64,
}

fn on_sale() -> i64 {
    1
}

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    Query(paging): Query<ShopPage>,
) -> Response {
    let result = async {
        let plans = app.db.plans(false).await?;
        let memberships = membership::plans(&app, false).await?;
        let size = usize::try_from(paging.size()).unwrap_or(10);
        let skip = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
        let rows: Vec<Value> = plans
            .iter()
            .map(|plan| row_view(plan, json!(plan.id)))
            .chain(memberships.iter().map(membership::admin_view))
            .skip(skip)
            .take(size)
            .collect();
        let count = plans.len() + memberships.len();
        Ok(shop_ok(json!({ "count": count, "rows": rows }), ""))
    };
    shop_answer(result.await)
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ProductInput>,
) -> Response {
    let result = async {
        if input.day != 0 {
            let id = app
                .db
                .create_subscription_plan(&membership_fields(&input)?)
                .await?;
            tracing::info!(
                admin = admin.user.id,
                plan = id,
                "membership product created"
            );
            return membership_saved(&app, id).await;
        }
        let code = format!("product_{}", random_alphanumeric(12));
        let id = app.db.create_plan(&fields(&input, &code)?).await?;
        tracing::info!(admin = admin.user.id, product = id, "product created");
        let plan = app.db.plan(&id.to_string()).await?;
        let plan = plan.ok_or_else(|| ApiError::invalid("The product was not recorded"))?;
        Ok(shop_ok(saved_view(&plan), ""))
    };
    shop_answer(result.await)
}

pub async fn update(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ProductInput>,
) -> Response {
    let result = async {
        if let Some(id) = input.id.as_str().and_then(membership::plan_id) {
            if !app
                .db
                .update_subscription_plan(id, &membership_fields(&input)?)
                .await?
            {
                return Err(ApiError::invalid("The product does not exist"));
            }
            tracing::info!(
                admin = admin.user.id,
                plan = id,
                "membership product updated"
            );
            return membership_saved(&app, id).await;
        }
        let id = match &input.id {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        let existing = match id {
            Some(id) => app.db.plan(&id.to_string()).await?.filter(|p| p.id == id),
            None => None,
        };
        let Some(existing) = existing else {
            return Err(ApiError::invalid("The product does not exist"));
        };
        app.db
            .update_plan(existing.id, &fields(&input, &existing.code)?)
            .await?;
        tracing::info!(
            admin = admin.user.id,
            product = existing.id,
            "product updated"
        );
        let plan = app.db.plan(&existing.id.to_string()).await?;
        let plan = plan.ok_or_else(|| ApiError::invalid("The product does not exist"))?;
        // The seed answers the saved product and `false` (no row was created).
        Ok(shop_ok(json!([saved_view(&plan), false]), ""))
    };
    shop_answer(result.await)
}

pub async fn delete(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        if let Some(plan) = membership::plan_id(id.trim()) {
            let withdrawn = app.db.set_subscription_plan_enabled(plan, false).await?;
            tracing::info!(
                admin = admin.user.id,
                plan,
                withdrawn,
                "membership product withdrawn"
            );
            return Ok(shop_ok(json!(i64::from(withdrawn)), ""));
        }
        let Ok(id) = id.trim().parse::<i64>() else {
            return Err(ApiError::invalid("The product does not exist"));
        };
        let deleted = app.db.delete_plan(id).await?;
        tracing::info!(
            admin = admin.user.id,
            product = id,
            deleted,
            "product deleted"
        );
        Ok(shop_ok(json!(i64::from(deleted)), ""))
    };
    shop_answer(result.await)
}

/// Checks `input`; answers the plan's fields (prices are CNY cents, as EPay charges).
fn fields<'a>(input: &'a ProductInput, code: &'a str) -> Result<PlanFields<'a>, ApiError> {
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(format!(
            "The title must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    if input.badge.chars().count() > MAX_BADGE_CHARS {
        return Err(ApiError::invalid(format!(
            "The badge is longer than {MAX_BADGE_CHARS} characters"
        )));
    }
    if input.integral <= 0 {
        return Err(ApiError::invalid("The integral (quota) must be positive"));
    }
    if input.price <= 0 || input.original_price < 0 {
        return Err(ApiError::invalid(
            "The price must be positive and the original price not negative (in cents)",
        ));
    }
    if input.status != 0 && input.status != 1 {
        return Err(ApiError::invalid("The status must be 0 or 1"));
    }
    Ok(PlanFields {
        code,
        name: title,
        description: &input.badge,
        quota: input.integral,
        price_cents: input.price,
        currency: "CNY",
        enabled: input.status == 1,
        sort_order: 0,
        original_price_cents: input.original_price,
    })
}

/// Checks a membership product (`day` > 0 days, `integral` its quota, 0 unlimited); answers
/// its subscription plan's fields (CNY cents, as EPay charges).
fn membership_fields(input: &ProductInput) -> Result<SubscriptionPlanFields<'_>, ApiError> {
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(format!(
            "The title must have 1 to {MAX_TITLE_CHARS} characters"
        )));
    }
    if input.badge.chars().count() > MAX_MEMBERSHIP_BADGE_CHARS {
        return Err(ApiError::invalid(format!(
            "The badge is longer than {MAX_MEMBERSHIP_BADGE_CHARS} characters"
        )));
    }
    if input.day <= 0 || input.day > MAX_MEMBERSHIP_DAYS {
        return Err(ApiError::invalid(format!(
            "A membership lasts 1 to {MAX_MEMBERSHIP_DAYS} days"
        )));
    }
    if input.integral < 0 || input.price <= 0 {
        return Err(ApiError::invalid(
            "The price must be positive (in cents) and the integral not negative",
        ));
    }
    if input.status != 0 && input.status != 1 {
        return Err(ApiError::invalid("The status must be 0 or 1"));
    }
    Ok(SubscriptionPlanFields {
        title,
        subtitle: &input.badge,
        price_cents: input.price,
        currency: "CNY",
        duration_unit: "day",
        duration_value: input.day,
        custom_seconds: 0,
        enabled: input.status == 1,
        sort_order: 0,
        stripe_price_id: "",
        creem_product_id: "",
        max_purchase_per_user: 0,
        upgrade_group: "",
        total_amount: input.integral,
        quota_reset_period: "never",
        quota_reset_custom_seconds: 0,
    })
}

/// The seed's answer to saving a membership product.
async fn membership_saved(app: &AppState, id: i64) -> Result<Response, ApiError> {
    let plan = app.db.subscription_plan(id).await?;
    let plan = plan.ok_or_else(|| ApiError::invalid("The product does not exist"))?;
    Ok(shop_ok(membership::admin_view(&plan), ""))
}

/// A product as the list shows it.
fn row_view(plan: &PlanRow, id: Value) -> Value {
    let mut view = saved_view(plan);
    view["id"] = id;
    view["create_time"] = super::product::datetime(plan.created_time).into();
    view["update_time"] = super::product::datetime(plan.updated_time).into();
    view
}

/// A product as saving answers it (the id as a string, as in the seed).
fn saved_view(plan: &PlanRow) -> Value {
    json!({
        "id": plan.id.to_string(),
        "title": plan.name,
        "price": plan.price_cents,
        "original_price": plan.original_price_cents,
        "integral": plan.quota,
        "badge": plan.description,
        "day": 0,
        "status": plan.enabled,
    })
}
