//! `DELETE /api/log/?target_timestamp=<unix seconds>` (admin, new-api's history deletion):
//! deletes the log rows created before the timestamp, a small batch per statement with a pause
//! between (the retention task's purge, so that the settlement writer is never held up), and
//! answers how many went: `{"success": true, "message": "", "data": <rows>}`. The per-hour
//! aggregates stay, so statistics are unchanged. A missing, zero, negative or unreadable
//! timestamp is refused and deletes nothing. The route table's guard writes the audit entry.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeleteQuery {
    target_timestamp: Option<String>,
}

pub async fn delete(
    State(app): State<AppState>,
    _admin: AdminUser,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let cutoff = target(query.target_timestamp.as_deref())?;
    let deleted = crate::log_retention::purge(&app, cutoff).await?;
    tracing::info!(
        deleted,
        cutoff,
        "deleted request logs on an administrator's request"
    );
    Ok(envelope::ok(deleted))
}

/// The cut-off: a positive unix time in seconds (new-api's message when it is missing or 0).
fn target(raw: Option<&str>) -> Result<i64, ApiError> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() || raw == "0" {
        return Err(ApiError::invalid("target timestamp is required"));
    }
    match raw.parse::<i64>() {
        Ok(secs) if secs > 0 => Ok(secs),
        _ => Err(ApiError::invalid(
            "target_timestamp must be a positive unix time in seconds",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn only_positive_timestamps_are_taken() {
        assert_eq!(target(Some("1700000000")).ok(), Some(1_700_000_000));
        for bad in [
            None,
            Some(""),
            Some("0"),
            Some("-5"),
            Some("x"),
            Some("1.5"),
            Some("99999999999999999999"),
        ] {
            assert!(target(bad).is_err(), "{bad:?}");
        }
    }
}
