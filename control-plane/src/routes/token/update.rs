//! `PUT /api/token/` with the key's `id`: changes one of the caller's keys and answers it,
//! masked. With `?status_only=...` (any non-empty value, as new-api reads it) only `status`
//! changes: 1 enables, 2 disables; an expired or exhausted key cannot be enabled again until
//! its expiry or quota is changed. Otherwise the settings change and `status` is ignored, as in
//! new-api. A field left out keeps its value (new-api's console always sends them all).

use super::{NOT_FOUND, fields, view};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger;
use axum::extract::{Query, State};
use pylon_shared::db::{
    TOKEN_STATUS_DISABLED, TOKEN_STATUS_ENABLED, TOKEN_STATUS_EXHAUSTED, TOKEN_STATUS_EXPIRED,
    TokenChanges, TokenRow, TokenUpdate, UserRow, now_secs,
};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct UpdateQuery {
    status_only: Option<String>,
}

#[derive(Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    id: i64,
    name: Option<String>,
    status: Option<i64>,
    expired_time: Option<i64>,
    remain_quota: Option<i64>,
    unlimited_quota: Option<bool>,
    model_limits_enabled: Option<bool>,
    model_limits: Option<String>,
    allow_ips: Option<String>,
    group: Option<String>,
    cross_group_retry: Option<bool>,
    rpm_limit: Option<i64>,
    tpm_limit: Option<i64>,
    /// `None` when absent (unchanged); `Some(null)` clears.
    #[serde(default, deserialize_with = "present")]
    model_rpm_limit: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "present")]
    model_tpm_limit: Option<serde_json::Value>,
    /// Seed 001: the user channels the key is limited to (`null` or `[]`: none).
    #[serde(default, deserialize_with = "present")]
    user_channel_ids: Option<serde_json::Value>,
}

/// A field that is present, `null` included, as `Some`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde::Deserialize::deserialize(deserializer).map(Some)
}

pub async fn update(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(query): Query<UpdateQuery>,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    if request.id <= 0 {
        return Err(ApiError::invalid("Invalid parameters: id is required"));
    }
    let id = request.id;
    let stored = app
        .db
        .user_token(id, user.id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    let status_only = query.status_only.is_some_and(|v| !v.is_empty());
    let changes = if status_only {
        status_change(&request, &stored.row, now_secs())?
    } else {
        settings_change(&app, &user, request, &stored.row).await?
    };
    match app.db.update_user_token(id, user.id, &changes).await? {
        TokenUpdate::Updated { movement, changes } => {
            // The shared admission counter follows the key's balance by the same difference.
            ledger::after_commit(&app, movement.as_slice(), &changes).await;
        }
        TokenUpdate::NotFound => return Err(ApiError::invalid(NOT_FOUND)),
    }
    // Deleted meanwhile by a concurrent request: say so rather than answer a stale copy.
    let updated = app
        .db
        .user_token(id, user.id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    Ok(envelope::ok(view(&app, &updated)))
}

fn status_change(
    request: &UpdateRequest,
    stored: &TokenRow,
    now: i64,
) -> Result<TokenChanges, ApiError> {
    let status = request
        .status
        .ok_or_else(|| ApiError::invalid("Invalid parameters: status is required"))?;
    if status != TOKEN_STATUS_ENABLED && status != TOKEN_STATUS_DISABLED {
        return Err(ApiError::invalid(
            "Invalid parameters: status must be 1 (enabled) or 2 (disabled)",
        ));
    }
    if status == TOKEN_STATUS_ENABLED {
        check_can_enable(stored, now)?;
    }
    Ok(TokenChanges {
        status: Some(status),
        ..TokenChanges::default()
    })
}

/// new-api's rule: a key marked expired whose expiry has passed, or marked exhausted whose
/// quota is spent, stays off until that is changed.
fn check_can_enable(stored: &TokenRow, now: i64) -> Result<(), ApiError> {
    if stored.status == TOKEN_STATUS_EXPIRED
        && stored.expired_time != -1
        && stored.expired_time <= now
    {
        return Err(ApiError::invalid(
            "Token has expired and cannot be enabled. Please modify the expiration time or set \
             it to never expire",
        ));
    }
    if stored.status == TOKEN_STATUS_EXHAUSTED
        && stored.remain_quota <= 0
        && stored.unlimited_quota == 0
    {
        return Err(ApiError::invalid(
            "Token quota is exhausted and cannot be enabled. Please modify the remaining quota \
             or set it to unlimited",
        ));
    }
    Ok(())
}

/// The key's new `user_channel_ids`, checked against the group it will route as: the ones
/// given, or the stored ones again when only its group changes (`None`: unchanged).
async fn user_channel_change(
    app: &crate::app::App,
    user: &UserRow,
    request: &UpdateRequest,
    stored: &TokenRow,
) -> Result<Option<String>, ApiError> {
    let group = request.group.as_deref().unwrap_or(&stored.group);
    let routing_group = if group.is_empty() { &user.group } else { group };
    let ids = match &request.user_channel_ids {
        Some(ids) => ids.clone(),
        None if group != stored.group && !stored.user_channel_ids.is_empty() => {
            serde_json::Value::String(stored.user_channel_ids.clone())
        }
        None => return Ok(None),
    };
    super::user_channels::checked(app, routing_group, &ids)
        .await
        .map(Some)
}

async fn settings_change(
    app: &crate::app::App,
    user: &UserRow,
    request: UpdateRequest,
    stored: &TokenRow,
) -> Result<TokenChanges, ApiError> {
    if let Some(name) = &request.name {
        fields::check_name(name)?;
    }
    if let Some(quota) = request.remain_quota {
        fields::check_quota(quota)?;
    }
    // An expiry already stored may lie in the past; only a new one must be in the future.
    if let Some(expired_time) = request.expired_time.filter(|t| *t != stored.expired_time) {
        fields::check_expiry(expired_time, now_secs())?;
    }
    if let Some(allow_ips) = &request.allow_ips {
        fields::check_allow_ips(allow_ips)?;
    }
    if let Some(limit) = request.rpm_limit {
        fields::check_rpm_limit(limit)?;
    }
    if let Some(limit) = request.tpm_limit {
        fields::check_tpm_limit(limit)?;
    }
    let model_rpm_limit = request
        .model_rpm_limit
        .as_ref()
        .map(fields::model_rpm_limit)
        .transpose()?;
    let model_tpm_limit = request
        .model_tpm_limit
        .as_ref()
        .map(fields::model_tpm_limit)
        .transpose()?;
    if let Some(group) = request.group.as_deref().filter(|g| *g != stored.group) {
        fields::check_group(app, user, group).await?;
    }
    let user_channel_ids = user_channel_change(app, user, &request, stored).await?;
    let cross_group_retry = if request.group.is_some() || request.cross_group_retry.is_some() {
        let group = request.group.as_deref().unwrap_or(&stored.group);
        let requested = request
            .cross_group_retry
            .unwrap_or(stored.cross_group_retry != 0);
        Some(fields::cross_group_retry(group, requested))
    } else {
        None
    };
    Ok(TokenChanges {
        name: request.name,
        status: None,
        expired_time: request.expired_time,
        remain_quota: request.remain_quota,
        unlimited_quota: request.unlimited_quota,
        model_limits_enabled: request.model_limits_enabled,
        model_limits: request.model_limits,
        allow_ips: request.allow_ips,
        group: request.group,
        cross_group_retry,
        rpm_limit: request.rpm_limit,
        tpm_limit: request.tpm_limit,
        model_rpm_limit,
        model_tpm_limit,
        user_channel_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(status: i64, expired_time: i64, remain_quota: i64, unlimited: i64) -> TokenRow {
        TokenRow {
            id: 1,
            user_id: 1,
            name: String::new(),
            key_hash: String::new(),
            status,
            created_time: 0,
            accessed_time: 0,
            expired_time,
            remain_quota,
            unlimited_quota: unlimited,
            model_limits_enabled: 0,
            model_limits: String::new(),
            allow_ips: String::new(),
            used_quota: 0,
            group: String::new(),
            cross_group_retry: 0,
            rpm_limit: 0,
            tpm_limit: 0,
            model_rpm_limit: String::new(),
            model_tpm_limit: String::new(),
            user_channel_ids: String::new(),
        }
    }

    #[test]
    fn expired_or_exhausted_keys_stay_off() {
        let now = 1000;
        assert!(check_can_enable(&token(TOKEN_STATUS_EXPIRED, 999, 5, 0), now).is_err());
        assert!(check_can_enable(&token(TOKEN_STATUS_EXPIRED, 2000, 5, 0), now).is_ok());
        assert!(check_can_enable(&token(TOKEN_STATUS_EXPIRED, -1, 5, 0), now).is_ok());
        assert!(check_can_enable(&token(TOKEN_STATUS_EXHAUSTED, -1, 0, 0), now).is_err());
        assert!(check_can_enable(&token(TOKEN_STATUS_EXHAUSTED, -1, 0, 1), now).is_ok());
        assert!(check_can_enable(&token(TOKEN_STATUS_EXHAUSTED, -1, 10, 0), now).is_ok());
        assert!(check_can_enable(&token(TOKEN_STATUS_DISABLED, 999, 0, 0), now).is_ok());
    }
}
