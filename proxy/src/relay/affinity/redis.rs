//! Bindings and usage counters in Redis, shared by every proxy node: a binding is a string
//! `aff:b:<key>` holding the channel id until its TTL, indexed in the sorted set `aff:idx` by
//! when it expires, which bounds them (writing one past `max_entries` drops those that expire
//! first) and lists them for the statistics; a key's usage counters are a hash `aff:u:<key>`
//! living for its window.

use super::Observed;
use fred::prelude::*;
use pylon_shared::cache::{LuaScript, SharedCache};
use pylon_shared::channel_affinity::wire::UsageCounters;
use std::collections::HashMap;
use std::time::Duration;

const BINDING: &str = "aff:b:";
const INDEX: &str = "aff:idx";
const USAGE: &str = "aff:u:";
/// Bindings dropped per round trip when clearing.
const CLEAR_BATCH: usize = 500;

/// Writes a binding (KEYS: binding, index; ARGV: channel, TTL ms, key, max entries, binding
/// key prefix) and drops the earliest-expiring ones past the bound.
static SET_SCRIPT: LuaScript = LuaScript::new(
    r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #gone, 2 do
    redis.call('DEL', ARGV[5] .. gone[i])
  end
end
return 0
",
);

/// The keys of the live bindings (KEYS: index).
static KEYS_SCRIPT: LuaScript = LuaScript::new(
    r"
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(t[1]) * 1000)
return redis.call('ZRANGE', KEYS[1], 0, -1)
",
);

/// Drops bindings (KEYS: index; ARGV: binding key prefix, then their keys); returns how many
/// were live.
static DROP_SCRIPT: LuaScript = LuaScript::new(
    r"
local dropped = 0
for i = 2, #ARGV do
  dropped = dropped + redis.call('DEL', ARGV[1] .. ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return dropped
",
);

/// Adds one request to a key's usage counters (KEYS: counters; ARGV: rate mode, hit (0 or 1),
/// prompt, completion, total and cached tokens, prompt cache hit tokens, window seconds).
static OBSERVE_SCRIPT: LuaScript = LuaScript::new(
    r"
local k = KEYS[1]
if ARGV[1] ~= '' then
  local old = redis.call('HGET', k, 'cached_token_rate_mode')
  if not old or old == '' then
    redis.call('HSET', k, 'cached_token_rate_mode', ARGV[1])
  elseif old ~= ARGV[1] and old ~= 'mixed' then
    redis.call('HSET', k, 'cached_token_rate_mode', 'mixed')
  end
end
redis.call('HINCRBY', k, 'total', 1)
redis.call('HINCRBY', k, 'hit', ARGV[2])
redis.call('HINCRBY', k, 'prompt_tokens', ARGV[3])
redis.call('HINCRBY', k, 'completion_tokens', ARGV[4])
redis.call('HINCRBY', k, 'total_tokens', ARGV[5])
redis.call('HINCRBY', k, 'cached_tokens', ARGV[6])
redis.call('HINCRBY', k, 'prompt_cache_hit_tokens', ARGV[7])
redis.call('HSET', k, 'last_seen_at', redis.call('TIME')[1], 'window_seconds', ARGV[8])
redis.call('EXPIRE', k, ARGV[8])
return 0
",
);

/// The Redis store (the cache is Redis).
pub struct RedisStore {
    cache: SharedCache,
}

impl RedisStore {
    pub fn new(cache: SharedCache) -> Self {
        Self { cache }
    }

    /// The channel `key` is bound to; none when Redis cannot be reached (the request is then
    /// routed as usual).
    pub async fn get(&self, key: &str) -> Option<i64> {
        let redis = self.cache.redis()?;
        let bound: Result<Option<i64>, _> = redis
            .pool()
            .next()
            .get(redis.key(&format!("{BINDING}{key}")))
            .await;
        bound
            .inspect_err(|error| tracing::warn!(%error, "reading a channel affinity failed"))
            .ok()
            .flatten()
    }

    pub async fn set(&self, key: &str, channel: i64, ttl: Duration, max_entries: usize) {
        let Some(redis) = self.cache.redis() else {
            return;
        };
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let args = vec![
            channel.to_string(),
            ttl_ms.to_string(),
            key.to_string(),
            max_entries.max(1).to_string(),
            redis.key(BINDING),
        ];
        let keys = vec![redis.key(&format!("{BINDING}{key}")), redis.key(INDEX)];
        let written: Result<i64, _> = SET_SCRIPT.run(redis.pool().next(), keys, args).await;
        if let Err(error) = written {
            tracing::warn!(%error, "writing a channel affinity failed");
        }
    }

    pub async fn delete(&self, key: &str) {
        self.drop_keys(&[key.to_string()]).await;
    }

    /// The keys of the live bindings (none when Redis cannot be reached).
    pub async fn keys(&self) -> Vec<String> {
        let Some(redis) = self.cache.redis() else {
            return Vec::new();
        };
        let keys: Result<Vec<String>, _> = KEYS_SCRIPT
            .run(
                redis.pool().next(),
                vec![redis.key(INDEX)],
                Vec::<String>::new(),
            )
            .await;
        keys.inspect_err(|error| tracing::warn!(%error, "listing channel affinities failed"))
            .unwrap_or_default()
    }

    /// Drops the bindings whose key `doomed` picks; returns how many were live.
    pub async fn clear(&self, doomed: impl Fn(&str) -> bool) -> u64 {
        let keys: Vec<String> = self
            .keys()
            .await
            .into_iter()
            .filter(|k| doomed(k))
            .collect();
        let mut dropped = 0;
        for batch in keys.chunks(CLEAR_BATCH) {
            dropped += self.drop_keys(batch).await;
        }
        dropped
    }

    async fn drop_keys(&self, keys: &[String]) -> u64 {
        let Some(redis) = self.cache.redis() else {
            return 0;
        };
        let mut args = Vec::with_capacity(keys.len() + 1);
        args.push(redis.key(BINDING));
        args.extend(keys.iter().cloned());
        let dropped: Result<u64, _> = DROP_SCRIPT
            .run(redis.pool().next(), vec![redis.key(INDEX)], args)
            .await;
        dropped
            .inspect_err(|error| tracing::warn!(%error, "dropping channel affinities failed"))
            .unwrap_or(0)
    }

    pub async fn usage(&self, key: &str) -> Option<UsageCounters> {
        let redis = self.cache.redis()?;
        let fields: Result<HashMap<String, String>, _> = redis
            .pool()
            .next()
            .hgetall(redis.key(&format!("{USAGE}{key}")))
            .await;
        let fields = fields
            .inspect_err(|error| tracing::warn!(%error, "reading affinity usage failed"))
            .ok()
            .filter(|fields| !fields.is_empty())?;
        let number = |name: &str| {
            fields
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        Some(UsageCounters {
            cached_token_rate_mode: fields
                .get("cached_token_rate_mode")
                .cloned()
                .unwrap_or_default(),
            hit: number("hit"),
            total: number("total"),
            window_seconds: number("window_seconds"),
            prompt_tokens: number("prompt_tokens"),
            completion_tokens: number("completion_tokens"),
            total_tokens: number("total_tokens"),
            cached_tokens: number("cached_tokens"),
            prompt_cache_hit_tokens: number("prompt_cache_hit_tokens"),
            last_seen_at: number("last_seen_at"),
        })
    }

    pub async fn observe(&self, key: &str, mode: &str, observed: Observed, window: Duration) {
        let Some(redis) = self.cache.redis() else {
            return;
        };
        let args = vec![
            mode.to_string(),
            u8::from(observed.hit).to_string(),
            observed.prompt_tokens.to_string(),
            observed.completion_tokens.to_string(),
            (observed.prompt_tokens + observed.completion_tokens).to_string(),
            observed.cached_tokens.to_string(),
            "0".to_string(),
            window.as_secs().max(1).to_string(),
        ];
        let keys = vec![redis.key(&format!("{USAGE}{key}"))];
        let written: Result<i64, _> = OBSERVE_SCRIPT.run(redis.pool().next(), keys, args).await;
        if let Err(error) = written {
            tracing::warn!(%error, "counting affinity usage failed");
        }
    }
}
