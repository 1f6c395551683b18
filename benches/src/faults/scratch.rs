//! A fresh place for one run of a case ([`Fresh`]: a temporary directory, and on MySQL + Redis
//! a new database), removed when dropped together with the run's Redis keys, so that an error
//! half-way through a case leaves nothing behind. The machine's MariaDB and Redis are shared:
//! only this run's database and keys are ever touched.

use super::options::Backend;
use crate::compare::pylon::remove_database_and_keys;
use crate::fresh::Fresh;
use std::path::PathBuf;

/// MariaDB on this machine (root, no password).
pub const MYSQL_SERVER: &str = "127.0.0.1:3306";
/// Redis on this machine.
pub const REDIS_SERVER: &str = "127.0.0.1:6379";

/// A run's directory, database and key prefix.
pub struct Scratch {
    pub backend: Backend,
    /// Unique name: the MySQL database's and the Redis prefix's.
    pub name: String,
    pub dir: PathBuf,
    database_url: String,
}

impl Scratch {
    /// Creates the directory (and the MySQL database) for a run of `case`.
    pub async fn create(backend: Backend, case: &str) -> anyhow::Result<Self> {
        let fresh = Fresh::create(backend, &format!("pylon_faults_{case}")).await?;
        Ok(Self {
            backend,
            name: fresh.name,
            dir: fresh.dir,
            database_url: fresh.database_url,
        })
    }

    /// The database URL for direct reads (never through a gate).
    pub fn database_url(&self) -> String {
        self.database_url.clone()
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
        if self.backend == Backend::MySqlRedis {
            remove_database_and_keys(&self.name, &self.key_prefix());
        }
    }
}
