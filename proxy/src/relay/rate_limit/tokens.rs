//! Token windows: the tokens (prompt + completion) a key used in the last minute, in one
//! bucket per second (a hash in Redis, whose clock serves every node, or a queue in this
//! process). A request is refused while the window already holds the limit, as LiteLLM's
//! tokens-per-minute limit does: its own tokens are not known until it is answered, and are
//! added then, before the answer ends.

use super::Reached;
use dashmap::DashMap;
use pylon_shared::cache::LuaScript;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window.
pub(super) const WINDOW: Duration = Duration::from_secs(60);

/// KEYS: the window (hash of Unix second -> tokens); ARGV: mode (`check` or `record`), limit,
/// tokens. Drops buckets older than 60 s; `check` answers minus the milliseconds until the
/// oldest bucket leaves when the window holds the limit; `record` adds the tokens to this
/// second's bucket. 0: done.
pub(super) static WINDOW_SCRIPT: LuaScript = LuaScript::new(
    r#"
local now = tonumber(redis.call('TIME')[1])
local sum, oldest = 0, nil
local buckets = redis.call('HGETALL', KEYS[1])
for i = 1, #buckets, 2 do
  local second = tonumber(buckets[i])
  if second == nil or second <= now - 60 then
    redis.call('HDEL', KEYS[1], buckets[i])
  else
    sum = sum + tonumber(buckets[i + 1])
    if oldest == nil or second < oldest then oldest = second end
  end
end
if ARGV[1] == 'record' then
  redis.call('HINCRBY', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], 61)
  return 0
end
if sum >= tonumber(ARGV[2]) then
  local wait = ((oldest or now) + 60 - now) * 1000
  if wait < 1000 then wait = 1000 end
  return -wait
end
return 0
"#,
);

/// Token windows held in this process: (when, tokens) per request, oldest first.
pub(super) type MemoryWindows = DashMap<String, Mutex<VecDeque<(Instant, u64)>>>;

/// Refuses while `key`'s window holds `limit` tokens or more.
pub(super) fn check_in_memory(
    windows: &MemoryWindows,
    key: &str,
    limit: u64,
) -> Result<(), Reached> {
    let Some(entry) = windows.get(key) else {
        return Ok(());
    };
    let now = Instant::now();
    let mut window = entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while window
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
    {
        window.pop_front();
    }
    let used = window
        .iter()
        .fold(0u64, |sum, (_, n)| sum.saturating_add(*n));
    if used < limit {
        return Ok(());
    }
    let oldest = window.front().map_or(now, |(t, _)| *t);
    Err(Reached {
        limit,
        retry_after: (oldest + WINDOW)
            .saturating_duration_since(now)
            .max(Duration::from_millis(1)),
    })
}

/// Adds `tokens` to `key`'s window.
pub(super) fn record_in_memory(windows: &MemoryWindows, key: &str, tokens: u64) {
    let entry = windows.entry(key.to_string()).or_default();
    entry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push_back((Instant::now(), tokens));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_refuses_once_it_holds_the_limit() {
        let windows = MemoryWindows::new();
        assert!(check_in_memory(&windows, "k", 100).is_ok(), "nothing used");
        record_in_memory(&windows, "k", 60);
        assert!(check_in_memory(&windows, "k", 100).is_ok());
        record_in_memory(&windows, "k", 40);
        let reached = check_in_memory(&windows, "k", 100).unwrap_err();
        assert_eq!(reached.limit, 100);
        assert!(reached.retry_after > Duration::from_secs(59) && reached.retry_after <= WINDOW);
        assert!(check_in_memory(&windows, "other", 100).is_ok());
        assert!(check_in_memory(&windows, "k", 101).is_ok());
    }
}
