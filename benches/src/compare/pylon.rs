//! Pylon under test: both release binaries on the system-under-test core (one proxy thread),
//! on a fresh SQLite file or a fresh MySQL database `pylon_bench_<pid>` plus Redis with a
//! unique key prefix (both removed afterwards), and set up only through its public API: root
//! account, login, prices, channels pointing at the mocks (two for the retry model, the first
//! answering 500), a key, with auth, routing, billing and logging all on.

use super::procs::{Launch, SUT_CORE, Spawned, free_port, output, wait_listening};
use super::results::SystemKind;
use super::sut::Sut;
use super::upstreams::{Mocks, Upstream};
use crate::console::{Console, wait_routable};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// The model whose first channel fails.
pub const RETRY_MODEL: &str = "bench-retry";
const ROOT_PASSWORD: &str = "bench-root-password";
/// Quota given to root (enough for every request of a run, far under the API's maximum).
const ROOT_QUOTA: i64 = 100_000_000_000_000;
const START_TIMEOUT: Duration = Duration::from_secs(60);
const MYSQL_SERVER: &str = "mysql://root@127.0.0.1:3306";

/// Which storage Pylon runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded: SQLite file + in-process cache.
    Sqlite,
    /// MySQL (MariaDB) + Redis on loopback.
    MySqlRedis,
}

/// A fresh MySQL database and Redis key prefix, dropped (and the keys deleted) on drop.
struct MysqlScratch {
    name: String,
}

impl MysqlScratch {
    async fn create() -> anyhow::Result<Self> {
        let name = format!("pylon_bench_{}", std::process::id());
        output("redis-cli", &["-h", "127.0.0.1", "-p", "6379", "ping"])
            .await
            .context("Redis on 127.0.0.1:6379 is needed for Pylon on MySQL + Redis")?;
        let sql = format!(
            "DROP DATABASE IF EXISTS `{name}`; \
             CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        );
        output(
            "mysql",
            &["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", &sql],
        )
        .await
        .context("MySQL (root, no password) on 127.0.0.1:3306 is needed")?;
        Ok(Self { name })
    }

    fn url(&self) -> String {
        format!("{MYSQL_SERVER}/{}", self.name)
    }

    fn key_prefix(&self) -> String {
        format!("{}:", self.name)
    }
}

impl Drop for MysqlScratch {
    fn drop(&mut self) {
        remove_database_and_keys(&self.name, &self.key_prefix());
    }
}

/// Drops the MySQL database `name` and deletes the Redis keys under `key_prefix` (bounded: one
/// scan of the keyspace, then one DEL per batch). Errors are ignored: this is clean-up.
pub fn remove_database_and_keys(name: &str, key_prefix: &str) {
    let _ = std::process::Command::new("mysql")
        .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e"])
        .arg(format!("DROP DATABASE IF EXISTS `{name}`"))
        .output();
    let keys = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", "6379", "--scan", "--pattern"])
        .arg(format!("{key_prefix}*"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    for batch in keys.chunks(500) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", "6379", "DEL"])
            .args(batch)
            .output();
    }
}

/// Starts Pylon on `backend` and sets it up through its API.
pub async fn start(
    bin_dir: &Path,
    run_dir: &Path,
    mocks: &Mocks,
    backend: Backend,
    version: &str,
) -> anyhow::Result<Sut> {
    let (kind, dir_name) = match backend {
        Backend::Sqlite => (SystemKind::PylonSqlite, "pylon-sqlite"),
        Backend::MySqlRedis => (SystemKind::PylonMysql, "pylon-mysql"),
    };
    let dir = run_dir.join(dir_name);
    std::fs::create_dir_all(&dir)?;
    let proxy_port = free_port()?;
    let metrics_port = free_port()?;
    let control_port = free_port()?;
    let mut launch = Launch::new(dir_name, bin_dir.join("pylon-proxy"), &[], SUT_CORE)
        .env("PYLON__SERVER__LISTEN", format!("127.0.0.1:{proxy_port}"))
        .env(
            "PYLON__SERVER__METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("PYLON__SERVER__THREADS", "1")
        .env(
            "PYLON__CONTROL_PLANE__LISTEN",
            format!("127.0.0.1:{control_port}"),
        )
        .env("PYLON__DATA__DIR", dir.join("data").display().to_string())
        .cwd(&dir);
    let scratch = match backend {
        Backend::Sqlite => {
            launch = launch.env("PYLON__DATABASE__URL", "sqlite://data/pylon.db");
            None
        }
        Backend::MySqlRedis => {
            let scratch = MysqlScratch::create().await?;
            launch = launch
                .env("PYLON__DATABASE__URL", scratch.url())
                .env("PYLON__CACHE__REDIS_URL", "redis://127.0.0.1:6379")
                .env("PYLON__CACHE__KEY_PREFIX", scratch.key_prefix());
            Some(scratch)
        }
    };
    let base = format!("http://127.0.0.1:{proxy_port}");
    let mut sut = Sut::one_base(kind, version.to_string(), &base);
    if let Some(scratch) = scratch {
        sut.hold(Box::new(scratch));
    }
    let mut process = Spawned::start(&launch, run_dir)?;
    wait_listening(
        &mut process,
        &format!("127.0.0.1:{proxy_port}"),
        START_TIMEOUT,
    )
    .await?;
    sut.own(process);
    sut.metrics_url = Some(format!("http://127.0.0.1:{metrics_port}/metrics"));
    wait_ready(&mut sut, &base).await?;
    let key = set_up(&base, mocks).await?;
    wait_every_model_routable(&base, &key).await?;
    sut.key = Some(key);
    sut.retry_model = Some(RETRY_MODEL.into());
    Ok(sut)
}

/// Waits until the control plane answers through the proxy.
async fn wait_ready(sut: &mut Sut, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let ready = client
            .get(format!("{base}/api/status"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        sut.check_running()?;
        if Instant::now() > deadline {
            bail!("Pylon did not answer /api/status within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Root account, prices, channels and a key; returns the key (`sk-...`).
async fn set_up(base: &str, mocks: &Mocks) -> anyhow::Result<String> {
    use reqwest::Method;
    let console = Console::set_up_root(base, ROOT_PASSWORD).await?;
    let user_id = console.user_id();
    let mut ratios = serde_json::Map::new();
    for upstream in Upstream::ALL {
        ratios.insert(upstream.model().into(), json!(1));
    }
    ratios.insert(RETRY_MODEL.into(), json!(1));
    console
        .call(
            Method::PUT,
            "/api/option/",
            json!({"key": "ModelRatio", "value": Value::Object(ratios).to_string()}),
        )
        .await?;
    console
        .call(
            Method::PUT,
            "/api/user/",
            json!({"id": user_id, "quota": ROOT_QUOTA}),
        )
        .await?;
    let json_mock = format!("http://{}", mocks.addr(Upstream::Json));
    let mut channels = vec![
        channel(
            "retry-failing",
            &json_mock,
            RETRY_MODEL,
            10,
            r#"{"x-mock-status":"500"}"#,
        ),
        channel("retry-healthy", &json_mock, RETRY_MODEL, 0, ""),
    ];
    for upstream in Upstream::ALL {
        let url = format!("http://{}", mocks.addr(upstream));
        channels.push(channel(upstream.model(), &url, upstream.model(), 0, ""));
    }
    for ch in channels {
        console
            .call(
                Method::POST,
                "/api/channel/",
                json!({"mode": "single", "channel": ch}),
            )
            .await?;
    }
    let (_, key) = console.create_key("bench", None).await?;
    Ok(key)
}

/// A channel of type OpenAI at `base_url` serving `model`.
fn channel(name: &str, base_url: &str, model: &str, priority: i64, headers: &str) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": model,
        "group": "default", "priority": priority, "weight": 0, "header_override": headers,
    })
}

/// Waits until the proxy's snapshot has the key and every model (the change feed's bound).
async fn wait_every_model_routable(base: &str, key: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    for model in Upstream::ALL.iter().map(|u| u.model()).chain([RETRY_MODEL]) {
        wait_routable(base, key, model, deadline).await?;
    }
    Ok(())
}

/// Sum of the proxy's `pylon_proxy_relay_retries_total` counters.
pub async fn retries_total(metrics_url: &str) -> Option<f64> {
    let text = reqwest::Client::new()
        .get(metrics_url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("pylon_proxy_relay_retries_total"))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum(),
    )
}
