//! Redis cache via `fred`: a connection pool for commands; pub/sub clients are made on demand;
//! and, for commands on a request's path, a connection per calling thread (see
//! [`RedisCache::local`]).

use super::{Cache, CacheError, LuaScript};
use async_trait::async_trait;
use fred::clients::SubscriberClient;
use fred::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Distinguishes the caches of one process in the threads' connection maps.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's own connections, by cache.
    static LOCAL_CLIENTS: RefCell<HashMap<u64, Client>> = RefCell::new(HashMap::new());
}

/// Increments a counter and starts its window on the first hit, atomically.
static HIT_SCRIPT: LuaScript = LuaScript::new(
    "local n = redis.call('INCR', KEYS[1]) \
    if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
);

/// A Redis-backed cache whose keys all start with the configured prefix.
pub struct RedisCache {
    id: u64,
    pool: Pool,
    config: fred::types::config::Config,
    command_timeout: Duration,
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
        let pool = builder(&config, command_timeout).build_pool(4)?;
        pool.init().await?;
        let _: String = pool.ping(None).await?;
        Ok(Self {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            pool,
            config,
            command_timeout,
            prefix: prefix.to_string(),
        })
    }

    /// A client for a command on a request's path: the calling thread's own connection, whose
    /// task runs on the calling thread's runtime, so that a command and its answer cost no
    /// wake-up of another thread (the pool's connections live on the runtime that connected
    /// them). The connection is opened on a thread's first call; until it is up (and while it
    /// reconnects), the pool serves.
    pub fn local(&self) -> Client {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.pool.next().clone();
        }
        let local = LOCAL_CLIENTS.with(|clients| {
            clients
                .borrow_mut()
                .entry(self.id)
                .or_insert_with(|| {
                    let client = builder(&self.config, self.command_timeout)
                        .build()
                        .unwrap_or_else(|_| self.pool.next().clone());
                    if !client.is_connected() {
                        // The task ends only with the client; its handle is not needed.
                        drop(client.connect());
                    }
                    client
                })
                .clone()
        });
        if local.is_connected() {
            local
        } else {
            self.pool.next().clone()
        }
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

/// The client settings of every connection: a command not answered within `command_timeout`
/// fails (Redis down: callers fail fast instead of waiting for the reconnection).
fn builder(config: &fred::types::config::Config, command_timeout: Duration) -> Builder {
    let mut builder = Builder::from_config(config.clone());
    builder
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(5);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = command_timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
    builder
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
