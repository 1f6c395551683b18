//! `GET /api/channel/test`: starts testing every channel not disabled by an admin (so that
//! channels disabled automatically can recover), a few at a time, in the background, and
//! answers at once as new-api does. Only one such run goes at a time.

use super::test::record;
use super::upstream;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use futures::StreamExt;
use pylon_shared::db::{CHANNEL_MANUALLY_DISABLED, ChannelRow};
use std::sync::atomic::{AtomicBool, Ordering};

/// Channels tested at the same time.
const CONCURRENCY: usize = 4;

/// Whether a run is in progress in this process.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Marks the run finished when dropped, however it ends.
struct RunGuard;

impl Drop for RunGuard {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::SeqCst);
    }
}

pub async fn test_all(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    if RUNNING
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(ApiError::invalid("A channel test is already running"));
    }
    let guard = RunGuard;
    let channels = app.db.all_channels().await?;
    tokio::spawn(run(app, channels, guard));
    Ok(envelope::ok_message(""))
}

async fn run(app: AppState, channels: Vec<ChannelRow>, _guard: RunGuard) {
    futures::stream::iter(
        channels
            .into_iter()
            .filter(|row| row.status != CHANNEL_MANUALLY_DISABLED),
    )
    .for_each_concurrent(CONCURRENCY, |row| {
        let app = app.clone();
        async move {
            let outcome = upstream::test_chat(&row, None).await;
            if let Err(error) = record(&app, &row, &outcome, true).await {
                tracing::warn!(channel = row.id, ?error, "recording a channel test failed");
            }
        }
    })
    .await;
    tracing::info!("testing all channels finished");
}
