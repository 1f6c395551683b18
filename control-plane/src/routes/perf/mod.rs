//! new-api's performance metrics, from the per-hour usage aggregates (no log scan):
//! `GET /api/perf-metrics/summary?hours=` (every model: average latency, success rate, tokens
//! per second, the success rates of its last three hours) and `GET /api/perf-metrics?model=
//! &group=&hours=` (one model per group, with an hourly series). `hours` is 24 by default,
//! at most 720 (30 days), as in new-api.
//!
//! Pylon's aggregates hold the request time of relayed requests and the time to first token of
//! streamed ones, not new-api's separate generation time: tokens per second divide the output
//! tokens by the whole request time, so they read a little lower than new-api's.

pub mod metrics;

use pylon_shared::db::PerfBucket;
use serde::Serialize;

/// new-api's default window and its largest.
const DEFAULT_HOURS: i64 = 24;
const MAX_HOURS: i64 = 24 * 30;

/// The window's hours: new-api reads a missing, unreadable or non-positive value as 24.
fn hours_of(raw: Option<&str>) -> i64 {
    raw.and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|h| *h > 0)
        .unwrap_or(DEFAULT_HOURS)
        .min(MAX_HOURS)
}

/// Sums of some buckets.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    requests: i64,
    successes: i64,
    use_time_ms: i64,
    ttft_ms: i64,
    ttft_count: i64,
    output_tokens: i64,
}

impl Counters {
    fn add(&mut self, b: &PerfBucket) {
        self.requests += b.requests + b.errors;
        self.successes += b.requests;
        self.use_time_ms += b.use_time_ms;
        self.ttft_ms += b.ttft_ms;
        self.ttft_count += b.ttft_count;
        self.output_tokens += b.completion_tokens;
    }

    fn avg_latency_ms(&self) -> i64 {
        if self.successes > 0 {
            self.use_time_ms / self.successes
        } else {
            0
        }
    }

    fn avg_ttft_ms(&self) -> i64 {
        if self.ttft_count > 0 {
            self.ttft_ms / self.ttft_count
        } else {
            0
        }
    }

    /// Percent, two decimals.
    fn success_rate(&self) -> f64 {
        if self.requests <= 0 {
            return 0.0;
        }
        round2(self.successes as f64 / self.requests as f64 * 100.0)
    }

    fn avg_tps(&self) -> f64 {
        if self.output_tokens <= 0 || self.use_time_ms <= 0 {
            return 0.0;
        }
        round2(self.output_tokens as f64 / (self.use_time_ms as f64 / 1000.0))
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// One hour of a series (new-api's `BucketPoint`).
#[derive(Debug, Serialize)]
struct Point {
    ts: i64,
    channel_id: i64,
    avg_ttft_ms: i64,
    avg_latency_ms: i64,
    success_rate: f64,
    avg_tps: f64,
}

impl Point {
    fn of(ts: i64, c: &Counters) -> Self {
        Self {
            ts,
            channel_id: 0,
            avg_ttft_ms: c.avg_ttft_ms(),
            avg_latency_ms: c.avg_latency_ms(),
            success_rate: c.success_rate(),
            avg_tps: c.avg_tps(),
        }
    }
}
