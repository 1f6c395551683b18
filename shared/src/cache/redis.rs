//! Redis cache via `fred`: a connection pool for commands; pub/sub clients are made on demand.

use super::{Cache, CacheError, LuaScript};
use async_trait::async_trait;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use std::time::Duration;

/// Increments a counter and starts its window on the first hit, atomically.
static HIT_SCRIPT: LuaScript = LuaScript::new(
    "local n = redis.call('INCR', KEYS[1]) \
    if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
);

/// A Redis-backed cache whose keys all start with the configured prefix.
pub struct RedisCache {
    pool: Pool,
    config: fred::types::config::Config,
    prefix: String,
}

impl RedisCache {
    /// Connects a small pool and checks the server answers. A command not answered within
    /// `command_timeout` fails (Redis down: callers fail fast instead of waiting for the
    /// reconnection).
    pub async fn connect(
        url: &str,
        prefix: &str,
        command_timeout: Duration,
    ) -> Result<Self, CacheError> {
        let config = fred::types::config::Config::from_url(url)?;
        let pool = Builder::from_config(config.clone())
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
            })
            .with_performance_config(|p| {
                p.default_command_timeout = command_timeout;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(4)?;
        pool.init().await?;
        let _: String = pool.ping(None).await?;
        Ok(Self {
            pool,
            config,
            prefix: prefix.to_string(),
        })
    }

    /// `key` with the deployment's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// The command pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A new client dedicated to subscriptions (it resubscribes after reconnecting).
    pub async fn subscriber(&self) -> Result<SubscriberClient, CacheError> {
        let client = Builder::from_config(self.config.clone())
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_subscriber_client()?;
        client.init().await?;
        client.manage_subscriptions();
        Ok(client)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(self.pool.get(self.key(key)).await?)
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let _: () = self
            .pool
            .set(
                self.key(key),
                value,
                Some(Expiration::PX(millis)),
                None,
                false,
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let _: i64 = self.pool.del(self.key(key)).await?;
        Ok(())
    }

    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let millis = window.as_millis().max(1).to_string();
        let count: i64 = HIT_SCRIPT
            .run(self.pool.next(), vec![self.key(key)], vec![millis])
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }

    fn redis(&self) -> Option<&RedisCache> {
        Some(self)
    }
}
