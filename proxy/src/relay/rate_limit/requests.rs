//! Request logs: one timestamp per request in a rolling window (a sorted set in Redis, whose
//! clock serves every node, or a queue in this process), so that "N per window" holds exactly
//! whatever the alignment of the requests.

use super::Reached;
use dashmap::DashMap;
use pylon_shared::cache::LuaScript;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// KEYS: the log; ARGV: window ms, limit, member, mode (`take`, `check`, `record`). Drops
/// entries older than the window; `check`/`take` answer minus the milliseconds until a slot
/// frees when the log is full; `take`/`record` add the member at Redis' time. 0: done.
pub(super) static SLIDE: LuaScript = LuaScript::new(
    r#"
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
"#,
);

/// What a request does to a log.
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// Refuse when full, else count this request.
    Take,
    /// Refuse when full; count nothing.
    Check,
    /// Count this request whatever the log holds.
    Record,
}

impl Mode {
    pub(super) fn name(self) -> &'static str {
        match self {
            Mode::Take => "take",
            Mode::Check => "check",
            Mode::Record => "record",
        }
    }
}

/// Request logs held in this process.
pub(super) type MemoryLogs = DashMap<String, Mutex<VecDeque<Instant>>>;

/// [`SLIDE`] on a log in this process.
pub(super) fn slide_in_memory(
    logs: &MemoryLogs,
    key: &str,
    limit: u64,
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
    if !matches!(mode, Mode::Record) && log.len() as u64 >= limit {
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

#[cfg(test)]
mod tests {
    use super::*;

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
