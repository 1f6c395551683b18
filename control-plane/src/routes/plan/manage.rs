//! Administrators' plan management: `POST /api/plans` creates, `PUT /api/plans/{id}` replaces
//! the fields, `DELETE /api/plans/{id}` deletes (orders keep the quota and price they copied).
//! Bad input gets its reason and changes nothing.

use super::view;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::{Path, State};
use pylon_shared::db::{PlanFields, is_unique_violation};
use pylon_shared::payment::money::Cents;
use serde::Deserialize;
use serde_json::Value;

/// The longest code (`plans.code`).
const MAX_CODE_LEN: usize = 64;

#[derive(Deserialize)]
pub struct PlanInput {
    #[serde(default, alias = "planId")]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    quota: i64,
    /// Text (`"9.90"`) or a number; read exactly, to the cent.
    #[serde(default)]
    price: Value,
    #[serde(default)]
    currency: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    sort_order: i64,
    /// The price shown struck through (seed 004's `original_price`), in cents.
    #[serde(default)]
    original_price_cents: i64,
}

fn enabled_by_default() -> bool {
    true
}

/// Checks `input`; answers the plan's fields.
fn fields(input: &PlanInput) -> Result<PlanFields<'_>, ApiError> {
    let code = input.code.trim();
    let code_ok = !code.is_empty()
        && code.len() <= MAX_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !code.bytes().all(|b| b.is_ascii_digit());
    if !code_ok {
        return Err(ApiError::invalid(
            "The plan code must be 1 to 64 letters, digits, '_' or '-', not only digits",
        ));
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 128 {
        return Err(ApiError::invalid(
            "The plan name must be 1 to 128 characters",
        ));
    }
    if input.description.chars().count() > 1024 {
        return Err(ApiError::invalid(
            "The description is longer than 1024 characters",
        ));
    }
    if input.quota <= 0 {
        return Err(ApiError::invalid("The plan quota must be positive"));
    }
    let price_text = match &input.price {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let price = Cents::parse(&price_text)
        .ok()
        .filter(|c| c.0 > 0)
        .ok_or_else(|| {
            ApiError::invalid("The price must be a positive amount with at most two decimals")
        })?;
    let currency = input.currency.trim();
    if !(currency.is_empty()
        || (currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_alphabetic())))
    {
        return Err(ApiError::invalid(
            "The currency must be a three-letter code",
        ));
    }
    if input.original_price_cents < 0 {
        return Err(ApiError::invalid("The original price must not be negative"));
    }
    Ok(PlanFields {
        code,
        name: input.name.trim(),
        description: &input.description,
        quota: input.quota,
        price_cents: price.0,
        currency: if currency.is_empty() { "CNY" } else { currency },
        enabled: input.enabled,
        sort_order: input.sort_order,
        original_price_cents: input.original_price_cents,
    })
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("Invalid parameters: id must be a positive integer"))
}

const CODE_TAKEN: &str = "Another plan has this code";

pub async fn create(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(input): ApiJson<PlanInput>,
) -> ApiResult {
    let mut plan = fields(&input)?;
    let upper = plan.currency.to_ascii_uppercase();
    plan.currency = &upper;
    let id = match app.db.create_plan(&plan).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(ApiError::invalid(CODE_TAKEN)),
        Err(e) => return Err(e.into()),
    };
    let created = app.db.plan(&id.to_string()).await?;
    Ok(envelope::ok(created.as_ref().map(view)))
}

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PlanInput>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let mut plan = fields(&input)?;
    let upper = plan.currency.to_ascii_uppercase();
    plan.currency = &upper;
    match app.db.update_plan(id, &plan).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::invalid("The plan does not exist")),
        Err(e) if is_unique_violation(&e) => return Err(ApiError::invalid(CODE_TAKEN)),
        Err(e) => return Err(e.into()),
    }
    let updated = app.db.plan(&id.to_string()).await?;
    Ok(envelope::ok(updated.as_ref().map(view)))
}

pub async fn delete(
    State(app): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    if !app.db.delete_plan(id).await? {
        return Err(ApiError::invalid("The plan does not exist"));
    }
    Ok(envelope::ok(serde_json::Value::Null))
}
