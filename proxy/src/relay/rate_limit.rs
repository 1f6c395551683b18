//! Request rate limits, held across every proxy node (Redis) or in this process (embedded):
//!
//! - a key's own `rpm_limit` (LiteLLM's per-key limit): requests per rolling minute;
//! - new-api's per-user limits (the `ModelRequestRateLimit*` options, when
//!   `ModelRequestRateLimitEnabled`): in a rolling window of `…DurationMinutes`, at most
//!   `…Count` requests in all (0: no such limit) and `…SuccessCount` successful ones, or the
//!   pair `ModelRequestRateLimitGroup` gives the caller's group.
//!
//! Each window is a sliding log (one timestamp per request, Redis' clock for all nodes), so "N
//! per window" holds exactly whatever the alignment of the requests. A refusal is a 429 with
//! `Retry-After` (when the oldest request leaves the window) in the client's format. Nothing is
//! looked up when no limit applies.

use super::auth::Caller;
use super::errors::RelayError;
use crate::metrics::ProxyMetrics;
use dashmap::DashMap;
use fred::prelude::*;
use pylon_shared::cache::SharedCache;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// KEYS: the log; ARGV: window ms, limit, member, mode (`take`, `check`, `record`). Drops
/// entries older than the window; `check`/`take` answer minus the milliseconds until a slot
/// frees when the log is full; `take`/`record` add the member at Redis' time. 0: done.
const SLIDE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[4] ~= 'record' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = window
  if oldest[2] then wait = tonumber(oldest[2]) + window - now end
  if wait < 1 then wait = 1 end
  return -wait
end
if ARGV[4] ~= 'check' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
end
return 0
"#;

const MINUTE: Duration = Duration::from_secs(60);

/// new-api's per-user limits, from the options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserLimits {
    pub enabled: bool,
    pub window: Duration,
    /// Requests in all per window (0: none).
    pub count: u32,
    /// Successful requests per window (0: none).
    pub success_count: u32,
    /// Per group: (count, success count).
    pub groups: HashMap<String, (u32, u32)>,
}

impl UserLimits {
    /// Reads the `ModelRequestRateLimit*` options (new-api's defaults: 1 minute, no total
    /// limit, 1000 successful requests); a malformed value keeps its default and is reported.
    pub fn from_options<'a>(options: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut limits = Self {
            enabled: false,
            window: MINUTE,
            count: 0,
            success_count: 1000,
            groups: HashMap::new(),
        };
        for (key, value) in options {
            let number = || value.trim().parse::<u32>().ok();
            match key {
                "ModelRequestRateLimitEnabled" => limits.enabled = value.trim() == "true",
                "ModelRequestRateLimitDurationMinutes" => {
                    if let Some(minutes) = number().filter(|m| *m > 0) {
                        limits.window = Duration::from_secs(u64::from(minutes) * 60);
                    }
                }
                "ModelRequestRateLimitCount" => limits.count = number().unwrap_or(0),
                "ModelRequestRateLimitSuccessCount" => {
                    limits.success_count = number().unwrap_or(1000);
                }
                "ModelRequestRateLimitGroup" if !value.trim().is_empty() => {
                    match serde_json::from_str::<HashMap<String, [u32; 2]>>(value) {
                        Ok(groups) => {
                            limits.groups = groups
                                .into_iter()
                                .map(|(group, [count, success])| (group, (count, success)))
                                .collect();
                        }
                        Err(error) => pylon_shared::db::report_bad_row(
                            "options",
                            "ModelRequestRateLimitGroup",
                            &error.to_string(),
                        ),
                    }
                }
                _ => {}
            }
        }
        limits
    }

    /// The (count, success count) that apply to `group`.
    fn of(&self, group: &str) -> (u32, u32) {
        self.groups
            .get(group)
            .copied()
            .unwrap_or((self.count, self.success_count))
    }
}

/// Where the logs live.
enum Store {
    Memory(DashMap<String, Mutex<VecDeque<Instant>>>),
    Redis {
        cache: SharedCache,
        /// Makes each member unique across nodes.
        node: String,
        next: AtomicU64,
    },
}

#[derive(Clone, Copy)]
enum Mode {
    Take,
    Check,
    Record,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Take => "take",
            Mode::Check => "check",
            Mode::Record => "record",
        }
    }
}

/// The relay's limiter.
pub struct RateLimiter {
    store: Store,
}

/// A limit reached: its size, and when a request may be made again.
#[derive(Debug, Clone, Copy)]
struct Reached {
    limit: u32,
    retry_after: Duration,
}

impl RateLimiter {
    /// Logs in this process (one node).
    pub fn in_memory() -> Self {
        Self {
            store: Store::Memory(DashMap::new()),
        }
    }

    /// With Redis when the cache has it, else in memory.
    pub fn new(cache: SharedCache) -> Self {
        let store = if cache.redis().is_some() {
            Store::Redis {
                cache,
                node: pylon_shared::crypto::random_alphanumeric(12),
                next: AtomicU64::new(0),
            }
        } else {
            Store::Memory(DashMap::new())
        };
        Self { store }
    }

    /// Admits the caller's request under its key's and its user's limits, or says which was
    /// reached (429). The request counts against the limits it passed.
    pub async fn admit(
        &self,
        caller: &Caller,
        group: &str,
        users: &UserLimits,
        metrics: &ProxyMetrics,
    ) -> Result<(), RelayError> {
        let refuse = |scope: &'static str, reached: Reached| {
            metrics.rate_limited(scope);
            RelayError::rate_limited(
                format!(
                    "Rate limit reached: at most {} {} per {} minute(s); retry in {} s",
                    reached.limit,
                    scope_requests(scope),
                    window_minutes(scope, users),
                    reached.retry_after.as_secs().max(1)
                ),
                reached.limit,
                reached.retry_after,
            )
        };
        if caller.token.rpm_limit > 0 {
            let key = format!("rl:k:{}", caller.token.id);
            self.slide(&key, caller.token.rpm_limit, MINUTE, Mode::Take)
                .await
                .map_err(|reached| refuse("key", reached))?;
        }
        if !users.enabled {
            return Ok(());
        }
        let (count, success_count) = users.of(group);
        if success_count > 0 {
            let key = format!("rl:u:{}:ok", caller.user.id);
            self.slide(&key, success_count, users.window, Mode::Check)
                .await
                .map_err(|reached| refuse("user_success", reached))?;
        }
        if count > 0 {
            let key = format!("rl:u:{}:all", caller.user.id);
            self.slide(&key, count, users.window, Mode::Take)
                .await
                .map_err(|reached| refuse("user", reached))?;
        }
        Ok(())
    }

    /// Forgets the in-memory logs with nothing in the last day (embedded mode), every `every`.
    pub async fn sweep_every(self: std::sync::Arc<Self>, every: Duration) {
        let Store::Memory(logs) = &self.store else {
            return;
        };
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = Instant::now();
            logs.retain(|_, log| {
                let log = log
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                log.back()
                    .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(86_400))
            });
        }
    }

    /// Counts a successful request of `user` (new-api's success limit).
    pub async fn succeeded(&self, user: i64, users: &UserLimits) {
        if users.enabled {
            let key = format!("rl:u:{user}:ok");
            let _ = self.slide(&key, 0, users.window, Mode::Record).await;
        }
    }

    async fn slide(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        mode: Mode,
    ) -> Result<(), Reached> {
        match &self.store {
            Store::Memory(logs) => Ok(slide_in_memory(logs, key, limit, window, mode)?),
            Store::Redis { cache, node, next } => {
                let Some(redis) = cache.redis() else {
                    return Ok(());
                };
                let member = format!("{node}:{}", next.fetch_add(1, Ordering::Relaxed));
                let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
                let answer: Result<i64, _> = redis
                    .pool()
                    .next()
                    .eval(
                        SLIDE,
                        vec![redis.key(key)],
                        vec![
                            window_ms.to_string(),
                            limit.to_string(),
                            member,
                            mode.name().to_string(),
                        ],
                    )
                    .await;
                match answer {
                    Ok(wait) if wait < 0 => Err(Reached {
                        limit,
                        retry_after: Duration::from_millis(wait.unsigned_abs()),
                    }),
                    Ok(_) => Ok(()),
                    Err(error) => {
                        // A limit must not take the relay down with Redis: admission (which
                        // needs Redis too) answers for the outage.
                        tracing::warn!(%error, key, "rate limit check failed; not limiting");
                        Ok(())
                    }
                }
            }
        }
    }
}

fn slide_in_memory(
    logs: &DashMap<String, Mutex<VecDeque<Instant>>>,
    key: &str,
    limit: u32,
    window: Duration,
    mode: Mode,
) -> Result<(), Reached> {
    let now = Instant::now();
    let entry = logs.entry(key.to_string()).or_default();
    let mut log = entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while log
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        log.pop_front();
    }
    if !matches!(mode, Mode::Record) && log.len() >= limit as usize {
        let oldest = log.front().copied().unwrap_or(now);
        let retry_after = (oldest + window).saturating_duration_since(now);
        return Err(Reached {
            limit,
            retry_after: retry_after.max(Duration::from_millis(1)),
        });
    }
    if !matches!(mode, Mode::Check) {
        log.push_back(now);
    }
    Ok(())
}

fn scope_requests(scope: &str) -> &'static str {
    if scope == "user_success" {
        "successful requests"
    } else {
        "requests"
    }
}

fn window_minutes(scope: &str, users: &UserLimits) -> u64 {
    if scope == "key" {
        1
    } else {
        users.window.as_secs() / 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_as_new_api_writes_them() {
        let limits = UserLimits::from_options(
            [
                ("ModelRequestRateLimitEnabled", "true"),
                ("ModelRequestRateLimitDurationMinutes", "2"),
                ("ModelRequestRateLimitCount", "30"),
                ("ModelRequestRateLimitSuccessCount", "20"),
                ("ModelRequestRateLimitGroup", r#"{"vip": [0, 100]}"#),
            ]
            .into_iter(),
        );
        assert!(limits.enabled);
        assert_eq!(limits.window, Duration::from_secs(120));
        assert_eq!(limits.of("default"), (30, 20));
        assert_eq!(limits.of("vip"), (0, 100));
        let defaults = UserLimits::from_options(std::iter::empty());
        assert!(!defaults.enabled);
        assert_eq!(defaults.of("default"), (0, 1000));
    }

    #[test]
    fn a_sliding_log_admits_exactly_the_limit() {
        let logs = DashMap::new();
        let window = Duration::from_secs(60);
        for _ in 0..3 {
            assert!(slide_in_memory(&logs, "k", 3, window, Mode::Take).is_ok());
        }
        let reached = slide_in_memory(&logs, "k", 3, window, Mode::Take).unwrap_err();
        assert_eq!(reached.limit, 3);
        assert!(reached.retry_after <= window && reached.retry_after > Duration::from_secs(59));
        assert!(slide_in_memory(&logs, "k", 3, window, Mode::Check).is_err());
        assert!(slide_in_memory(&logs, "other", 3, window, Mode::Take).is_ok());
        let short = Duration::from_millis(1);
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            slide_in_memory(&logs, "k", 3, short, Mode::Take).is_ok(),
            "entries leave the window"
        );
    }
}
