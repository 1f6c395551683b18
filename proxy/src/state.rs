//! The proxy's long-lived state (database, cache, change feed, metrics) and the dedicated
//! runtime it lives on. Pingora runs its services on runtimes of its own; clients created on a
//! throwaway runtime would die with it, so this one lives as long as the process.

use anyhow::Context;
use pylon_shared::cache::{self, SharedCache};
use pylon_shared::changes::ChangeFeed;
use pylon_shared::config::Config;
use pylon_shared::db::Db;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long to wait for the control plane to apply migrations at start.
const SCHEMA_WAIT: Duration = Duration::from_secs(120);

/// What every request handler of the proxy shares.
pub struct ProxyState {
    /// The loaded configuration.
    #[expect(dead_code, reason = "read by the relay (limits, timeouts)")]
    pub config: Arc<Config>,
    /// The database (read for snapshots, written in batches off the request path).
    #[expect(dead_code, reason = "read by the relay's snapshots and log writer")]
    pub db: Db,
    /// The shared cache.
    #[expect(dead_code, reason = "used by the relay's admission control")]
    pub cache: SharedCache,
    /// Changes published by the control plane.
    #[expect(dead_code, reason = "consumed by the relay's snapshots")]
    pub changes: Arc<ChangeFeed>,
    /// Prometheus instruments.
    pub metrics: Arc<crate::metrics::ProxyMetrics>,
    /// The control plane's address.
    pub control_plane: std::net::SocketAddr,
}

/// The runtime that owns the state's background tasks.
pub struct StateRuntime {
    runtime: tokio::runtime::Runtime,
    state: Arc<ProxyState>,
}

impl StateRuntime {
    /// Builds the runtime and connects everything on it.
    pub fn start(config: Arc<Config>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pylon-state")
            .enable_all()
            .build()
            .context("cannot build the state runtime")?;
        let state = runtime.block_on(connect(config))?;
        Ok(Self { runtime, state })
    }

    /// The shared state.
    pub fn state(&self) -> Arc<ProxyState> {
        Arc::clone(&self.state)
    }

    /// The runtime, for spawning background work.
    #[expect(dead_code, reason = "the relay's log writer spawns on it")]
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime.handle()
    }
}

async fn connect(config: Arc<Config>) -> anyhow::Result<Arc<ProxyState>> {
    let db = Db::connect(&config)
        .await
        .context("cannot open the database")?;
    wait_for_schema(&db).await?;
    let cache = cache::connect(&config)
        .await
        .context("cannot connect the cache")?;
    let changes = ChangeFeed::start(
        db.clone(),
        cache.clone(),
        Duration::from_millis(config.cache.change_poll_ms),
    )
    .await?;
    let control_plane = config
        .control_plane
        .listen
        .parse()
        .context("control_plane.listen")?;
    Ok(Arc::new(ProxyState {
        metrics: Arc::new(crate::metrics::ProxyMetrics::new()?),
        config,
        db,
        cache,
        changes,
        control_plane,
    }))
}

/// The control plane owns migrations; wait until it has applied the ones this build expects.
async fn wait_for_schema(db: &Db) -> anyhow::Result<()> {
    let deadline = Instant::now() + SCHEMA_WAIT;
    loop {
        match db.check_schema().await {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() < deadline => {
                tracing::debug!(%error, "waiting for the control plane to migrate the database");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error).context("the database schema never became ready"),
        }
    }
}
