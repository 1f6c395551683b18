//! `POST /api/vendors/` creates a vendor, `PUT /api/vendors/` (id in the body) changes the
//! fields it is given, `DELETE /api/vendors/{id}` deletes one. Names are required and unique;
//! bad input is refused with its reason and changes nothing.

use super::answer;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::State;
use pylon_shared::db::{DbError, VendorFields, VendorRow, is_unique_violation};
use serde::Deserialize;

/// The fields a request sets; absent ones keep their value (or their default when creating).
#[derive(Deserialize)]
pub struct VendorInput {
    id: Option<i64>,
    name: Option<String>,
    description: Option<String>,
    icon: Option<String>,
    status: Option<i64>,
}

pub async fn create(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult {
    let fields = checked(&app, 0, &input, None).await?;
    let id = app
        .db
        .create_vendor(&fields)
        .await
        .map_err(|e| taken(e, fields.name))?;
    answer(&app, id).await
}

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult {
    let id = input
        .id
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("The vendor id is missing"))?;
    let stored = app
        .db
        .vendor(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Vendor not found"))?;
    let fields = checked(&app, id, &input, Some(&stored)).await?;
    if !app
        .db
        .update_vendor(id, &fields)
        .await
        .map_err(|e| taken(e, fields.name))?
    {
        return Err(ApiError::invalid("Vendor not found"));
    }
    answer(&app, id).await
}

pub async fn delete(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    if !app.db.delete_vendor(id).await? {
        return Err(ApiError::invalid("Vendor not found"));
    }
    Ok(envelope::ok_message(""))
}

/// A write's error; a unique-key violation is the name taken by a concurrent writer.
fn taken(error: DbError, name: &str) -> ApiError {
    if is_unique_violation(&error) {
        return ApiError::invalid(format!("A vendor named {name} already exists"));
    }
    error.into()
}

/// The fields `input` asks for over `stored`, checked: a name, unique among vendors other
/// than `id`, and a status of 0 or 1.
async fn checked<'a>(
    app: &AppState,
    id: i64,
    input: &'a VendorInput,
    stored: Option<&'a VendorRow>,
) -> Result<VendorFields<'a>, ApiError> {
    let name = input
        .name
        .as_deref()
        .or(stored.map(|s| s.name.as_str()))
        .unwrap_or("")
        .trim();
    if name.is_empty() {
        return Err(ApiError::invalid("The vendor name must not be empty"));
    }
    if app
        .db
        .vendor_named(name)
        .await?
        .is_some_and(|other| other.id != id)
    {
        return Err(ApiError::invalid(format!(
            "A vendor named {name} already exists"
        )));
    }
    let status = input.status.or(stored.map(|s| s.status)).unwrap_or(1);
    if !matches!(status, 0 | 1) {
        return Err(ApiError::invalid("The status must be 1 (enabled) or 0"));
    }
    Ok(VendorFields {
        name,
        description: input
            .description
            .as_deref()
            .or(stored.map(|s| s.description.as_str()))
            .unwrap_or(""),
        icon: input
            .icon
            .as_deref()
            .or(stored.map(|s| s.icon.as_str()))
            .unwrap_or(""),
        status,
    })
}
