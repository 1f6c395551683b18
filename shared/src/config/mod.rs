//! Pylon's configuration: the typed settings, loaded from defaults, an optional file and the
//! environment (see `layers`), then checked as a whole (see `checks`).

mod checks;
mod layers;

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use layers::ConfigError;

/// The commented defaults file, compiled in: the single source of every default.
pub const DEFAULTS_TOML: &str = include_str!("../../../config/pylon.toml");

/// Every setting of both processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub control_plane: ControlPlaneConfig,
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
    pub data: DataConfig,
    pub auth: AuthConfig,
    pub security: SecurityConfig,
    pub relay: RelayConfig,
    pub billing: BillingConfig,
    pub log: LogConfig,
}

/// The public listener of pylon-proxy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub metrics_listen: String,
    pub threads: usize,
    /// Pingora's work-stealing runtime (else one single-threaded runtime per thread).
    pub work_stealing: bool,
    pub read_buffer_bytes: usize,
    pub public_url: String,
    /// Open client connections at most (0: no cap).
    pub max_connections: usize,
    /// Open client connections per client address at most (0: no cap).
    pub max_connections_per_ip: usize,
    /// Seconds a new connection has to deliver a complete request header.
    pub header_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request header.
    pub keepalive_idle_secs: u64,
}

/// The internal listener of pylon-control-plane and how the proxy runs it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneConfig {
    pub listen: String,
    pub spawn: bool,
    pub max_body_bytes: usize,
    /// Request log rows older than this many days are deleted (0: kept for ever).
    pub log_retention_days: u64,
    /// Rows deleted per statement by the retention task.
    pub log_retention_batch: u32,
    /// Pause between two retention statements, so writers are never starved.
    pub log_retention_pause_ms: u64,
    /// How often the retention task looks for old rows.
    pub log_retention_interval_secs: u64,
    /// How often subscriptions due for a quota reset are reset and ended ones expired.
    pub subscription_tick_secs: u64,
    /// How often the status monitors due for a check are checked.
    pub monitor_tick_secs: u64,
    /// How often unfinished asynchronous tasks are asked about at their upstream.
    pub task_poll_ms: u64,
    /// OpenAI's OAuth server, where Codex channels sign in and refresh their credentials.
    pub codex_auth_url: String,
    /// GitHub's sign-in server (`/login/oauth/access_token`).
    pub github_url: String,
    /// GitHub's API (`/user`).
    pub github_api_url: String,
    /// Discord's API, with its version (`/oauth2/token`, `/users/@me`).
    pub discord_api_url: String,
    /// LinuxDO Connect (`/oauth2/token`, `/api/user`).
    pub linuxdo_url: String,
    /// new-api's official model and vendor metadata (`{url}/api/newapi/models.json`,
    /// `vendors.json`, and per locale `{url}/api/i18n/{locale}/newapi/...`), read by
    /// `/api/models/sync_upstream*`.
    pub model_metadata_url: String,
    /// Longest wait for the metadata source's answers.
    pub model_metadata_timeout_secs: u64,
    /// io.net's API, where `/api/deployments/*` manages GPU model deployments (public
    /// endpoints under `/v1/io-cloud/caas`, enterprise ones under `/enterprise/v1/io-cloud/caas`).
    pub ionet_api_url: String,
    /// Longest wait for one io.net answer.
    pub ionet_timeout_secs: u64,
}

/// Where the durable state lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

/// The shared cache and change feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub redis_url: String,
    pub key_prefix: String,
    pub change_poll_ms: u64,
    /// Longest wait for one Redis command; then it fails (admission answers 503).
    pub command_timeout_ms: u64,
}

/// Local files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: PathBuf,
}

/// Sessions, access tokens and login throttling.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub session_secret: String,
    pub session_ttl_hours: u64,
    pub access_token_ttl_days: u64,
    pub login_attempts_per_ip: u64,
    pub login_failures_per_account: u64,
    pub login_window_secs: u64,
    pub client_ip_header: String,
    pub trusted_proxies: Vec<String>,
}

/// Secrets protecting stored data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    pub key_encryption_secret: String,
}

/// The /v1 relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    pub max_body_bytes: usize,
    pub max_retries: usize,
    pub connect_timeout_secs: u64,
    pub response_header_timeout_secs: u64,
    pub first_token_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub request_timeout_secs: u64,
    pub default_max_tokens: i64,
    pub min_completion_tokens: i64,
    pub max_usage_tokens: i64,
    pub flush_interval_ms: u64,
    pub flush_batch: usize,
    pub circuit_failures: u32,
    pub circuit_window_secs: u64,
    pub circuit_cooldown_secs: u64,
    pub auto_disable_statuses: Vec<u16>,
    pub sticky_header: String,
    pub shed_delay_ms: u64,
    pub shed_after_ms: u64,
    pub key_cache_capacity: usize,
    pub unknown_key_ttl_ms: u64,
    pub upstream_http2: UpstreamHttp2,
}

/// Which HTTP version the relay speaks to upstreams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamHttp2 {
    /// HTTP/1.1 only.
    Off,
    /// Over TLS, offer HTTP/2 and HTTP/1.1 and use what the upstream picks (ALPN), as Go's
    /// client (new-api's) does; plain-text upstreams get HTTP/1.1.
    Negotiate,
    /// As `negotiate` over TLS; plain-text upstreams get HTTP/2 at once (h2c with prior
    /// knowledge), for upstreams known to speak it.
    PriorKnowledge,
}

/// The shared admission counters (Redis).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    pub lease_ms: u64,
    pub resync_secs: u64,
    /// With Redis: how long a settlement waits for a reservation of its node to carry it.
    pub settle_fold_ms: u64,
    /// Directory of the settlement journal; empty: `journal` under `data.dir`.
    pub journal_dir: String,
    /// On SIGTERM, how long streams in flight may take to finish before the proxy exits.
    pub shutdown_grace_secs: u64,
    /// Finished requests waiting for the database beyond which admission answers 503.
    pub queue_capacity: usize,
    /// Failed writes of one record (with the database up) before it is set aside.
    pub dead_letter_after: u32,
}

impl Config {
    /// Where the proxy's settlement journal lives.
    pub fn journal_dir(&self) -> PathBuf {
        if self.billing.journal_dir.is_empty() {
            self.data.dir.join("journal")
        } else {
            PathBuf::from(&self.billing.journal_dir)
        }
    }
}

/// Process logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
}

impl Config {
    /// Loads defaults, then `file` if given, then `PYLON__*` variables from `env`, and checks
    /// the result. Every problem found is reported in one error.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let merged = layers::merge(file, env)?;
        let config: Config = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(vec![e.to_string()]))?;
        checks::check(&config)?;
        Ok(config)
    }

    /// Loads from the process environment and the `--config FILE` argument, if any.
    pub fn from_process() -> Result<Self, ConfigError> {
        let file = config_file_argument(std::env::args())?;
        Self::load(file.as_deref(), std::env::vars())
    }

    /// True when the database is an embedded SQLite file.
    pub fn is_embedded(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }

    /// True when a Redis URL is configured.
    pub fn uses_redis(&self) -> bool {
        !self.cache.redis_url.is_empty()
    }
}

/// Reads `--config FILE` (or `--config=FILE`) from the command line; any other argument is an error.
pub fn config_file_argument(
    args: impl IntoIterator<Item = String>,
) -> Result<Option<PathBuf>, ConfigError> {
    let mut args = args.into_iter().skip(1);
    let mut file = None;
    while let Some(arg) = args.next() {
        if arg == "--config" || arg == "-c" {
            match args.next() {
                Some(path) => file = Some(PathBuf::from(path)),
                None => return Err(ConfigError(vec!["--config needs a file path".into()])),
            }
        } else if let Some(path) = arg.strip_prefix("--config=") {
            file = Some(PathBuf::from(path));
        } else {
            return Err(ConfigError(vec![format!(
                "unknown argument `{arg}` (usage: --config FILE; settings also come from PYLON__SECTION__KEY variables)"
            )]));
        }
    }
    Ok(file)
}
