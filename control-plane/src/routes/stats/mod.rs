//! Seed 001's statistics (`GET /api/stats` and `/api/channel-usage` for administrators,
//! `GET /api/user/stats` for the caller), and the system overview seed 002's
//! `GET /api/admin/stats` renders in its own naming (see `routes::usage`). Every number comes
//! from the per-hour usage aggregates (`Db::usage_totals`, `Db::usage_breakdown`), never from
//! a scan of the logs. Seed 001's log lists (`/api/logs`, `/api/user/logs`) are the log
//! routes' own handlers (`routes::log::list`).
//!
//! The seed shows no answer shapes for these routes: they answer in new-api's envelope with
//! snake_case fields, as seed 001's other answers. Its JWT Bearer scheme is a later issue; the
//! caller authenticates as on every other route (session cookie or access token, with
//! `New-Api-User`).

pub(super) mod channel_usage;
pub(super) mod overview;
pub(super) mod own;

use crate::error::ApiError;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use pylon_shared::db::{HourRange, UsageLine, UsageTotals};
use serde::Deserialize;
use serde_json::{Value, json};

/// The optional time range of a statistics route: the hours starting in
/// `[start_timestamp, end_timestamp]` (unix seconds; either bound may be left out). The
/// aggregates are hourly, so a bound inside an hour takes that whole hour (as `/api/data/`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RangeQuery {
    start_timestamp: Option<i64>,
    end_timestamp: Option<i64>,
}

impl RangeQuery {
    /// The range asked for; a bound that is not a non-negative integer, or an end before the
    /// start, is refused.
    pub fn parse(query: Result<Query<Self>, QueryRejection>) -> Result<HourRange, ApiError> {
        let Query(query) =
            query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
        let start = query.start_timestamp.unwrap_or(0);
        let end = query.end_timestamp.unwrap_or(i64::MAX);
        if start < 0 || end < 0 {
            return Err(ApiError::invalid(
                "start_timestamp and end_timestamp must not be negative",
            ));
        }
        if end < start {
            return Err(ApiError::invalid(
                "end_timestamp must not be before start_timestamp",
            ));
        }
        Ok(HourRange {
            from: start - start % 3600,
            until: end,
        })
    }
}

/// Totals as seed 001's answers show them.
pub fn totals_view(totals: &UsageTotals) -> Value {
    json!({
        "requests": totals.requests,
        "errors": totals.errors,
        "quota": totals.quota,
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "cached_tokens": totals.cached_tokens,
        "total_tokens": totals.prompt_tokens.saturating_add(totals.completion_tokens),
    })
}

/// A per-model breakdown as seed 001's answers show it.
pub fn models_view(lines: &[UsageLine]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            let mut view = totals_view(&line.totals);
            view["model_name"] = json!(line.key);
            view
        })
        .collect()
}
