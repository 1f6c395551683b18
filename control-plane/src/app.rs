//! The application state every handler receives.

use pylon_shared::cache::{self, SharedCache};
use pylon_shared::changes::ChangeFeed;
use pylon_shared::config::Config;
use pylon_shared::db::Db;
use pylon_shared::net::IpNet;
use pylon_shared::secrets::{self, Secrets};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shared state of the control plane; cloned cheaply into every handler.
pub type AppState = Arc<App>;

/// Everything a handler may need.
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// The database (SQLite or MySQL).
    pub db: Db,
    /// Rate-limit counters and other short-lived values.
    pub cache: SharedCache,
    /// Announces changes to every proxy node.
    pub changes: Arc<ChangeFeed>,
    /// Session signing and key encryption secrets.
    pub secrets: Secrets,
    /// Peers whose client-IP header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Unix time this process started (reported by /api/status).
    pub started_at: i64,
    /// The operator's settings, kept current by the change feed.
    pub settings: Arc<crate::settings::Settings>,
    /// Prometheus metrics of this process.
    pub metrics: crate::metrics::Metrics,
}

/// Keep change events for this long; nodes further behind reload everything anyway.
const CHANGE_RETENTION_SECS: i64 = 3600;

impl App {
    /// Connects the database and cache, applies migrations, resolves secrets and starts the
    /// background housekeeping.
    pub async fn start(config: Config) -> anyhow::Result<AppState> {
        let db = Db::connect(&config).await?;
        db.migrate().await?;
        let cache = cache::connect(&config).await?;
        let secrets = secrets::resolve(&config, &db).await?;
        let changes = ChangeFeed::start(
            db.clone(),
            cache.clone(),
            Duration::from_millis(config.cache.change_poll_ms),
        )
        .await?;
        let settings = crate::settings::Settings::start(&db, &changes).await?;
        let trusted_proxies = config
            .auth
            .trusted_proxies
            .iter()
            .filter_map(|p| IpNet::parse(p))
            .collect();
        let started_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let app = Arc::new(App {
            config,
            db,
            cache,
            changes,
            secrets,
            trusted_proxies,
            started_at,
            settings,
            metrics: crate::metrics::Metrics::new()?,
        });
        tokio::spawn(housekeeping(Arc::clone(&app)));
        tokio::spawn(crate::log_retention::run(Arc::clone(&app)));
        tokio::spawn(crate::routes::subscription_clock(Arc::clone(&app)));
        tokio::spawn(crate::routes::monitor_clock(Arc::clone(&app)));
        tokio::spawn(crate::routes::task_poller(Arc::clone(&app)));
        tokio::spawn(crate::routes::midjourney_poller(Arc::clone(&app)));
        Ok(app)
    }
}

/// Periodic clean-up: expired sessions and old change events.
async fn housekeeping(app: AppState) {
    let mut ticker = tokio::time::interval(Duration::from_secs(300));
    let mut ticks: u64 = 0;
    loop {
        ticker.tick().await;
        // At start and every hour: the planner's statistics follow the tables' growth.
        if ticks.is_multiple_of(12)
            && let Err(error) = app.db.refresh_planner_statistics().await
        {
            tracing::warn!(%error, "refreshing the planner's statistics failed");
        }
        ticks += 1;
        if let Err(error) = app.db.purge_expired_sessions().await {
            tracing::warn!(%error, "purging expired sessions failed");
        }
        if let Err(error) = app.db.purge_changes(CHANGE_RETENTION_SECS).await {
            tracing::warn!(%error, "purging old change events failed");
        }
    }
}
