//! What the proxy, which holds the bindings, and the control plane, which serves new-api's
//! routes about them, tell each other. The proxy sits in front of the control plane, so it
//! passes its state along on the forwarded request (a header it always overwrites), and the
//! control plane answers, once the caller is authorised, with what to clear (a response header
//! the proxy acts on and removes).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET`/`DELETE` of the bindings' statistics and clearing (new-api's path).
pub const CACHE_PATH: &str = "/api/option/channel_affinity_cache";
/// `GET` of one session key's usage (new-api's path).
pub const USAGE_PATH: &str = "/api/log/channel_affinity_usage_cache";
/// On a forwarded request to either path: the proxy's state as JSON ([`CacheStats`] for
/// [`CACHE_PATH`], the [`UsageCounters`] of the query's key or `null` for [`USAGE_PATH`]).
pub const STATE_HEADER: &str = "x-pylon-channel-affinity";
/// On the control plane's answer to `DELETE` [`CACHE_PATH`]: what the proxy clears ([`Clear`]
/// as JSON).
pub const CLEAR_HEADER: &str = "x-pylon-channel-affinity-clear";

/// new-api's `ChannelAffinityCacheStats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStats {
    pub enabled: bool,
    /// Bindings held.
    pub total: u64,
    /// Bindings no rule that includes its name in the key accounts for.
    pub unknown: u64,
    /// Bindings per rule that includes its name in the key (every such rule, 0 included).
    pub by_rule_name: BTreeMap<String, u64>,
    pub cache_capacity: u64,
    pub cache_algo: String,
}

/// new-api's `ChannelAffinityUsageCacheCounters`: one session key's requests within its window
/// (the rule's TTL, from the key's last request).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCounters {
    /// How cached tokens relate to prompt tokens: `cached_over_prompt` (OpenAI: cached
    /// tokens are part of the prompt), `cached_over_prompt_plus_cached` (Anthropic: they are
    /// not), or `mixed`.
    pub cached_token_rate_mode: String,
    /// Requests whose prompt hit the upstream's cache.
    pub hit: i64,
    pub total: i64,
    pub window_seconds: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cached_tokens: i64,
    pub prompt_cache_hit_tokens: i64,
    pub last_seen_at: i64,
}

/// Which bindings to clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clear {
    All,
    /// Those of the rule with this name (whose keys start with it).
    Rule(String),
}

/// The usage counters' identity: rule, group and key fingerprint (new-api's entry key).
pub fn usage_key(rule: &str, group: &str, key_fp: &str) -> String {
    format!("{rule}\n{group}\n{key_fp}")
}
