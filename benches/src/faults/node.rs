//! One Pylon node under test: `pylon-proxy` from `--bin-dir` (which starts its control plane)
//! on a fresh [`Scratch`], reaching MariaDB and Redis through [`Gate`]s so that a case can cut
//! them; killed, stopped and restarted on demand, its resident memory sampled meanwhile.

use super::options::Backend;
use super::scratch::{MYSQL_SERVER, REDIS_SERVER, Scratch};
use crate::compare::procs::{Launch, Spawned, free_port, wait_listening};
use crate::fresh;
use crate::outage::Gate;
use anyhow::bail;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How often the memory sampler reads the proxy's RSS.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// A running (or stopped) node.
pub struct Node {
    pub scratch: Scratch,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub metrics_url: String,
    pub listen: String,
    /// The gate in front of MariaDB (MySQL + Redis only).
    pub database_gate: Option<Gate>,
    /// The gate in front of Redis (MySQL + Redis only).
    pub redis_gate: Option<Gate>,
    launch: Launch,
    process: Option<Spawned>,
    /// The proxy's pid, for the sampler (0 while none runs).
    pid: Arc<AtomicU32>,
    /// Highest RSS sampled since [`Node::reset_peak`], KiB.
    peak_kib: Arc<AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Starts a node with the extra settings `env` and waits until `/api/status` answers.
    pub async fn start(
        scratch: Scratch,
        bin_dir: &Path,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let mut launch = Launch::new("pylon-proxy", bin_dir.join("pylon-proxy"), &[], 0)
            .env("PYLON__SERVER__LISTEN", listen.clone())
            .env(
                "PYLON__CONTROL_PLANE__LISTEN",
                format!("127.0.0.1:{}", free_port()?),
            )
            .env(
                "PYLON__DATA__DIR",
                scratch.dir.join("data").display().to_string(),
            )
            .env("PYLON__LOG__LEVEL", "warn")
            .cwd(&scratch.dir);
        launch.core = None;
        let metrics_port = free_port()?;
        launch = launch.env(
            "PYLON__SERVER__METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        );
        let (mut database_gate, mut redis_gate) = (None, None);
        match scratch.backend {
            Backend::Sqlite => {
                launch = launch.env("PYLON__DATABASE__URL", scratch.database_url());
            }
            Backend::MySqlRedis => {
                let database = Gate::start(MYSQL_SERVER.into()).await?;
                let redis = Gate::start(REDIS_SERVER.into()).await?;
                launch = launch
                    .env(
                        "PYLON__DATABASE__URL",
                        format!("mysql://root@{}/{}", database.addr(), scratch.name),
                    )
                    .env(
                        "PYLON__CACHE__REDIS_URL",
                        format!("redis://{}", redis.addr()),
                    )
                    .env("PYLON__CACHE__KEY_PREFIX", scratch.key_prefix());
                database_gate = Some(database);
                redis_gate = Some(redis);
            }
        }
        for (name, value) in env {
            launch = launch.env(name, value.clone());
        }
        let pid = Arc::new(AtomicU32::new(0));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let sampler = tokio::spawn(sample(Arc::clone(&pid), Arc::clone(&peak_kib)));
        let mut node = Self {
            base: format!("http://{listen}"),
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            listen,
            scratch,
            database_gate,
            redis_gate,
            launch,
            process: None,
            pid,
            peak_kib,
            sampler,
        };
        node.spawn().await?;
        node.wait_status().await?;
        Ok(node)
    }

    /// Starts the proxy and waits until it listens; returns how long that took.
    pub async fn spawn(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut process = Spawned::start(&self.launch, &self.scratch.dir)?;
        self.pid.store(process.pid, Ordering::SeqCst);
        wait_listening(&mut process, &self.listen, START_TIMEOUT).await?;
        self.process = Some(process);
        Ok(started.elapsed())
    }

    /// Waits until the control plane answers through the proxy.
    async fn wait_status(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let answered = client
                .get(format!("{}/api/status", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return Ok(());
            }
            if let Some(process) = self.process.as_mut() {
                process.check_running()?;
            }
            if Instant::now() > deadline {
                bail!("/api/status did not answer within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9` of the proxy and its control plane (a crashed node); waits until they are
    /// gone.
    pub async fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal_group("KILL");
            let _ = process.wait_exit(Duration::from_secs(10)).await;
            self.pid.store(0, Ordering::SeqCst);
            drop(process);
        }
    }

    /// SIGTERM to the proxy alone; waits up to `limit` for it to exit. Returns the time it
    /// took and its status (`None` if it did not exit; then it is killed).
    pub async fn terminate(&mut self, limit: Duration) -> (Duration, Option<ExitStatus>) {
        let sent = Instant::now();
        let Some(mut process) = self.process.take() else {
            return (Duration::ZERO, None);
        };
        process.signal("TERM");
        let status = process.wait_exit(limit).await;
        let took = sent.elapsed();
        // The control plane follows its parent; whatever is left of the group goes now.
        process.signal_group("KILL");
        let _ = process.wait_exit(Duration::from_secs(5)).await;
        self.pid.store(0, Ordering::SeqCst);
        (took, status)
    }

    /// The proxy's current resident memory, KiB (0 when none runs).
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid.load(Ordering::SeqCst), "VmRSS:")
    }

    /// The highest RSS sampled since the last reset, MiB.
    pub fn peak_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::SeqCst) as f64 / 1024.0
    }

    /// Restarts the peak measurement.
    pub fn reset_peak(&self) {
        self.peak_kib.store(self.rss_kib(), Ordering::SeqCst);
    }

    /// Sum of the proxy's metric lines that start with `prefix` (0 when unreadable).
    pub async fn metric(&self, prefix: &str) -> f64 {
        let text = match reqwest::Client::new()
            .get(&self.metrics_url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(answer) => answer.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    }

    /// Stops the node (SIGINT, then SIGKILL) and removes its scratch.
    pub async fn stop(mut self) {
        if let Some(process) = self.process.take() {
            process.stop().await;
        }
        self.sampler.abort();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.sampler.abort();
    }
}

async fn sample(pid: Arc<AtomicU32>, peak: Arc<AtomicU64>) {
    loop {
        let kib = status_kib(pid.load(Ordering::SeqCst), "VmRSS:");
        peak.fetch_max(kib, Ordering::SeqCst);
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// A `/proc/<pid>/status` field in KiB (0 when unreadable or `pid` is 0).
fn status_kib(pid: u32, field: &str) -> u64 {
    if pid == 0 {
        return 0;
    }
    fresh::status_kib(pid, field)
}
