//! Open-loop pacing: request `i` is due at `start + i / rate`, whatever happened to earlier
//! requests, so a slow server cannot slow the offered load down (no coordinated omission).
//!
//! The loop itself can fall behind (a stalled or saturated client). Then it does not catch up by
//! bursting: when a start comes more than one catch-up window after its due time, that start
//! is counted late and the schedule is re-anchored at it. The window is one interval, but at
//! least [`MIN_WINDOW`]: tokio's timer ticks once a millisecond and rounds deadlines up, so even
//! an idle loop wakes up to about 2.5 ms after a deadline (measured), and at rates above 1000/s
//! requests are released in per-tick batches anyway.

use std::time::Duration;

/// The smallest catch-up window: twice the timer's worst ordinary wake-up delay, so that only
/// real stalls count as late.
pub const MIN_WINDOW: Duration = Duration::from_millis(5);

/// The due times of an open-loop run, as offsets from its start.
#[derive(Debug, Clone)]
pub struct Schedule {
    rate: f64,
    window: Duration,
    /// Slot `anchor_index` is due at `anchor_at`; later slots follow at `1 / rate`.
    anchor_index: u64,
    anchor_at: Duration,
    next: u64,
    late: u64,
}

impl Schedule {
    /// A schedule of `rate` requests per second (positive and finite; callers validate).
    pub fn new(rate: f64) -> Self {
        Self::starting_at(rate, Duration::ZERO)
    }

    /// The same, with its first request due at `first` instead of at zero.
    pub fn starting_at(rate: f64, first: Duration) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate);
        Self {
            rate,
            window: interval.max(MIN_WINDOW),
            anchor_index: 0,
            anchor_at: first,
            next: 0,
            late: 0,
        }
    }

    /// When the next request is due. Computed from the anchor, not by adding intervals, so
    /// rounding never accumulates.
    pub fn next_due(&self) -> Duration {
        let slots = (self.next - self.anchor_index) as f64;
        self.anchor_at + Duration::from_secs_f64(slots / self.rate)
    }

    /// Starts the next request at `now`; returns whether it is late (and re-anchors if so).
    pub fn start(&mut self, now: Duration) -> bool {
        let late = now.saturating_sub(self.next_due()) > self.window;
        if late {
            self.late += 1;
            self.anchor_index = self.next;
            self.anchor_at = now;
        }
        self.next += 1;
        late
    }

    /// Requests started so far.
    pub fn started(&self) -> u64 {
        self.next
    }

    /// Starts counted late so far.
    pub fn late_starts(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn due_times_are_start_plus_i_over_rate() {
        let mut s = Schedule::new(100.0);
        for i in 0..1000u64 {
            assert_eq!(s.next_due(), ms(i * 10), "slot {i}");
            assert!(!s.start(s.next_due()));
        }
        assert_eq!(s.started(), 1000);
        assert_eq!(s.late_starts(), 0);
        // Non-integral intervals do not drift either.
        let mut s = Schedule::new(3.0);
        for _ in 0..3000 {
            s.start(s.next_due());
        }
        assert!(s.next_due().abs_diff(Duration::from_secs(1000)) < Duration::from_micros(1));
    }

    #[test]
    fn small_delays_keep_the_schedule() {
        let mut s = Schedule::new(100.0);
        assert!(!s.start(ms(5)), "5 ms late is within one 10 ms interval");
        assert_eq!(s.next_due(), ms(10));
        assert!(!s.start(ms(19)));
        assert_eq!(s.next_due(), ms(20));
    }

    #[test]
    fn a_stall_is_counted_and_not_caught_up_by_a_burst() {
        let mut s = Schedule::new(100.0);
        s.start(ms(0));
        // Stalled until 105 ms: slots at 10..100 ms were missed.
        assert!(s.start(ms(105)));
        assert_eq!(s.late_starts(), 1);
        // The next request is one interval later, not immediately.
        assert_eq!(s.next_due(), ms(115));
        assert!(!s.start(ms(115)));
        assert_eq!(s.next_due(), ms(125));
        assert_eq!(s.late_starts(), 1);
    }

    #[test]
    fn high_rates_tolerate_timer_ticks() {
        // 20 000/s: 50 us interval; a batch released 2.5 ms late is not a stall.
        let mut s = Schedule::new(20_000.0);
        for _ in 0..50 {
            assert!(!s.start(Duration::from_micros(2_500)));
        }
        assert_eq!(s.next_due(), Duration::from_micros(2_500));
        // 6 ms behind is.
        assert!(s.start(Duration::from_micros(8_600)));
        assert_eq!(s.next_due(), Duration::from_micros(8_650));
    }

    #[test]
    fn can_start_later() {
        let mut s = Schedule::starting_at(10.0, ms(500));
        assert_eq!(s.next_due(), ms(500));
        s.start(ms(500));
        assert_eq!(s.next_due(), ms(600));
    }
}
