//! `GET /api/public/status`: the public status page's data: each public monitor with its last
//! status, its uptime over the last 24 hours and 30 days (percent of checks up, null before the
//! first check) and its latest checks; `status` overall is `operational` (all up), `degraded`
//! (some down) or `down` (all down), `unknown` before any check.

use crate::app::AppState;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::{CheckHistory, now_secs};
use serde_json::{Value, json};

/// Checks shown per monitor.
const RECENT: i64 = 30;

pub async fn status(State(app): State<AppState>) -> ApiResult {
    let now = now_secs();
    let monitors = app.db.status_monitors(true).await?;
    let mut shown = Vec::with_capacity(monitors.len());
    for monitor in &monitors {
        let day = app
            .db
            .status_history(monitor.id, now - 86_400, RECENT)
            .await?;
        let month = app
            .db
            .status_history(monitor.id, now - 30 * 86_400, 0)
            .await?;
        shown.push(json!({
            "id": monitor.id,
            "name": monitor.name,
            "status": monitor.last_status,
            "last_checked_at": monitor.last_checked_at,
            "latency_ms": monitor.last_latency_ms,
            "uptime_24h": uptime(&day),
            "uptime_30d": uptime(&month),
            "recent": day.recent.iter().map(|(at, up, latency)| {
                json!({"checked_at": at, "up": up, "latency_ms": latency})
            }).collect::<Vec<_>>(),
        }));
    }
    let states: Vec<&str> = monitors.iter().map(|m| m.last_status.as_str()).collect();
    let overall = if states.is_empty() || states.iter().all(|s| *s == "unknown") {
        "unknown"
    } else if states.iter().all(|s| *s != "down") {
        "operational"
    } else if states.iter().all(|s| *s == "down") {
        "down"
    } else {
        "degraded"
    };
    Ok(envelope::ok(json!({
        "status": overall,
        "monitors": shown,
        "updated_at": now,
    })))
}

/// Percent of checks up, two decimals; null without checks.
fn uptime(history: &CheckHistory) -> Value {
    if history.checks == 0 {
        return Value::Null;
    }
    let hundredths = history.up * 10_000 / history.checks;
    json!(hundredths as f64 / 100.0)
}
