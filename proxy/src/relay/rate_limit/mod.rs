//! Rate limits, held across every proxy node (Redis) or in this process (embedded):
//!
//! - a key's own limits, as LiteLLM's: `rpm_limit` (requests per rolling minute),
//!   `tpm_limit` (tokens per rolling minute), and per requested model `model_rpm_limit` and
//!   `model_tpm_limit`;
//! - new-api's per-user limits (the `ModelRequestRateLimit*` options, when
//!   `ModelRequestRateLimitEnabled`): in a rolling window of `…DurationMinutes`, at most
//!   `…Count` requests in all (0: no such limit) and `…SuccessCount` successful ones, or the
//!   pair `ModelRequestRateLimitGroup` gives the caller's group.
//!
//! Requests are counted in sliding logs ([`requests`]), tokens in per-second windows
//! ([`tokens`]). A refusal is a 429 with `Retry-After` in the client's format. Nothing is
//! looked up when no limit applies.

mod requests;
mod tokens;
mod user_limits;

pub use user_limits::UserLimits;

use super::auth::Caller;
use super::errors::{LimitUnit, RelayError};
use super::snapshot::TokenEntry;
use crate::metrics::ProxyMetrics;
use pylon_shared::cache::{LuaScript, SharedCache};
use requests::{MemoryLogs, Mode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokens::MemoryWindows;

const MINUTE: Duration = Duration::from_secs(60);

/// Where the logs and windows live.
enum Store {
    Memory {
        logs: MemoryLogs,
        windows: MemoryWindows,
    },
    Redis {
        cache: SharedCache,
        /// Makes each member unique across nodes.
        node: String,
        next: AtomicU64,
    },
}

/// The relay's limiter.
pub struct RateLimiter {
    store: Store,
}

/// A limit reached: its size, and when a request may be made again.
#[derive(Debug, Clone, Copy)]
struct Reached {
    limit: u64,
    retry_after: Duration,
}

/// Which limit refused a request (the metric's `scope` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Key,
    KeyModel,
    KeyTokens,
    KeyModelTokens,
    User,
    UserSuccess,
}

impl Scope {
    fn label(self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::KeyModel => "key_model",
            Scope::KeyTokens => "key_tokens",
            Scope::KeyModelTokens => "key_model_tokens",
            Scope::User => "user",
            Scope::UserSuccess => "user_success",
        }
    }

    fn counted(self) -> &'static str {
        match self {
            Scope::UserSuccess => "successful requests",
            Scope::KeyTokens | Scope::KeyModelTokens => "tokens",
            _ => "requests",
        }
    }

    fn unit(self) -> LimitUnit {
        match self {
            Scope::KeyTokens | Scope::KeyModelTokens => LimitUnit::Tokens,
            _ => LimitUnit::Requests,
        }
    }
}

impl RateLimiter {
    /// Logs in this process (one node).
    pub fn in_memory() -> Self {
        Self {
            store: Store::Memory {
                logs: MemoryLogs::new(),
                windows: MemoryWindows::new(),
            },
        }
    }

    /// With Redis when the cache has it, else in memory.
    pub fn new(cache: SharedCache) -> Self {
        if cache.redis().is_none() {
            return Self::in_memory();
        }
        Self {
            store: Store::Redis {
                cache,
                node: pylon_shared::crypto::random_alphanumeric(12),
                next: AtomicU64::new(0),
            },
        }
    }

    /// Admits the caller's request for `model` under its key's and its user's limits, or says
    /// which was reached (429). The request counts against the request limits it passed.
    pub async fn admit(
        &self,
        caller: &Caller,
        model: &str,
        group: &str,
        users: &UserLimits,
        metrics: &ProxyMetrics,
    ) -> Result<(), RelayError> {
        let refuse = |scope: Scope, reached: Reached| {
            metrics.rate_limited(scope.label());
            let window = match scope {
                Scope::User | Scope::UserSuccess => users.window,
                _ => MINUTE,
            };
            let of_model = match scope {
                Scope::KeyModel | Scope::KeyModelTokens => format!(" of {model}"),
                _ => String::new(),
            };
            RelayError::rate_limited(
                format!(
                    "Rate limit reached: at most {} {}{of_model} per {} minute(s); retry in {} s",
                    reached.limit,
                    scope.counted(),
                    window.as_secs() / 60,
                    reached.retry_after.as_secs().max(1)
                ),
                scope.unit(),
                reached.limit,
                reached.retry_after,
            )
        };
        let token = &caller.token;
        let key = |suffix: &str| format!("rl:k:{}{suffix}", token.id);
        if token.tpm_limit > 0 {
            self.check_tokens(&key(":t"), token.tpm_limit)
                .await
                .map_err(|reached| refuse(Scope::KeyTokens, reached))?;
        }
        if let Some(&limit) = token.model_tpm_limit.get(model) {
            self.check_tokens(&key(&format!(":t:m:{model}")), limit)
                .await
                .map_err(|reached| refuse(Scope::KeyModelTokens, reached))?;
        }
        if token.rpm_limit > 0 {
            self.slide(&key(""), token.rpm_limit, MINUTE, Mode::Take)
                .await
                .map_err(|reached| refuse(Scope::Key, reached))?;
        }
        if let Some(&limit) = token.model_rpm_limit.get(model) {
            self.slide(&key(&format!(":m:{model}")), limit, MINUTE, Mode::Take)
                .await
                .map_err(|reached| refuse(Scope::KeyModel, reached))?;
        }
        if !users.enabled {
            return Ok(());
        }
        let (count, success_count) = users.of(group);
        if success_count > 0 {
            let key = format!("rl:u:{}:ok", caller.user.id);
            self.slide(&key, u64::from(success_count), users.window, Mode::Check)
                .await
                .map_err(|reached| refuse(Scope::UserSuccess, reached))?;
        }
        if count > 0 {
            let key = format!("rl:u:{}:all", caller.user.id);
            self.slide(&key, u64::from(count), users.window, Mode::Take)
                .await
                .map_err(|reached| refuse(Scope::User, reached))?;
        }
        Ok(())
    }

    /// Forgets the in-memory logs and windows with nothing in the last day (embedded mode),
    /// every `every`.
    pub async fn sweep_every(self: std::sync::Arc<Self>, every: Duration) {
        let Store::Memory { logs, windows } = &self.store else {
            return;
        };
        let day = Duration::from_secs(86_400);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = Instant::now();
            logs.retain(|_, log| {
                let log = log
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                log.back().is_some_and(|t| now.duration_since(*t) < day)
            });
            windows.retain(|_, window| {
                let window = window
                    .get_mut()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                window
                    .back()
                    .is_some_and(|(t, _)| now.duration_since(*t) < tokens::WINDOW)
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

    /// Adds the tokens a request of `token` for `model` used to its token windows (before its
    /// answer ends, so that the client's next request sees them).
    pub async fn used_tokens(&self, token: &TokenEntry, model: &str, tokens: u64) {
        if tokens == 0 {
            return;
        }
        if token.tpm_limit > 0 {
            self.record_tokens(&format!("rl:k:{}:t", token.id), tokens)
                .await;
        }
        if token.model_tpm_limit.contains_key(model) {
            self.record_tokens(&format!("rl:k:{}:t:m:{model}", token.id), tokens)
                .await;
        }
    }

    async fn slide(
        &self,
        key: &str,
        limit: u64,
        window: Duration,
        mode: Mode,
    ) -> Result<(), Reached> {
        match &self.store {
            Store::Memory { logs, .. } => requests::slide_in_memory(logs, key, limit, window, mode),
            Store::Redis { node, next, .. } => {
                let member = format!("{node}:{}", next.fetch_add(1, Ordering::Relaxed));
                let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
                let args = vec![
                    window_ms.to_string(),
                    limit.to_string(),
                    member,
                    mode.name().to_string(),
                ];
                self.eval(&requests::SLIDE, key, args, limit).await
            }
        }
    }

    async fn check_tokens(&self, key: &str, limit: u64) -> Result<(), Reached> {
        match &self.store {
            Store::Memory { windows, .. } => tokens::check_in_memory(windows, key, limit),
            Store::Redis { .. } => {
                let args = vec!["check".to_string(), limit.to_string(), "0".to_string()];
                self.eval(&tokens::WINDOW_SCRIPT, key, args, limit).await
            }
        }
    }

    async fn record_tokens(&self, key: &str, tokens: u64) {
        match &self.store {
            Store::Memory { windows, .. } => tokens::record_in_memory(windows, key, tokens),
            Store::Redis { .. } => {
                let args = vec!["record".to_string(), "0".to_string(), tokens.to_string()];
                let _ = self.eval(&tokens::WINDOW_SCRIPT, key, args, 0).await;
            }
        }
    }

    /// Runs a limit script in Redis: a negative answer is the milliseconds to wait.
    async fn eval(
        &self,
        script: &LuaScript,
        key: &str,
        args: Vec<String>,
        limit: u64,
    ) -> Result<(), Reached> {
        let Store::Redis { cache, .. } = &self.store else {
            return Ok(());
        };
        let Some(redis) = cache.redis() else {
            return Ok(());
        };
        let answer: Result<i64, _> = script
            .run(redis.pool().next(), vec![redis.key(key)], args)
            .await;
        match answer {
            Ok(wait) if wait < 0 => Err(Reached {
                limit,
                retry_after: Duration::from_millis(wait.unsigned_abs()),
            }),
            Ok(_) => Ok(()),
            Err(error) => {
                // A limit must not take the relay down with Redis: admission (which needs
                // Redis too) answers for the outage.
                tracing::warn!(%error, key, "rate limit check failed; not limiting");
                Ok(())
            }
        }
    }
}
