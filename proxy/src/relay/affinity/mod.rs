//! Channel affinity, as new-api's (`channel_affinity_setting`): a request whose rule finds a
//! session key (a Codex `prompt_cache_key`, a Claude Code session, a header…) is sent first to
//! the channel its key is bound to, whatever that channel's priority or weight, as long as it
//! is still one of the request's candidates (enabled, serving its group and model) and healthy;
//! so a conversation keeps hitting the upstream that holds its prompt cache. A request that
//! succeeds binds its key (to the channel that served it with `switch_on_success`, else to the
//! one tried first) for the rule's TTL; a binding whose channel is no longer a candidate is
//! dropped (unless `keep_on_channel_disabled`). A failed request that its binding routed goes
//! to no other channel when the rule says `skip_retry_on_failure`.
//!
//! Bindings live in this process (embedded mode: a bounded map) or in Redis, shared by every
//! node. With the setting off, or no rule applying, a request costs one flag check; a rule
//! reading the body reads only up to its value, and not at all for the fields the relay's own
//! parse kept (`request::SessionFields`).
//!
//! Per key, the usage of the requests within the rule's TTL is counted too (new-api's
//! `channel_affinity_usage_cache`: how often the prompt cache hit). The control plane's routes
//! about bindings and usage get their data from here (`admin`).

mod admin;
mod binding;
mod memory;
mod redis;

pub use binding::{Binding, Facts};

use super::health::ChannelHealth;
use super::routing::{Pick, Preferred, Route};
use memory::MemoryStore;
use pylon_shared::cache::SharedCache;
use pylon_shared::channel_affinity::wire::{self, UsageCounters};
use pylon_shared::db::RelayRecord;
use redis::RedisStore;
use std::sync::Arc;
use std::time::Duration;

/// How Pylon's prompt token counts relate to cached tokens: they include them, for every
/// format (new-api's mode for OpenAI's usage).
const CACHED_TOKEN_RATE_MODE: &str = "cached_over_prompt";

/// The relay's channel affinity: where the bindings live.
pub struct Affinity {
    store: Arc<Store>,
}

enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

impl Affinity {
    /// Bindings in this process.
    pub fn in_memory() -> Self {
        Self {
            store: Arc::new(Store::Memory(MemoryStore::default())),
        }
    }

    /// Bindings in Redis when the cache is Redis, else in this process.
    pub fn new(cache: SharedCache) -> Self {
        if cache.redis().is_none() {
            return Self::in_memory();
        }
        Self {
            store: Arc::new(Store::Redis(RedisStore::new(cache))),
        }
    }

    /// Reads the channel `binding`'s key is bound to.
    pub async fn look_up(&self, binding: &mut Binding) {
        binding.bound = self.store.get(&binding.key).await;
    }

    /// The channel the binding sends the request's first attempt to, if it is usable; a
    /// bound channel that is no longer a candidate loses the binding (unless the setting keeps
    /// it).
    pub fn first_choice(
        &self,
        binding: &mut Binding,
        route: &Route<'_>,
        group: &str,
        model: &str,
        tried: &[i64],
        health: &ChannelHealth,
    ) -> Option<Pick> {
        let id = binding.bound.filter(|_| tried.is_empty())?;
        match route.preferred(id, group, model, tried, health) {
            Preferred::Take(pick) => {
                binding.used = true;
                Some(pick)
            }
            Preferred::Unavailable => None,
            Preferred::NotCandidate => {
                if !binding.setting.keep_on_channel_disabled {
                    binding.bound = None;
                    self.store.write(Write::Unbind {
                        key: binding.key.clone(),
                    });
                }
                None
            }
        }
    }

    /// After a request ends with `record`: a success binds the key (off the request path) and
    /// counts its usage; the log row (returned) shows the affinity when it chose the channel.
    /// `tried`: the channels in the order they were tried.
    pub fn settle(
        &self,
        binding: Option<&Binding>,
        tried: &[i64],
        mut record: RelayRecord,
    ) -> RelayRecord {
        let Some(binding) = binding else {
            return record;
        };
        if (200..400).contains(&record.status_code) {
            let channel = if binding.setting.switch_on_success {
                record.channel_id
            } else {
                tried.first().copied().unwrap_or(record.channel_id)
            };
            self.store.write(Write::Bind {
                key: binding.key.clone(),
                channel,
                ttl: binding.ttl(),
                max_entries: binding.setting.max_entries,
            });
            if let Some(rule) = binding.rule().filter(|_| !record.is_estimated) {
                self.store.write(Write::Count {
                    key: wire::usage_key(&rule.name, &binding.group, &binding.key_fp),
                    observed: Observed {
                        hit: record.cached_tokens > 0,
                        prompt_tokens: record.prompt_tokens,
                        completion_tokens: record.completion_tokens,
                        cached_tokens: record.cached_tokens,
                    },
                    window: binding.ttl(),
                    max_entries: binding.setting.max_entries,
                });
            }
        }
        if let Some(info) = binding.log_info(record.channel_id) {
            record.other = with_admin_info(&record.other, info);
        }
        record
    }
}

/// The log row's `other` with new-api's `admin_info.channel_affinity`.
fn with_admin_info(other: &str, info: serde_json::Value) -> String {
    let mut other: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(other).unwrap_or_default();
    let admin = other
        .entry("admin_info")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(admin) = admin.as_object_mut() {
        admin.insert("channel_affinity".into(), info);
    }
    serde_json::Value::Object(other).to_string()
}

/// One request's usage, as a key's counters add it.
#[derive(Debug, Clone, Copy, Default)]
struct Observed {
    hit: bool,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
}

/// A change to the store.
enum Write {
    Bind {
        key: String,
        channel: i64,
        ttl: Duration,
        max_entries: usize,
    },
    Unbind {
        key: String,
    },
    /// One request added to a key's usage counters, which live for `window` from now.
    Count {
        key: String,
        observed: Observed,
        window: Duration,
        max_entries: usize,
    },
}

impl Store {
    async fn get(&self, key: &str) -> Option<i64> {
        match self {
            Store::Memory(store) => store.get(key),
            Store::Redis(store) => store.get(key).await,
        }
    }

    /// Applies `write`: at once in memory; with Redis in a task of its own, off the request
    /// path.
    fn write(self: &Arc<Self>, write: Write) {
        match self.as_ref() {
            Store::Memory(store) => match write {
                Write::Bind {
                    key,
                    channel,
                    ttl,
                    max_entries,
                } => store.set(&key, channel, ttl, max_entries),
                Write::Unbind { key } => store.delete(&key),
                Write::Count {
                    key,
                    observed,
                    window,
                    max_entries,
                } => store.observe(&key, window, max_entries, |counters| {
                    add(counters, observed, window);
                }),
            },
            Store::Redis(_) => {
                let store = Arc::clone(self);
                tokio::spawn(async move {
                    let Store::Redis(redis) = store.as_ref() else {
                        return;
                    };
                    match write {
                        Write::Bind {
                            key,
                            channel,
                            ttl,
                            max_entries,
                        } => redis.set(&key, channel, ttl, max_entries).await,
                        Write::Unbind { key } => redis.delete(&key).await,
                        Write::Count {
                            key,
                            observed,
                            window,
                            ..
                        } => {
                            redis
                                .observe(&key, CACHED_TOKEN_RATE_MODE, observed, window)
                                .await;
                        }
                    }
                });
            }
        }
    }

    async fn keys(&self) -> Vec<String> {
        match self {
            Store::Memory(store) => store.keys(),
            Store::Redis(store) => store.keys().await,
        }
    }

    async fn clear(&self, doomed: impl Fn(&str) -> bool) -> u64 {
        match self {
            Store::Memory(store) => store.clear(doomed),
            Store::Redis(store) => store.clear(doomed).await,
        }
    }

    async fn usage(&self, key: &str) -> Option<UsageCounters> {
        match self {
            Store::Memory(store) => store.usage(key),
            Store::Redis(store) => store.usage(key).await,
        }
    }

    /// The name new-api's statistics give the eviction.
    fn algorithm(&self) -> &'static str {
        match self {
            Store::Memory(_) => "s3-fifo",
            Store::Redis(_) => "redis",
        }
    }
}

/// One request added to a key's counters (what the Redis store's script does).
fn add(counters: &mut UsageCounters, observed: Observed, window: Duration) {
    if counters.cached_token_rate_mode.is_empty() {
        counters.cached_token_rate_mode = CACHED_TOKEN_RATE_MODE.to_string();
    } else if counters.cached_token_rate_mode != CACHED_TOKEN_RATE_MODE {
        counters.cached_token_rate_mode = "mixed".to_string();
    }
    counters.total += 1;
    counters.hit += i64::from(observed.hit);
    counters.prompt_tokens += observed.prompt_tokens;
    counters.completion_tokens += observed.completion_tokens;
    counters.total_tokens += observed.prompt_tokens + observed.completion_tokens;
    counters.cached_tokens += observed.cached_tokens;
    counters.window_seconds = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    counters.last_seen_at = pylon_shared::db::now_secs();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_info_joins_the_log_rows_other() {
        let info = serde_json::json!({"rule_name": "r"});
        let other = with_admin_info(r#"{"cache_tokens":3}"#, info.clone());
        let parsed: serde_json::Value = serde_json::from_str(&other).expect("json");
        assert_eq!(parsed["cache_tokens"], 3);
        assert_eq!(parsed["admin_info"]["channel_affinity"]["rule_name"], "r");
        let parsed: serde_json::Value =
            serde_json::from_str(&with_admin_info("{}", info)).expect("json");
        assert_eq!(parsed["admin_info"]["channel_affinity"]["rule_name"], "r");
    }
}
