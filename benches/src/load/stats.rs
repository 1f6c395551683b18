//! What a load run records: HDR histograms in microseconds (3 significant digits), error counts
//! by kind, and chunk counts per stream; and their summaries as the JSON report prints them.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest recordable value: one hour in microseconds (larger values are clamped).
const MAX_MICROS: u64 = 3_600_000_000;
/// Significant digits kept by every histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The request did not finish within `--timeout-ms`.
    Timeout,
    /// A 3xx answer (redirects are not followed).
    Http3xx,
    /// A 4xx answer.
    Http4xx,
    /// A 5xx answer.
    Http5xx,
    /// Any other non-2xx status.
    HttpOther,
    /// The body broke off, or a stream ended without `data: [DONE]`.
    Body,
    /// Anything else reqwest reported.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 8] = [
        Self::Connect,
        Self::Timeout,
        Self::Http3xx,
        Self::Http4xx,
        Self::Http5xx,
        Self::HttpOther,
        Self::Body,
        Self::Other,
    ];

    /// The key in the report's `error_kinds`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Http3xx => "http_3xx",
            Self::Http4xx => "http_4xx",
            Self::Http5xx => "http_5xx",
            Self::HttpOther => "http_other",
            Self::Body => "body",
            Self::Other => "other",
        }
    }

    /// The kind of a non-success HTTP status.
    pub fn of_status(status: u16) -> Self {
        match status / 100 {
            3 => Self::Http3xx,
            4 => Self::Http4xx,
            5 => Self::Http5xx,
            _ => Self::HttpOther,
        }
    }
}

/// One finished request, as [`Stats::record`] takes it.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// A 2xx answer read to its end.
    Ok(Timings),
    /// A failure.
    Failed(ErrorKind),
}

/// The timings of one successful request, measured from just before it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Until the last byte of the body.
    pub latency: Duration,
    /// Until the first byte of the body (the response head when the body is empty).
    pub ttfb: Duration,
    /// Streams: until the first `data:` line carrying content, if any came.
    pub ttft: Option<Duration>,
    /// Streams: how many `data:` lines carried content.
    pub content_chunks: Option<u64>,
}

/// The measurements of one run.
pub struct Stats {
    latency: Histogram<u64>,
    ttfb: Histogram<u64>,
    ttft: Histogram<u64>,
    chunk_gap: Histogram<u64>,
    ok: u64,
    errors: [u64; ErrorKind::ALL.len()],
    streams: u64,
    chunks_total: u64,
    chunks_min: u64,
    chunks_max: u64,
}

/// A distribution in microseconds, as the report prints it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// Content chunks per stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChunkSummary {
    pub mean: f64,
    pub min: u64,
    pub max: u64,
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(
        1,
        MAX_MICROS,
        SIGNIFICANT_DIGITS,
    )?)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The percentiles of `histogram` (all zero when it is empty).
pub fn summarize(histogram: &Histogram<u64>) -> Summary {
    if histogram.is_empty() {
        return Summary {
            p50: 0,
            p90: 0,
            p99: 0,
            p999: 0,
            max: 0,
            mean: 0.0,
        };
    }
    Summary {
        p50: histogram.value_at_quantile(0.5),
        p90: histogram.value_at_quantile(0.9),
        p99: histogram.value_at_quantile(0.99),
        p999: histogram.value_at_quantile(0.999),
        max: histogram.max(),
        mean: histogram.mean(),
    }
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: histogram()?,
            ttfb: histogram()?,
            ttft: histogram()?,
            chunk_gap: histogram()?,
            ok: 0,
            errors: [0; ErrorKind::ALL.len()],
            streams: 0,
            chunks_total: 0,
            chunks_min: u64::MAX,
            chunks_max: 0,
        })
    }

    /// Records one finished request.
    pub fn record(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Ok(timings) => {
                self.ok += 1;
                self.latency.saturating_record(micros(timings.latency));
                self.ttfb.saturating_record(micros(timings.ttfb));
                if let Some(ttft) = timings.ttft {
                    self.ttft.saturating_record(micros(ttft));
                }
                if let Some(chunks) = timings.content_chunks {
                    self.streams += 1;
                    self.chunks_total += chunks;
                    self.chunks_min = self.chunks_min.min(chunks);
                    self.chunks_max = self.chunks_max.max(chunks);
                }
            }
            Outcome::Failed(kind) => {
                if let Some(count) = ErrorKind::ALL
                    .iter()
                    .position(|k| *k == kind)
                    .and_then(|i| self.errors.get_mut(i))
                {
                    *count += 1;
                }
            }
        }
    }

    /// Records the time between two successive content chunks of a stream.
    pub fn record_gap(&mut self, gap: Duration) {
        self.chunk_gap.saturating_record(micros(gap));
    }

    /// Successful requests.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Failed requests.
    pub fn errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// The non-zero error counts by kind name.
    pub fn error_kinds(&self) -> BTreeMap<&'static str, u64> {
        ErrorKind::ALL
            .iter()
            .zip(self.errors)
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| (kind.name(), count))
            .collect()
    }

    /// Latency (send to last byte) of the successful requests.
    pub fn latency(&self) -> Summary {
        summarize(&self.latency)
    }

    /// Time to first body byte of the successful requests.
    pub fn ttfb(&self) -> Summary {
        summarize(&self.ttfb)
    }

    /// Time to first token of the successful streams.
    pub fn ttft(&self) -> Summary {
        summarize(&self.ttft)
    }

    /// Gaps between successive content chunks.
    pub fn chunk_gap(&self) -> Summary {
        summarize(&self.chunk_gap)
    }

    /// Content chunks per successful stream; `None` before any stream finished.
    pub fn chunks_per_stream(&self) -> Option<ChunkSummary> {
        (self.streams > 0).then(|| ChunkSummary {
            mean: self.chunks_total as f64 / self.streams as f64,
            min: self.chunks_min,
            max: self.chunks_max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(latency_us: u64, ttft_us: Option<u64>, chunks: Option<u64>) -> Outcome {
        Outcome::Ok(Timings {
            latency: Duration::from_micros(latency_us),
            ttfb: Duration::from_micros(latency_us / 2),
            ttft: ttft_us.map(Duration::from_micros),
            content_chunks: chunks,
        })
    }

    #[test]
    fn summarizes_percentiles_within_three_digits() {
        let mut stats = Stats::new().unwrap();
        for us in 1..=10_000 {
            stats.record(ok(us, None, None));
        }
        let s = stats.latency();
        let near = |value: u64, expected: u64| value.abs_diff(expected) <= expected / 500 + 1;
        assert!(near(s.p50, 5_000), "{s:?}");
        assert!(near(s.p90, 9_000), "{s:?}");
        assert!(near(s.p99, 9_900), "{s:?}");
        assert!(near(s.p999, 9_990), "{s:?}");
        assert!(near(s.max, 10_000), "{s:?}");
        assert!((s.mean - 5_000.5).abs() < 10.0, "{s:?}");
        assert_eq!(stats.ok(), 10_000);
        assert!(near(stats.ttfb().p50, 2_500), "{:?}", stats.ttfb());
        assert!(stats.chunks_per_stream().is_none());
    }

    #[test]
    fn empty_histograms_summarize_to_zero() {
        let stats = Stats::new().unwrap();
        assert_eq!(stats.ttft().max, 0);
        assert_eq!(stats.ttft().mean, 0.0);
        assert_eq!(stats.errors(), 0);
        assert!(stats.error_kinds().is_empty());
    }

    #[test]
    fn clamps_huge_values_instead_of_failing() {
        let mut stats = Stats::new().unwrap();
        stats.record(ok(u64::MAX / 2, None, None));
        assert!(stats.latency().max >= MAX_MICROS);
    }

    #[test]
    fn counts_errors_by_kind_and_chunks_per_stream() {
        let mut stats = Stats::new().unwrap();
        stats.record(Outcome::Failed(ErrorKind::of_status(503)));
        stats.record(Outcome::Failed(ErrorKind::of_status(500)));
        stats.record(Outcome::Failed(ErrorKind::of_status(429)));
        stats.record(Outcome::Failed(ErrorKind::Connect));
        stats.record(ok(100, Some(40), Some(3)));
        stats.record(ok(100, Some(60), Some(7)));
        stats.record_gap(Duration::from_millis(5));
        assert_eq!(stats.errors(), 4);
        let kinds = stats.error_kinds();
        assert_eq!(kinds.get("http_5xx"), Some(&2));
        assert_eq!(kinds.get("http_4xx"), Some(&1));
        assert_eq!(kinds.get("connect"), Some(&1));
        assert_eq!(kinds.len(), 3);
        let chunks = stats.chunks_per_stream().unwrap();
        assert_eq!((chunks.min, chunks.max, chunks.mean), (3, 7, 5.0));
        assert!(stats.chunk_gap().p50.abs_diff(5_000) <= 5);
        assert!(stats.ttft().max.abs_diff(60) <= 1);
    }
}
