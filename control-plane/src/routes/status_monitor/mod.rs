//! Seed 001's status monitors: administrators manage them (`GET/POST /api/status-monitors`,
//! `PUT/DELETE /api/status-monitors/{id}`) and check one at once
//! (`POST /api/status-monitors/{id}/check`); the control plane's clock checks each enabled
//! monitor every `interval_secs`; `GET /api/public/status` shows the public ones with their
//! uptime, and `GET /api/uptime/status` in new-api's Uptime Kuma shape. A monitor is an HTTP address (`kind: "http"`, up on 2xx/3xx within its timeout) or a
//! channel (`kind: "channel"`, `target` its id: up when the channel test's minimal chat request
//! succeeds).

pub mod check;
pub mod clock;
pub mod manage;
pub mod public;
pub mod uptime;

use pylon_shared::db::StatusMonitorRow;
use serde_json::{Value, json};

/// A monitor as administrators see it.
pub fn view(row: &StatusMonitorRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "target": row.target,
        "interval_secs": row.interval_secs,
        "timeout_secs": row.timeout_secs,
        "enabled": row.enabled == 1,
        "public": row.public == 1,
        "sort_order": row.sort_order,
        "last_status": row.last_status,
        "last_checked_at": row.last_checked_at,
        "last_latency_ms": row.last_latency_ms,
        "last_message": row.last_message,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}
