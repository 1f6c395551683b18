//! Administrators' monitor management: list, create, replace, delete. Bad input gets its
//! reason and changes nothing.

use super::view;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::extract::State;
use pylon_shared::db::{MONITOR_KINDS, StatusMonitorFields};
use serde::Deserialize;
use serde_json::Value;

/// Checks run at most this often, and wait at most this long.
const MIN_INTERVAL_SECS: i64 = 10;
const MAX_TIMEOUT_SECS: i64 = 60;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MonitorInput {
    name: String,
    kind: String,
    target: String,
    interval_secs: Option<i64>,
    timeout_secs: Option<i64>,
    enabled: Option<bool>,
    public: Option<bool>,
    sort_order: i64,
}

fn fields(input: &MonitorInput) -> Result<StatusMonitorFields<'_>, ApiError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(ApiError::invalid("The name must be 1 to 128 characters"));
    }
    let kind = input.kind.trim();
    if !MONITOR_KINDS.contains(&kind) {
        return Err(ApiError::invalid(format!(
            "kind must be one of {}",
            MONITOR_KINDS.join(", ")
        )));
    }
    let target = input.target.trim();
    let valid_target = match kind {
        "http" => url::Url::parse(target)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()),
        _ => target.parse::<i64>().is_ok_and(|id| id > 0),
    };
    if !valid_target || target.len() > 512 {
        return Err(ApiError::invalid(
            "target must be an http(s) address for kind http, a channel id for kind channel",
        ));
    }
    let interval_secs = input.interval_secs.unwrap_or(60);
    if interval_secs < MIN_INTERVAL_SECS {
        return Err(ApiError::invalid(format!(
            "interval_secs must be at least {MIN_INTERVAL_SECS}"
        )));
    }
    let timeout_secs = input.timeout_secs.unwrap_or(10);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout_secs) {
        return Err(ApiError::invalid(format!(
            "timeout_secs must be 1 to {MAX_TIMEOUT_SECS}"
        )));
    }
    Ok(StatusMonitorFields {
        name,
        kind,
        target,
        interval_secs,
        timeout_secs,
        enabled: input.enabled.unwrap_or(true),
        public: input.public.unwrap_or(true),
        sort_order: input.sort_order,
    })
}

pub async fn list(State(app): State<AppState>, _admin: AdminUser) -> ApiResult {
    let rows = app.db.status_monitors(false).await?;
    Ok(envelope::ok(rows.iter().map(view).collect::<Vec<_>>()))
}

pub async fn create(
    State(app): State<AppState>,
    _admin: AdminUser,
    ApiJson(input): ApiJson<MonitorInput>,
) -> ApiResult {
    let id = app.db.create_status_monitor(&fields(&input)?).await?;
    let row = app.db.status_monitor(id).await?;
    let row = row.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("monitor {id} vanished")))?;
    Ok(envelope::ok(view(&row)))
}

pub async fn update(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
    ApiJson(input): ApiJson<MonitorInput>,
) -> ApiResult {
    if !app.db.update_status_monitor(id, &fields(&input)?).await? {
        return Err(ApiError::invalid("The monitor does not exist"));
    }
    let row = app.db.status_monitor(id).await?;
    Ok(envelope::ok(row.as_ref().map_or(Value::Null, view)))
}

pub async fn delete(
    State(app): State<AppState>,
    _admin: AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    if !app.db.delete_status_monitor(id).await? {
        return Err(ApiError::invalid("The monitor does not exist"));
    }
    Ok(envelope::ok(Value::Null))
}
