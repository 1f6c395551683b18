//! `GET /api/user/checkin[?month=YYYY-MM]` (new-api) and `GET /api/user/check-in/status`
//! (seed 001): whether check-in is on, its reward range, and the caller's check-in statistics:
//! all-time totals, whether they checked in today, and the month's check-ins (this month of the
//! check-in time zone by default), newest first.

use super::checkin_config::CheckinConfig;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Query, State};
use serde_json::json;
use std::collections::HashMap;

pub async fn status(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    let config = CheckinConfig::load(&app).await?;
    config.require_enabled()?;
    let month = match params.get("month").map(|m| m.trim()) {
        None | Some("") => config.this_month(),
        Some(month) if is_month(month) => month.to_string(),
        Some(_) => {
            return Err(ApiError::invalid(
                "Invalid parameters: month must be YYYY-MM",
            ));
        }
    };
    let records = app
        .db
        .checkins_between(user.id, &format!("{month}-01"), &format!("{month}-31"))
        .await?;
    let totals = app.db.checkin_totals(user.id).await?;
    let checked_in_today = app.db.has_checkin(user.id, &config.today()).await?;
    let records: Vec<_> = records
        .iter()
        .map(|r| json!({ "checkin_date": r.day, "quota_awarded": r.quota }))
        .collect();
    Ok(envelope::ok(json!({
        "enabled": config.enabled,
        "min_quota": config.min_quota,
        "max_quota": config.max_quota,
        "timezone": config.timezone.name(),
        "stats": {
            "total_quota": totals.quota,
            "total_checkins": totals.count,
            "checkin_count": records.len(),
            "checked_in_today": checked_in_today,
            "records": records,
        },
    })))
}

/// `YYYY-MM` with a month from 01 to 12.
fn is_month(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && value[5..]
            .parse::<u8>()
            .is_ok_and(|m| (1..=12).contains(&m) && bytes[5..].iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::is_month;

    #[test]
    fn months_are_checked() {
        assert!(is_month("2025-01"));
        assert!(is_month("2025-12"));
        assert!(!is_month("2025-13"));
        assert!(!is_month("2025-00"));
        assert!(!is_month("2025-1"));
        assert!(!is_month("25-01-01"));
        assert!(!is_month("2025-+1"));
        assert!(!is_month("２０２５-01"));
    }
}
