//! Root's changes to invitation codes, as new-api's:
//! - `POST /api/invitation/` `{name, count, expired_time}`: creates `count` (1 to 100) codes
//!   `INV-` + 32 random characters, all or none; `data` lists them (the only time they are
//!   shown).
//! - `PUT /api/invitation/` `{id, name, expired_time}` renames a code and sets its expiry; with
//!   `?status_only=1`, `{id, status}` switches it on (1) or off (2), never a used one.
//! - `DELETE /api/invitation/{id}` deletes one; `DELETE /api/invitation/used` every used one
//!   (`data`: how many).

use super::view;
use crate::app::AppState;
use crate::auth::{AuthUser, RootUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::{Query, State};
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{
    INVITATION_DISABLED, INVITATION_ENABLED, InvitationStatusOutcome, normalize_invitation_code,
    now_secs,
};
use serde::Deserialize;
use std::collections::HashMap;

/// new-api's largest batch.
const MAX_COUNT: i64 = 100;
/// new-api's longest name.
const MAX_NAME_CHARS: usize = 20;
/// Random characters after the `INV-` prefix.
const CODE_CHARS: usize = 32;

#[derive(Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    count: i64,
    #[serde(default)]
    expired_time: i64,
}

#[derive(Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    status: i64,
    #[serde(default)]
    expired_time: i64,
}

fn checked_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "The name must be 1 to {MAX_NAME_CHARS} characters long"
        )));
    }
    Ok(name)
}

fn checked_expiry(expired_time: i64) -> Result<i64, ApiError> {
    if expired_time != 0 && expired_time <= now_secs() {
        return Err(ApiError::invalid(
            "The expiry time must be in the future (or 0 for never)",
        ));
    }
    Ok(expired_time)
}

pub async fn create(
    State(app): State<AppState>,
    RootUser(AuthUser { user: root }): RootUser,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let name = checked_name(&request.name)?;
    if request.count <= 0 {
        return Err(ApiError::invalid("The count must be greater than 0"));
    }
    if request.count > MAX_COUNT {
        return Err(ApiError::invalid(format!(
            "At most {MAX_COUNT} codes can be created at once"
        )));
    }
    let expired_time = checked_expiry(request.expired_time)?;
    let codes: Vec<String> = (0..request.count)
        .map(|_| normalize_invitation_code(&format!("INV-{}", random_alphanumeric(CODE_CHARS))))
        .collect();
    app.db
        .create_invitation_codes(name, root.id, expired_time, &codes)
        .await?;
    tracing::info!(
        root = root.id,
        count = codes.len(),
        "invitation codes created"
    );
    Ok(envelope::ok(codes))
}

pub async fn update(
    State(app): State<AppState>,
    _root: RootUser,
    Query(query): Query<HashMap<String, String>>,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    if request.id <= 0 {
        return Err(ApiError::invalid("Invalid id"));
    }
    let status_only = query.get("status_only").is_some_and(|v| !v.is_empty());
    if status_only {
        if request.status != INVITATION_ENABLED && request.status != INVITATION_DISABLED {
            return Err(ApiError::invalid(
                "The status must be 1 (enabled) or 2 (disabled)",
            ));
        }
        return match app
            .db
            .set_invitation_code_status(request.id, request.status)
            .await?
        {
            InvitationStatusOutcome::Changed(row) => Ok(envelope::ok(view(&row))),
            InvitationStatusOutcome::Used => Err(ApiError::invalid(
                "A used invitation code cannot be changed",
            )),
            InvitationStatusOutcome::NotFound => {
                Err(ApiError::invalid("Invitation code not found"))
            }
        };
    }
    let name = checked_name(&request.name)?;
    let expired_time = checked_expiry(request.expired_time)?;
    match app
        .db
        .update_invitation_code(request.id, name, expired_time)
        .await?
    {
        Some(row) => Ok(envelope::ok(view(&row))),
        None => Err(ApiError::invalid("Invitation code not found")),
    }
}

pub async fn delete(State(app): State<AppState>, _root: RootUser, PathId(id): PathId) -> ApiResult {
    if !app.db.delete_invitation_code(id).await? {
        return Err(ApiError::invalid("Invitation code not found"));
    }
    Ok(envelope::ok_message(""))
}

pub async fn delete_used(State(app): State<AppState>, _root: RootUser) -> ApiResult {
    Ok(envelope::ok(app.db.delete_used_invitation_codes().await?))
}
