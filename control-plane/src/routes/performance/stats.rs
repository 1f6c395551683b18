//! `GET /api/performance/stats` (see the module documentation) and
//! `POST /api/performance/reset_stats`.

use super::COUNTERS;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::process_stats::{
    disk_space, heap_usage, in_container, open_files, process_memory,
};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::Ordering;

pub async fn stats(State(app): State<AppState>, _: RootUser) -> ApiResult {
    let data_dir = app.config.data.dir.clone();
    let (memory, files, heap, space) = tokio::task::spawn_blocking(move || {
        (
            process_memory(),
            open_files(),
            heap_usage(),
            // The data directory, or where it would be created when it does not exist yet.
            data_dir.ancestors().find_map(|dir| {
                disk_space(if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                })
            }),
        )
    })
    .await
    .map_err(|e| crate::error::ApiError::Internal(e.into()))?;
    // Without glibc's counters the resident set is the nearest figure for both.
    let (alloc, held) = heap.map_or((memory.resident_bytes, memory.resident_bytes), |h| {
        (h.in_use_bytes, h.held_bytes)
    });
    let space = space.unwrap_or_default();
    let (pool_open, pool_idle) = app.db.pool_connections();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Ok(envelope::ok(json!({
        // No request-body cache on disk or in buffers to count (see `disk_cache`).
        "cache_stats": {
            "active_disk_files": 0,
            "current_disk_usage_bytes": 0,
            "active_memory_buffers": 0,
            "current_memory_usage_bytes": 0,
            "disk_cache_hits": 0,
            "memory_cache_hits": 0,
            "disk_cache_max_bytes": 0,
            "disk_cache_threshold_bytes": 0,
        },
        "memory_stats": {
            "alloc": alloc,
            "total_alloc": held,
            "sys": memory.resident_bytes,
            "num_gc": COUNTERS.trims.load(Ordering::Relaxed),
            "num_goroutine": tasks,
        },
        "disk_cache_info": {
            "path": "",
            "exists": false,
            "file_count": 0,
            "total_size": 0,
        },
        "disk_space_info": {
            "total": space.total,
            "free": space.free,
            "used": space.used,
            "used_percent": space.used_percent,
        },
        "config": {
            "disk_cache_enabled": false,
            "disk_cache_threshold_mb": 0,
            "disk_cache_max_size_mb": 0,
            "disk_cache_path": "",
            "is_running_in_container": in_container(),
            "monitor_enabled": false,
            "monitor_cpu_threshold": 0,
            "monitor_memory_threshold": 0,
            "monitor_disk_threshold": 0,
        },
        "process": {
            "pid": std::process::id(),
            "uptime_seconds": (now - app.started_at).max(0),
            "threads": memory.threads,
            "open_files": files,
            "resident_bytes": memory.resident_bytes,
            "peak_resident_bytes": memory.peak_resident_bytes,
            "gc_freed_bytes": COUNTERS.returned_bytes.load(Ordering::Relaxed),
            "data_dir": app.config.data.dir.display().to_string(),
            "db_pool": {
                "open": pool_open,
                "idle": pool_idle,
                "max": app.config.database.max_connections,
            },
        },
    })))
}

pub async fn reset(RootUser(root): RootUser) -> ApiResult {
    COUNTERS.reset();
    tracing::info!(root = root.user.id, "performance counters reset");
    Ok(Json(json!({"success": true, "message": "Statistics reset"})).into_response())
}
