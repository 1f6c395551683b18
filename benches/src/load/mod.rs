//! The load client behind `pylon-load`: POSTs chat completions to a loopback URL in a closed or
//! open loop, measures latency, time to first byte and, for streams, time to first token and
//! the gaps between chunks, in HDR histograms, and reports them as one JSON object.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use pylon_benches::load::{LoadConfig, Mode, run};
//! use std::time::Duration;
//! let mut config = LoadConfig::new(
//!     "http://127.0.0.1:9000/v1/chat/completions",
//!     Mode::open(500.0),
//!     Duration::from_secs(5),
//! )?;
//! config.stream = true;
//! let report = run(&config).await?;
//! assert_eq!(report.errors, 0);
//! # Ok(())
//! # }
//! ```
//!
//! Run it on a current-thread runtime (the binary does) and pin the process to a core: one
//! core drives about 20k small requests per second.

mod body;
mod closed;
mod config;
mod exchange;
mod open;
mod report;
pub mod schedule;
mod sse;
mod stats;

pub use body::BodyFormat;
pub use config::{
    Args, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_REQUESTS, LoadConfig, Mode, USAGE, loopback_url, parse,
};
pub use report::{JSON_KEYS, Report};
pub use sse::{SseProbe, carries_content};
pub use stats::{ChunkSummary, ErrorKind, Summary};

use exchange::Target;
use stats::Stats;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// When a run's phases begin and end.
#[derive(Debug, Clone, Copy)]
struct Phases {
    start: Instant,
    /// The warm-up ends and measuring begins.
    measure_from: Instant,
    /// No request starts after this.
    end: Instant,
    /// At most this many requests start in each phase.
    max_requests: u64,
}

/// Runs `config` to the end (in-flight requests included, each bounded by the timeout).
pub async fn run(config: &LoadConfig) -> anyhow::Result<Report> {
    config.validate()?;
    let target = Arc::new(Target::new(config)?);
    let stats = Arc::new(Mutex::new(Stats::new()?));
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let phases = Phases {
        start,
        measure_from,
        end: measure_from + config.duration,
        max_requests: config.max_requests,
    };
    let late_starts = match config.mode {
        Mode::Closed { concurrency } => {
            closed::run(target, Arc::clone(&stats), concurrency, phases).await?;
            0
        }
        Mode::Open {
            rate,
            max_in_flight,
        } => open::run(target, Arc::clone(&stats), rate, max_in_flight, phases).await?,
    };
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    let stats = stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Report::new(config, &stats, elapsed, late_starts))
}
