//! A fresh place for one run of a case: a temporary directory, and on MySQL + Redis a new
//! database and a Redis key prefix of its own, all removed when dropped. The machine's MariaDB
//! and Redis are shared: only this run's database and keys are ever touched.

use super::options::Backend;
use crate::compare::pylon::remove_database_and_keys;
use anyhow::Context;
use sqlx::{AnyPool, Executor};
use std::path::PathBuf;

/// MariaDB on this machine (root, no password).
pub const MYSQL_SERVER: &str = "127.0.0.1:3306";
/// Redis on this machine.
pub const REDIS_SERVER: &str = "127.0.0.1:6379";

/// A run's directory, database and key prefix.
pub struct Scratch {
    pub backend: Backend,
    /// Unique name: the directory's, the MySQL database's and the Redis prefix's.
    pub name: String,
    pub dir: PathBuf,
}

impl Scratch {
    /// Creates the directory (and the MySQL database) for a run named after `case`.
    pub async fn create(backend: Backend, case: &str) -> anyhow::Result<Self> {
        let name = format!("pylon_faults_{}_{case}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        if backend == Backend::MySqlRedis {
            let server = AnyPool::connect(&format!("mysql://root@{MYSQL_SERVER}"))
                .await
                .context("MariaDB (root, no password) on 127.0.0.1:3306 is needed")?;
            server
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{name}`; \
                     CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )))
                .await?;
            server.close().await;
        }
        Ok(Self { backend, name, dir })
    }

    /// The database URL for direct reads (never through a gate).
    pub fn database_url(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}/data/pylon.db", self.dir.display()),
            Backend::MySqlRedis => format!("mysql://root@{MYSQL_SERVER}/{}", self.name),
        }
    }

    /// The settlement journal's file.
    pub fn journal(&self) -> PathBuf {
        self.dir.join("data/journal/settlements.jsonl")
    }

    /// The Redis key prefix.
    pub fn key_prefix(&self) -> String {
        format!("{}:", self.name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.backend != Backend::MySqlRedis {
            return;
        }
        remove_database_and_keys(&self.name, &self.key_prefix());
    }
}
