//! new-api's system information pages (root): `GET /api/system-info/instances` lists the
//! running instances and `GET /api/system-task/list?limit=` the background maintenance tasks.
//!
//! Pylon keeps no instance registry (new-api's nodes write heartbeats to a table): the list
//! holds the control plane answering, always online, in new-api's item shape. Pylon's
//! maintenance (log retention) runs continuously in small batches rather than as tasks an
//! operator starts, so there are no system tasks to list: the list is empty, never an error.

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::now_secs;
use serde_json::json;

/// After how long without a heartbeat new-api calls an instance stale.
const STALE_AFTER_SECS: i64 = 120;

pub async fn instances(State(app): State<AppState>, _root: RootUser) -> ApiResult {
    let node_name = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "control-plane".to_string());
    Ok(envelope::ok(json!([{
        "node_name": node_name,
        "status": "online",
        "stale_after_seconds": STALE_AFTER_SECS,
        "started_at": app.started_at,
        "last_seen_at": now_secs(),
        "info": {
            "version": pylon_shared::VERSION,
            "role": "control-plane",
            "database_type": app.db.dialect().name(),
            "cache_type": app.cache.backend_name(),
        },
    }])))
}

pub async fn tasks(_root: RootUser) -> ApiResult {
    Ok(envelope::ok(Vec::<()>::new()))
}
