//! The log retention task: every `control_plane.log_retention_interval_secs` it deletes request
//! log rows older than the retention age (the `LogRetentionDays` option while set, else
//! `control_plane.log_retention_days`; 0 keeps everything), `log_retention_batch` rows per
//! statement with `log_retention_pause_ms` between statements, so that it never holds the
//! settlement writer up for long. The per-hour aggregates are kept; everyone's per-minute
//! usage goes with the logs.

use crate::app::AppState;
use pylon_shared::db::now_secs;
use std::time::Duration;

const DAY_SECS: i64 = 86_400;

/// Runs for the life of the process.
pub async fn run(app: AppState) {
    let settings = &app.config.control_plane;
    let mut ticker =
        tokio::time::interval(Duration::from_secs(settings.log_retention_interval_secs));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let days = retention_days(&app);
        if days == 0 {
            continue;
        }
        let cutoff = now_secs().saturating_sub(days.saturating_mul(DAY_SECS));
        match purge(&app, cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, days, "deleted request logs past retention"),
            Err(error) => tracing::warn!(%error, "deleting old request logs failed"),
        }
        if let Err(error) = purge_minutes(&app, cutoff).await {
            tracing::warn!(%error, "deleting old per-minute usage failed");
        }
    }
}

/// Deletes everyone's per-minute usage before `cutoff` (they only answer the partial hours the
/// logs answered), an hour of it per statement with the same pause.
async fn purge_minutes(app: &AppState, cutoff: i64) -> Result<(), pylon_shared::db::DbError> {
    let pause = Duration::from_millis(app.config.control_plane.log_retention_pause_ms);
    while app.db.delete_usage_minutes_before(cutoff).await? > 0 {
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

/// The retention age in days in force now (0: keep every row).
fn retention_days(app: &AppState) -> i64 {
    match app.settings.now().number("LogRetentionDays") {
        Some(days) => days.max(0.0).floor() as i64,
        None => i64::try_from(app.config.control_plane.log_retention_days).unwrap_or(i64::MAX),
    }
}

/// Deletes every row created before `cutoff`, batch by batch; answers how many went. Also
/// serves an administrator's `DELETE /api/log/`.
pub(crate) async fn purge(app: &AppState, cutoff: i64) -> Result<u64, pylon_shared::db::DbError> {
    let settings = &app.config.control_plane;
    let pause = Duration::from_millis(settings.log_retention_pause_ms);
    let mut total = 0;
    loop {
        let deleted = app
            .db
            .delete_logs_before(cutoff, settings.log_retention_batch)
            .await?;
        total += deleted;
        if deleted < u64::from(settings.log_retention_batch) {
            return Ok(total);
        }
        tokio::time::sleep(pause).await;
    }
}
