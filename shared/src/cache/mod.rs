//! The shared cache: one interface, two backends. Redis (via `fred`) when `cache.redis_url` is
//! set, so that every node sees the same counters; an in-process map otherwise (embedded mode,
//! where the control plane is the only writer of its own counters).

pub mod balances;
mod memory;
mod redis;
mod script;

pub use memory::MemoryCache;
pub use redis::RedisCache;
pub use script::LuaScript;

use crate::config::Config;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Errors from a cache backend.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis error: {0}")]
    Redis(#[from] fred::error::Error),
}

/// Operations every backend provides. Keys are given without the configured prefix.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value stored under `key`, if any and not expired.
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Adds one to the counter `key`, which starts a fixed window of length `window` on its
    /// first increment, and returns the new count.
    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError>;
    /// Which backend this is, for logs and /api/status.
    fn backend_name(&self) -> &'static str;
    /// The Redis client, when the backend is Redis (pub/sub and scripts use it directly).
    fn redis(&self) -> Option<&RedisCache> {
        None
    }
}

/// A shared handle to the configured cache.
pub type SharedCache = Arc<dyn Cache>;

/// Connects the backend the configuration names.
pub async fn connect(config: &Config) -> Result<SharedCache, CacheError> {
    if config.uses_redis() {
        Ok(Arc::new(
            RedisCache::connect(
                &config.cache.redis_url,
                &config.cache.key_prefix,
                Duration::from_millis(config.cache.command_timeout_ms),
            )
            .await?,
        ))
    } else {
        Ok(Arc::new(MemoryCache::new()))
    }
}
