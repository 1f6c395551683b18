//! Stopping without losing money. SIGTERM: Pingora stops accepting; the streams in flight get
//! up to `billing.shutdown_grace_secs` to finish; then every finished request is written to the
//! database (or, with the database down, left in the fsync'd journal for the next start) and
//! the process exits. SIGINT: stop at once (the relay tasks end; what was finished is journaled
//! and written as far as `DRAIN_LIMIT` allows). SIGQUIT: Pingora's graceful upgrade.

use crate::state::ProxyState;
use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// How long the final write of finished requests may take before the journal keeps the rest.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The proxy's signal handling (given to Pingora's `Server::run`).
pub struct Signals {
    state: Arc<ProxyState>,
    /// The state runtime, where the drain runs.
    runtime: tokio::runtime::Handle,
    grace: Duration,
}

impl Signals {
    pub fn new(state: Arc<ProxyState>, runtime: tokio::runtime::Handle, grace: Duration) -> Self {
        Self {
            state,
            runtime,
            grace,
        }
    }
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let (Ok(mut terminate), Ok(mut interrupt), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot listen for signals; stopping");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = terminate.recv() => {
                tracing::info!(grace = ?self.grace, "SIGTERM: finishing the requests in flight, then writing their charges");
                let (state, grace) = (Arc::clone(&self.state), self.grace);
                self.runtime.spawn(async move {
                    drain(&state, grace).await;
                    tracing::info!("stopped cleanly");
                    std::process::exit(0);
                });
                ShutdownSignal::GracefulTerminate
            }
            _ = interrupt.recv() => {
                tracing::info!("SIGINT: stopping now");
                ShutdownSignal::FastShutdown
            }
            _ = quit.recv() => ShutdownSignal::GracefulUpgrade,
        }
    }
}

/// Waits (up to `grace`) for the requests in flight, then writes every finished one.
pub async fn drain(state: &ProxyState, grace: Duration) {
    if !state.relay.wait_idle(grace).await {
        tracing::warn!("requests still in flight after the grace period are cut");
    }
    state.relay.settler.drain(DRAIN_LIMIT).await;
    // Settlements of requests that wrote nothing (errors) release their holds too.
    state.relay.ledger.flush_settlements().await;
}
