//! The monitors' clock: every `control_plane.monitor_tick_secs`, checks the enabled monitors
//! whose interval has passed (one at a time, each bounded by its timeout) and forgets checks
//! older than 30 days.

use super::check::check;
use crate::app::AppState;
use pylon_shared::db::now_secs;
use std::time::Duration;

/// Checks older than this are deleted.
const HISTORY_SECS: i64 = 30 * 86_400;

/// Runs until the process ends.
pub async fn run(app: AppState) {
    let every = Duration::from_secs(app.config.control_plane.monitor_tick_secs.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = match app.db.due_status_monitors(now_secs()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(%error, "reading the due monitors failed");
                continue;
            }
        };
        for monitor in &due {
            if let Err(error) = check(&app, monitor).await {
                tracing::warn!(?error, monitor = monitor.id, "checking a monitor failed");
            }
        }
        if let Err(error) = app.db.prune_status_checks(now_secs() - HISTORY_SECS).await {
            tracing::warn!(%error, "pruning monitor checks failed");
        }
    }
}
