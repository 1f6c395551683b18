//! The proxy's long-lived state (database, cache, change feed, metrics) and the dedicated
//! runtime it lives on. Pingora runs its services on runtimes of its own; clients created on a
//! throwaway runtime would die with it, so this one lives as long as the process.

use crate::relay::Relay;
use crate::relay::affinity::Affinity;
use crate::relay::billing::{Balances, Journal, Ledger, Settler, SettlerSettings};
use crate::relay::rate_limit::RateLimiter;
use crate::relay::snapshot::{KeyCacheSettings, KeySource, Snapshot};
use anyhow::Context;
use pylon_shared::cache;
use pylon_shared::changes::ChangeFeed;
use pylon_shared::config::Config;
use pylon_shared::db::Db;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long to wait for the control plane to apply migrations at start.
const SCHEMA_WAIT: Duration = Duration::from_secs(120);
/// How often free heap pages are handed back to the system.
const MEMORY_RELEASE_PERIOD: Duration = Duration::from_secs(10);

/// What every request handler of the proxy shares.
pub struct ProxyState {
    /// The `/v1` relay.
    pub relay: Relay,
    /// Prometheus instruments.
    pub metrics: Arc<crate::metrics::ProxyMetrics>,
    /// The control plane's address.
    pub control_plane: std::net::SocketAddr,
    /// Client connections: caps and header deadlines.
    pub edge: Arc<crate::edge::Edge>,
}

/// The runtime that owns the state's background tasks.
pub struct StateRuntime {
    /// Its threads and tasks live as long as the process.
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

    /// A handle to spawn on the state runtime.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.runtime.handle().clone()
    }

    /// Runs `future` on the state runtime to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
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
    let metrics = Arc::new(crate::metrics::ProxyMetrics::new()?);
    let balances = Arc::new(Balances::default());
    let ledger = Arc::new(Ledger::new(
        Arc::clone(&balances),
        cache.clone(),
        db.clone(),
        Duration::from_millis(config.billing.lease_ms),
        Duration::from_millis(config.billing.settle_fold_ms),
        Arc::clone(&metrics),
    ));
    let key_source = KeySource {
        db: db.clone(),
        balances: Arc::clone(&balances),
        metrics: Arc::clone(&metrics),
        in_memory_balances: ledger.in_memory(),
    };
    let key_settings = KeyCacheSettings {
        capacity: config.relay.key_cache_capacity,
        unknown_ttl: Duration::from_millis(config.relay.unknown_key_ttl_ms),
    };
    let snapshot = Arc::new(Snapshot::new(key_settings, Some(key_source)));
    // Channels and prices only: keys and users are read when first presented.
    snapshot
        .reload_all(&db)
        .await
        .context("cannot load the relay snapshot")?;
    tokio::spawn(follow_changes(
        db.clone(),
        Arc::clone(&changes),
        Arc::clone(&snapshot),
        Arc::clone(&balances),
    ));
    tokio::spawn(release_memory_regularly());
    tokio::spawn(Arc::clone(&ledger).maintain(Duration::from_secs(config.billing.resync_secs)));
    // Before any request: what a crash or a stop during an outage left in the journal is
    // written first.
    let journal_dir = config.journal_dir();
    let (journal, replay) = tokio::task::spawn_blocking(move || Journal::open(&journal_dir))
        .await
        .context("opening the settlement journal")?
        .context("cannot open the settlement journal")?;
    if !replay.is_empty() {
        tracing::warn!(
            records = replay.len(),
            path = %journal.path().display(),
            "replaying finished requests a previous run did not write"
        );
    }
    let settler = Settler::start(
        db.clone(),
        Arc::clone(&balances),
        Arc::clone(&ledger),
        Arc::clone(&metrics),
        journal,
        replay,
        SettlerSettings {
            interval: Duration::from_millis(config.relay.flush_interval_ms),
            batch: config.relay.flush_batch,
            capacity: config.billing.queue_capacity,
            dead_letter_after: config.billing.dead_letter_after,
        },
    );
    let sessions = crate::relay::playground::Sessions::new(Arc::clone(&config), db.clone());
    let relay = Relay::new(
        config.relay.clone(),
        snapshot,
        ledger,
        settler,
        Arc::clone(&metrics),
        db,
        changes,
    )
    .with_affinity(Affinity::new(Arc::clone(&cache)))
    .with_rate_limiter(RateLimiter::new(cache))
    .with_playground(sessions);
    tokio::spawn(Arc::clone(&relay.rate_limiter).sweep_every(Duration::from_secs(300)));
    let edge = crate::edge::Edge::new(
        crate::edge::EdgeLimits {
            max_connections: config.server.max_connections,
            max_per_ip: config.server.max_connections_per_ip,
            header_timeout: Duration::from_secs(config.server.header_timeout_secs),
            keepalive_idle: Duration::from_secs(config.server.keepalive_idle_secs),
        },
        Arc::clone(&metrics),
    );
    Ok(Arc::new(ProxyState {
        metrics,
        relay,
        control_plane,
        edge,
    }))
}

/// Applies every change event to the snapshot; re-reads everything it holds when events were
/// lost, and every minute as a safety net. Reads of balances hold the flush lock (see `Balances`).
async fn follow_changes(
    db: Db,
    changes: Arc<ChangeFeed>,
    snapshot: Arc<Snapshot>,
    balances: Arc<Balances>,
) {
    let mut events = changes.subscribe();
    let mut safety = tokio::time::interval(Duration::from_secs(60));
    safety.tick().await;
    loop {
        let result = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let _flush = balances.flush_lock.lock().await;
                    snapshot.apply(&event, &db).await
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    let _flush = balances.flush_lock.lock().await;
                    snapshot.reload_all(&db).await
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = safety.tick() => {
                let _flush = balances.flush_lock.lock().await;
                snapshot.reload_all(&db).await
            }
        };
        if let Err(error) = result {
            tracing::warn!(%error, "applying a change to the relay snapshot failed");
        }
    }
}

/// Every few seconds, hands the heap's free pages back to the system (see
/// `pylon_shared::memory::release_free_memory`).
async fn release_memory_regularly() {
    let mut ticks = tokio::time::interval(MEMORY_RELEASE_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) =
            tokio::task::spawn_blocking(pylon_shared::memory::release_free_memory).await
        {
            tracing::warn!(%error, "releasing free memory failed");
        }
    }
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
