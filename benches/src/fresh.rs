//! A fresh database for a one-off benchmark, and Pylon started on it from a directory of
//! binaries: what `pylon-keys` and `pylon-logs` share. SQLite lives in a temporary directory;
//! MySQL gets a database of its own (the machine's MariaDB and Redis are shared, never
//! restarted); both are removed afterwards.

use crate::compare::procs::{Launch, Spawned, free_port};
use anyhow::bail;
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MYSQL_SERVER: &str = "mysql://root@127.0.0.1:3306";
const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// How long a start may take.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Which backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySqlRedis,
}

impl Backend {
    /// As reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::MySqlRedis => "MySQL+Redis",
        }
    }

    /// `sqlite`, `mysql` or `both` from the command line.
    pub fn parse_list(value: &str) -> anyhow::Result<Vec<Backend>> {
        Ok(match value {
            "sqlite" => vec![Backend::Sqlite],
            "mysql" => vec![Backend::MySqlRedis],
            "both" => vec![Backend::Sqlite, Backend::MySqlRedis],
            other => bail!("unknown backend {other} (sqlite, mysql or both)"),
        })
    }
}

/// A database made for one run (and its directory), dropped by [`Fresh::remove`].
pub struct Fresh {
    pub backend: Backend,
    /// Unique name: the MySQL database and the Redis key prefix.
    pub name: String,
    /// The run's directory (SQLite file, logs).
    pub dir: PathBuf,
    pub database_url: String,
}

impl Fresh {
    /// Creates the database `<prefix>_<pid>` (empty: Pylon applies its migrations on start).
    pub async fn create(backend: Backend, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}_{}", std::process::id());
        let fresh = Self::named(backend, name);
        std::fs::create_dir_all(fresh.dir.join("data"))?;
        if backend == Backend::MySqlRedis {
            let server = AnyPool::connect(MYSQL_SERVER).await?;
            server
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    fresh.name
                )))
                .await?;
            server.close().await;
        }
        Ok(fresh)
    }

    /// The database a run before made and kept (by [`Fresh::create`]'s `name`), to measure
    /// again without filling it again.
    pub async fn reopen(backend: Backend, name: &str) -> anyhow::Result<Self> {
        let fresh = Self::named(backend, name.to_string());
        if !fresh.dir.join("data").is_dir() {
            bail!("no kept run {name} in {}", fresh.dir.display());
        }
        // Fails unless the database is there.
        AnyPool::connect(&fresh.database_url).await?.close().await;
        Ok(fresh)
    }

    fn named(backend: Backend, name: String) -> Self {
        let dir = std::env::temp_dir().join(&name);
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}/data/pylon.db", dir.display()),
            Backend::MySqlRedis => format!("{MYSQL_SERVER}/{name}"),
        };
        Self {
            backend,
            name,
            dir,
            database_url,
        }
    }

    /// Drops the MySQL database and deletes the directory.
    pub async fn remove(self) {
        if self.backend == Backend::MySqlRedis
            && let Ok(server) = AnyPool::connect(MYSQL_SERVER).await
        {
            let _ = server
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE `{}`",
                    self.name
                )))
                .await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// `pylon-proxy` of `bin_dir` (which starts the control plane) on this database, on free
    /// ports, one worker thread, quiet logs; answers its launch and base URL.
    pub fn launch(&self, bin_dir: &Path) -> anyhow::Result<(Launch, String)> {
        let proxy_port = free_port()?;
        let control_port = free_port()?;
        let mut launch = Launch::new("pylon-proxy", bin_dir.join("pylon-proxy"), &[], 0)
            .env("PYLON__SERVER__LISTEN", format!("127.0.0.1:{proxy_port}"))
            .env("PYLON__SERVER__METRICS_LISTEN", "")
            .env("PYLON__SERVER__THREADS", "1")
            .env(
                "PYLON__CONTROL_PLANE__LISTEN",
                format!("127.0.0.1:{control_port}"),
            )
            .env(
                "PYLON__DATA__DIR",
                self.dir.join("data").display().to_string(),
            )
            .env("PYLON__DATABASE__URL", &self.database_url)
            .env("PYLON__LOG__LEVEL", "warn")
            .cwd(&self.dir);
        // The proxy's own pid is the one measured: no `taskset` in front of it.
        launch.core = None;
        if self.backend == Backend::MySqlRedis {
            launch = launch
                .env("PYLON__CACHE__REDIS_URL", REDIS_URL)
                .env("PYLON__CACHE__KEY_PREFIX", format!("{}:", self.name));
        }
        Ok((launch, format!("http://127.0.0.1:{proxy_port}")))
    }
}

/// Waits until `GET base + path` answers 2xx (`process` must stay up meanwhile).
pub async fn wait_answer(base: &str, path: &str, process: &mut Spawned) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let answer = client.get(format!("{base}{path}")).send().await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        process.check_running()?;
        if Instant::now() > deadline {
            bail!("{path} never answered");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `header` + rows, `per_statement` rows per statement, `per_transaction` statements per
/// transaction.
pub async fn insert_rows(
    pool: &AnyPool,
    header: &str,
    rows: &[String],
    per_statement: usize,
    per_transaction: usize,
) -> anyhow::Result<()> {
    for transaction in rows.chunks(per_statement * per_transaction) {
        let mut tx = pool.begin().await?;
        for statement in transaction.chunks(per_statement) {
            let sql = format!("{header}{}", statement.join(","));
            (&mut *tx).execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// A `/proc/<pid>/status` field in KiB (0 when unreadable).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// The `q` quantile of `samples` (nearest rank).
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 0.5), Duration::from_millis(6));
        assert_eq!(percentile(&samples, 1.0), Duration::from_millis(10));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(Backend::parse_list("both").unwrap().len(), 2);
        assert!(Backend::parse_list("oracle").is_err());
    }
}
