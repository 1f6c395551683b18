//! Administrators' announcement management: `POST /api/announcements` creates,
//! `PUT /api/announcements/{id}` changes the fields it is given (the others stay),
//! `DELETE /api/announcements/{id}` deletes. Bad input gets its reason and changes nothing.

use super::view;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::State;
use pylon_shared::db::AnnouncementFields;
use serde::Deserialize;

/// The longest title (`announcements.title`), in characters.
const MAX_TITLE_CHARS: usize = 255;
/// The longest content (a MySQL `TEXT`), in bytes.
const MAX_CONTENT_BYTES: usize = 65_535;

/// The fields a request sets; absent ones keep their value (or their default when creating).
#[derive(Deserialize)]
pub struct AnnouncementInput {
    title: Option<String>,
    content: Option<String>,
    enabled: Option<bool>,
    sort_order: Option<i64>,
}

/// Checks the fields an announcement would have.
fn checked(fields: AnnouncementFields<'_>) -> Result<AnnouncementFields<'_>, ApiError> {
    let title_chars = fields.title.trim().chars().count();
    if title_chars == 0 || fields.title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(
            "The announcement title must be 1 to 255 characters",
        ));
    }
    if fields.content.trim().is_empty() {
        return Err(ApiError::invalid("The announcement content is empty"));
    }
    if fields.content.len() > MAX_CONTENT_BYTES {
        return Err(ApiError::invalid(
            "The announcement content is longer than 65535 bytes",
        ));
    }
    Ok(fields)
}

pub async fn create(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(input): ApiJson<AnnouncementInput>,
) -> ApiResult {
    let fields = checked(AnnouncementFields {
        title: input.title.as_deref().unwrap_or(""),
        content: input.content.as_deref().unwrap_or(""),
        enabled: input.enabled.unwrap_or(true),
        sort_order: input.sort_order.unwrap_or(0),
    })?;
    let id = app.db.create_announcement(&fields).await?;
    let row = app
        .db
        .announcement(id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("announcement {id} vanished")))?;
    Ok(envelope::ok(view(&row)))
}

pub async fn update(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<AnnouncementInput>,
) -> ApiResult {
    let Some(stored) = app.db.announcement(id).await? else {
        return Err(ApiError::invalid("Announcement not found"));
    };
    let fields = checked(AnnouncementFields {
        title: input.title.as_deref().unwrap_or(&stored.title),
        content: input.content.as_deref().unwrap_or(&stored.content),
        enabled: input.enabled.unwrap_or(stored.enabled == 1),
        sort_order: input.sort_order.unwrap_or(stored.sort_order),
    })?;
    if !app.db.update_announcement(id, &fields).await? {
        return Err(ApiError::invalid("Announcement not found"));
    }
    let row = app
        .db
        .announcement(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Announcement not found"))?;
    Ok(envelope::ok(view(&row)))
}

pub async fn delete(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    if !app.db.delete_announcement(id).await? {
        return Err(ApiError::invalid("Announcement not found"));
    }
    Ok(envelope::ok_message(""))
}
