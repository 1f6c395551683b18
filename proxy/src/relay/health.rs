//! Channel health: a circuit breaker per channel. N failures within a window open the circuit
//! for a cool-down; then exactly one probe request is let through (half-open): its success
//! closes the circuit, its failure opens it again. A 429 with `Retry-After` bans the channel
//! until then.

use dashmap::DashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    failures: u32,
    window_start: Option<Instant>,
    open_until: Option<Instant>,
    probing: bool,
}

/// Circuit state, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// Health of every channel.
pub struct ChannelHealth {
    states: DashMap<i64, Mutex<State>>,
    threshold: u32,
    window: Duration,
    cooldown: Duration,
}

impl ChannelHealth {
    /// Breakers that open after `threshold` failures within `window`, for `cooldown`.
    pub fn new(threshold: u32, window: Duration, cooldown: Duration) -> Self {
        Self {
            states: DashMap::new(),
            threshold,
            window,
            cooldown,
        }
    }

    fn with<T>(&self, id: i64, f: impl FnOnce(&mut State) -> T) -> T {
        let entry = self.states.entry(id).or_default();
        let mut state = entry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Whether a request may go to channel `id` now (claims the probe when half-open).
    pub fn admit(&self, id: i64) -> bool {
        let now = Instant::now();
        self.with(id, |s| match s.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if s.probing => false,
            Some(_) => {
                s.probing = true;
                true
            }
        })
    }

    /// Whether channel `id` would be admitted, without claiming anything.
    pub fn is_available(&self, id: i64) -> bool {
        let now = Instant::now();
        self.with(id, |s| match s.open_until {
            None => true,
            Some(until) => now >= until && !s.probing,
        })
    }

    /// A request through channel `id` succeeded.
    pub fn success(&self, id: i64) {
        self.with(id, |s| *s = State::default());
    }

    /// A request through channel `id` failed.
    pub fn failure(&self, id: i64) {
        let now = Instant::now();
        self.with(id, |s| {
            if s.probing {
                s.probing = false;
                s.open_until = Some(now + self.cooldown);
                s.failures = 0;
                s.window_start = None;
                return;
            }
            if s.window_start
                .is_none_or(|start| now.duration_since(start) > self.window)
            {
                s.window_start = Some(now);
                s.failures = 0;
            }
            s.failures += 1;
            if s.failures >= self.threshold {
                s.open_until = Some(now + self.cooldown);
                s.failures = 0;
                s.window_start = None;
            }
        });
    }

    /// The upstream asked for a pause (429 Retry-After): keep channel `id` out until then.
    pub fn pause(&self, id: i64, duration: Duration) {
        let until = Instant::now() + duration;
        self.with(id, |s| {
            s.open_until = Some(s.open_until.map_or(until, |current| current.max(until)));
            s.probing = false;
        });
    }

    /// The circuit state of channel `id`.
    pub fn circuit(&self, id: i64) -> Circuit {
        let now = Instant::now();
        self.with(id, |s| match s.open_until {
            None => Circuit::Closed,
            Some(until) if now < until => Circuit::Open,
            Some(_) => Circuit::HalfOpen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let health = ChannelHealth::new(3, Duration::from_secs(60), Duration::from_millis(20));
        for _ in 0..2 {
            health.failure(1);
        }
        assert!(health.admit(1));
        health.failure(1);
        assert_eq!(health.circuit(1), Circuit::Open);
        assert!(!health.admit(1));
        std::thread::sleep(Duration::from_millis(30));
        assert!(health.admit(1), "one probe after the cool-down");
        assert!(!health.admit(1), "only one probe");
        health.success(1);
        assert_eq!(health.circuit(1), Circuit::Closed);
        assert!(health.admit(1));
    }

    #[test]
    fn a_failed_probe_reopens() {
        let health = ChannelHealth::new(1, Duration::from_secs(60), Duration::from_millis(10));
        health.failure(2);
        std::thread::sleep(Duration::from_millis(15));
        assert!(health.admit(2));
        health.failure(2);
        assert_eq!(health.circuit(2), Circuit::Open);
    }

    #[test]
    fn pauses_for_retry_after() {
        let health = ChannelHealth::new(5, Duration::from_secs(60), Duration::from_secs(1));
        health.pause(3, Duration::from_secs(30));
        assert!(!health.admit(3));
        assert!(health.admit(4));
    }
}
