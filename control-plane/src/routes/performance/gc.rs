//! `POST /api/performance/gc`: returns the allocator's free pages to the system and says how
//! much resident memory that gave back.

use super::COUNTERS;
use crate::auth::RootUser;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::response::IntoResponse;
use pylon_shared::memory::release_free_memory;
use pylon_shared::process_stats::process_memory;
use serde_json::json;

pub async fn gc(RootUser(root): RootUser) -> ApiResult {
    let (before, after) = tokio::task::spawn_blocking(|| {
        let before = process_memory().resident_bytes;
        release_free_memory();
        (before, process_memory().resident_bytes)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let returned = before.saturating_sub(after);
    COUNTERS.record_trim(returned);
    tracing::info!(
        root = root.user.id,
        before,
        after,
        "free heap pages returned"
    );
    Ok(Json(json!({
        "success": true,
        "message": format!(
            "GC executed: the allocator returned its free pages, resident memory {} -> {} ({} freed)",
            mib(before),
            mib(after),
            mib(returned)
        ),
        "data": {
            "resident_bytes_before": before,
            "resident_bytes_after": after,
            "freed_bytes": returned,
        },
    }))
    .into_response())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
