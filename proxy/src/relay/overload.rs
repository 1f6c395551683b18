//! Overload protection: two cheap checks that run before a request costs anything (no body
//! parse, no reservation, no upstream connection).
//!
//! - **Scheduling delay.** A tiny task on the proxy's worker runtime wakes every
//!   [`SAMPLE_PERIOD`] and records how late it ran: how long a ready task now waits for the CPU.
//!   While that delay stays above `relay.shed_delay_ms`, arrivals outpace what the core serves,
//!   and a new request would only queue behind the backlog until its client gives up; it gets a
//!   503 with `Retry-After` at once instead, so the requests already admitted finish in time
//!   and memory stays bounded. A burst that the backlog absorbs (the delay falls again) sheds
//!   nothing.
//! - **Departed clients.** While the runtime is behind (a delay of [`BEHIND`] or more), a
//!   request whose client hung up while it waited (a client-side timeout) is dropped unanswered
//!   rather than relayed to nobody: one non-blocking peek at the socket. A runtime that keeps up
//!   costs no such system call.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the sampler measures the scheduling delay.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(10);
/// A scheduling delay from which requests may have waited long enough for clients to give up.
pub const BEHIND: Duration = Duration::from_millis(10);

/// The shared overload state.
pub struct Overload {
    /// Shed while the scheduling delay has been above this for `sustain`; zero disables.
    limit: Duration,
    /// How long the delay must stay above `limit` before shedding starts.
    sustain: Duration,
    /// The latest measured delay, in microseconds.
    delay_us: AtomicU64,
    /// Since when (microseconds after `epoch`) the delay has been above the limit; 0 = it is not.
    above_since_us: AtomicU64,
    epoch: Instant,
    sampler_started: AtomicBool,
    /// Every sampled delay, for the metrics.
    delays: Option<prometheus::Histogram>,
}

impl Overload {
    /// Overload protection shedding once the delay has stayed above `limit` for `sustain`.
    /// Sampled delays go into `delays` when given.
    pub fn new(
        limit: Duration,
        sustain: Duration,
        delays: Option<prometheus::Histogram>,
    ) -> Arc<Self> {
        Arc::new(Self {
            limit,
            sustain,
            delay_us: AtomicU64::new(0),
            above_since_us: AtomicU64::new(0),
            epoch: Instant::now(),
            sampler_started: AtomicBool::new(false),
            delays,
        })
    }

    /// Whether a new request should be refused now. Starts the sampler on the calling runtime
    /// (the proxy's worker runtime) the first time.
    pub fn shedding(self: &Arc<Self>) -> bool {
        if !self.sampler_started.swap(true, Ordering::Relaxed) {
            tokio::spawn(sample(Arc::clone(self)));
        }
        if self.limit.is_zero() {
            return false;
        }
        let since = self.above_since_us.load(Ordering::Relaxed);
        since != 0 && self.micros_now().saturating_sub(since) >= micros(self.sustain)
    }

    /// Whether the runtime is behind enough for waiting clients to have given up.
    pub fn behind(&self) -> bool {
        self.delay() >= BEHIND
    }

    /// The latest measured scheduling delay.
    pub fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::Relaxed))
    }

    /// Records one measured delay.
    fn observe(&self, delay: Duration) {
        self.delay_us.store(micros(delay), Ordering::Relaxed);
        if let Some(delays) = &self.delays {
            delays.observe(delay.as_secs_f64());
        }
        if delay > self.limit {
            // Keep the first moment the delay went above the limit (1 µs at least: 0 = below).
            let now = self.micros_now().max(1);
            let _ =
                self.above_since_us
                    .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        } else {
            self.above_since_us.store(0, Ordering::Relaxed);
        }
    }

    fn micros_now(&self) -> u64 {
        micros(self.epoch.elapsed())
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Wakes every period and records how late it ran.
async fn sample(overload: Arc<Overload>) {
    let mut due = tokio::time::Instant::now() + SAMPLE_PERIOD;
    loop {
        tokio::time::sleep_until(due).await;
        let now = tokio::time::Instant::now();
        overload.observe(now.saturating_duration_since(due));
        due = now + SAMPLE_PERIOD;
    }
}

/// Whether the client behind `fd` has closed its side of the connection: a peek that finds the
/// end of the stream (or a reset). Pending data or nothing to read yet both mean it is there.
pub fn client_departed(fd: RawFd) -> bool {
    use nix::errno::Errno;
    use nix::sys::socket::{MsgFlags, recv};
    let mut byte = [0u8; 1];
    match recv(fd, &mut byte, MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT) {
        Ok(0) => true,
        Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => false,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn sheds_only_after_the_delay_stays_high() {
        let overload = Overload::new(Duration::from_millis(100), Duration::from_millis(30), None);
        overload.observe(Duration::from_millis(500));
        assert!(overload.above_since_us.load(Ordering::Relaxed) > 0);
        let since = overload.above_since_us.load(Ordering::Relaxed);
        overload.observe(Duration::from_millis(400));
        assert_eq!(overload.above_since_us.load(Ordering::Relaxed), since);
        assert!(overload.behind());
        overload.observe(Duration::from_millis(5));
        assert_eq!(overload.above_since_us.load(Ordering::Relaxed), 0);
        assert_eq!(overload.delay(), Duration::from_millis(5));
        assert!(!overload.behind());
    }

    #[tokio::test]
    async fn shedding_follows_the_sampled_delay() {
        let overload = Overload::new(Duration::from_millis(20), Duration::from_millis(50), None);
        assert!(!overload.shedding());
        // Hog the runtime's only thread: the sampler runs late.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(60));
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            overload.delay() > Duration::from_millis(20),
            "{:?}",
            overload.delay()
        );
        assert!(overload.shedding());
        // Once the runtime is free again, the delay falls and shedding stops.
        tokio::time::sleep(SAMPLE_PERIOD * 5).await;
        assert!(!overload.shedding());
    }

    #[tokio::test]
    async fn a_zero_limit_never_sheds() {
        let overload = Overload::new(Duration::ZERO, Duration::ZERO, None);
        overload.observe(Duration::from_secs(5));
        assert!(!overload.shedding());
    }

    #[test]
    fn sees_a_client_that_hung_up() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert!(!client_departed(server.as_raw_fd()), "idle client");
        client.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !client_departed(server.as_raw_fd()),
            "client with pending data"
        );
        let mut buf = [0u8; 1];
        std::io::Read::read(&mut &server, &mut buf).unwrap();
        drop(client);
        std::thread::sleep(Duration::from_millis(20));
        assert!(client_departed(server.as_raw_fd()), "closed client");
    }
}
