//! `POST /api/models/` creates a model record; `PUT /api/models/` (id in the body) and seed
//! 001's `PUT /api/models/{id}` change the fields they are given (`?status_only=true`: only
//! the status, as new-api's console toggles it); `DELETE /api/models/{id}` deletes one. Names
//! are required and unique; a vendor must exist; bad input is refused with its reason and
//! changes nothing.

use super::answer;
use super::pricing_input::price_entries;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use crate::routes::price_sync::write::write_prices;
use crate::routes::pricing::prices;
use axum::extract::{Query, State};
use pylon_shared::db::{
    DbError, ModelFields, ModelRow, NAME_RULE_EXACT, NAME_RULE_SUFFIX, is_unique_violation,
};
use pylon_shared::roles::ROLE_ROOT;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The fields a request sets; absent ones keep their value (or their default when creating).
/// Fields the answers add (channels, groups, price) are ignored when sent back.
#[derive(Deserialize, Default)]
pub struct ModelInput {
    id: Option<i64>,
    model_name: Option<String>,
    description: Option<String>,
    icon: Option<String>,
    tags: Option<String>,
    vendor_id: Option<i64>,
    /// JSON text, or the JSON itself.
    endpoints: Option<Value>,
    status: Option<i64>,
    sync_official: Option<i64>,
    name_rule: Option<i64>,
    /// Prices to write into the price options (see [`super::pricing_input`]).
    pricing: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
pub struct UpdateQuery {
    #[serde(default)]
    status_only: String,
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(caller): AdminUser,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult {
    let endpoints = endpoints_text(input.endpoints.as_ref())?;
    let fields = checked(&app, 0, &input, endpoints.as_deref(), None).await?;
    write_pricing(&app, &caller, &fields, input.pricing.as_ref()).await?;
    let id = app
        .db
        .create_model_record(&fields)
        .await
        .map_err(|e| taken(e, fields.model_name))?;
    answer(&app, id).await
}

/// `PUT /api/models/`: the id is in the body.
pub async fn update(
    State(app): State<AppState>,
    AdminUser(caller): AdminUser,
    Query(query): Query<UpdateQuery>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult {
    let id = input
        .id
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("The model id is missing"))?;
    change(&app, &caller, id, &query, input).await
}

/// `PUT /api/models/{id}` (seed 001): the id is in the path.
pub async fn update_at(
    State(app): State<AppState>,
    AdminUser(caller): AdminUser,
    PathId(id): PathId,
    Query(query): Query<UpdateQuery>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult {
    if input.id.is_some_and(|given| given != id) {
        return Err(ApiError::invalid(
            "The id in the body is not the id in the path",
        ));
    }
    change(&app, &caller, id, &query, input).await
}

async fn change(
    app: &AppState,
    caller: &AuthUser,
    id: i64,
    query: &UpdateQuery,
    input: ModelInput,
) -> ApiResult {
    let stored = app
        .db
        .model_record(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Model not found"))?;
    let input = if query.status_only == "true" {
        ModelInput {
            status: input.status,
            ..ModelInput::default()
        }
    } else {
        input
    };
    let endpoints = endpoints_text(input.endpoints.as_ref())?;
    let fields = checked(app, id, &input, endpoints.as_deref(), Some(&stored)).await?;
    write_pricing(app, caller, &fields, input.pricing.as_ref()).await?;
    if !app
        .db
        .update_model_record(id, &fields)
        .await
        .map_err(|e| taken(e, fields.model_name))?
    {
        return Err(ApiError::invalid("Model not found"));
    }
    answer(app, id).await
}

pub async fn delete(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    if !app.db.delete_model_record(id).await? {
        return Err(ApiError::invalid("Model not found"));
    }
    Ok(envelope::ok_message(""))
}

/// Writes the prices a request's `pricing` asks for the record's model (before the record,
/// which a price write that fails then leaves unchanged). Prices are the root user's, as every
/// option is in new-api: an administrator's request may only send them back unchanged.
async fn write_pricing(
    app: &AppState,
    caller: &AuthUser,
    fields: &ModelFields<'_>,
    pricing: Option<&Map<String, Value>>,
) -> Result<(), ApiError> {
    let Some(pricing) = pricing else {
        return Ok(());
    };
    if fields.name_rule != NAME_RULE_EXACT {
        return Err(ApiError::invalid(
            "pricing: prices are per model name; a name rule record has none",
        ));
    }
    let entries = price_entries(fields.model_name, pricing, &prices(app))?;
    if !entries.is_empty() && caller.user.role < ROLE_ROOT {
        return Err(ApiError::Forbidden(
            "Only the root user may change prices (the price options)",
        ));
    }
    if !entries.is_empty() && !write_prices(app, &app.settings.now(), &entries).await? {
        return Err(ApiError::invalid(
            "The price options changed meanwhile; try again",
        ));
    }
    Ok(())
}

/// A write's error; a unique-key violation is the name taken by a concurrent writer.
fn taken(error: DbError, name: &str) -> ApiError {
    if is_unique_violation(&error) {
        return ApiError::invalid(format!("A model named {name} already exists"));
    }
    error.into()
}

/// The endpoints as stored: JSON text (checked), from a string or from the JSON itself.
fn endpoints_text(value: Option<&Value>) -> Result<Option<String>, ApiError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.trim().to_string(),
        Some(json @ (Value::Object(_) | Value::Array(_))) => json.to_string(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "endpoints must be JSON (an object or a list), not {other}"
            )));
        }
    };
    if !text.is_empty() && serde_json::from_str::<Value>(&text).is_err() {
        return Err(ApiError::invalid(format!("endpoints is not JSON: {text}")));
    }
    Ok(Some(text))
}

/// The fields `input` asks for over `stored` (or the defaults of a new record), checked: a
/// name unique among records other than `id`, an existing vendor, known status and rule.
async fn checked<'a>(
    app: &AppState,
    id: i64,
    input: &'a ModelInput,
    endpoints: Option<&'a str>,
    stored: Option<&'a ModelRow>,
) -> Result<ModelFields<'a>, ApiError> {
    let text = |given: &'a Option<String>, kept: fn(&ModelRow) -> &str| -> &'a str {
        given.as_deref().or(stored.map(kept)).unwrap_or("")
    };
    let model_name = text(&input.model_name, |s| s.model_name.as_str()).trim();
    if model_name.is_empty() {
        return Err(ApiError::invalid("The model name must not be empty"));
    }
    if app
        .db
        .model_record_named(model_name)
        .await?
        .is_some_and(|other| other.id != id)
    {
        return Err(ApiError::invalid(format!(
            "A model named {model_name} already exists"
        )));
    }
    let number = |given: Option<i64>, kept: fn(&ModelRow) -> i64, default: i64| {
        given.or(stored.map(kept)).unwrap_or(default)
    };
    let vendor_id = number(input.vendor_id, |s| s.vendor_id, 0);
    if vendor_id < 0 || (vendor_id > 0 && app.db.vendor(vendor_id).await?.is_none()) {
        return Err(ApiError::invalid(format!(
            "Vendor {vendor_id} does not exist"
        )));
    }
    let status = number(input.status, |s| s.status, 1);
    let sync_official = number(input.sync_official, |s| s.sync_official, 1);
    if !matches!(status, 0 | 1) || !matches!(sync_official, 0 | 1) {
        return Err(ApiError::invalid("status and sync_official must be 0 or 1"));
    }
    let name_rule = number(input.name_rule, |s| s.name_rule, NAME_RULE_EXACT);
    if !(NAME_RULE_EXACT..=NAME_RULE_SUFFIX).contains(&name_rule) {
        return Err(ApiError::invalid(
            "name_rule must be 0 (exact), 1 (prefix), 2 (contains) or 3 (suffix)",
        ));
    }
    Ok(ModelFields {
        model_name,
        description: text(&input.description, |s| s.description.as_str()),
        icon: text(&input.icon, |s| s.icon.as_str()),
        tags: text(&input.tags, |s| s.tags.as_str()),
        vendor_id,
        endpoints: endpoints.unwrap_or_else(|| stored.map_or("", |s| s.endpoints.as_str())),
        status,
        sync_official,
        name_rule,
    })
}
