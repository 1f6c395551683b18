//! The result of a run: the JSON object `pylon-load --json` prints (a contract the comparison
//! runner parses, so fields are only ever added) and the short human summary.

use super::config::LoadConfig;
use super::stats::{ChunkSummary, Stats, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The top-level keys of the JSON report: the contract `pylon-compare` reads.
pub const JSON_KEYS: &[&str] = &[
    "mode",
    "url",
    "requests",
    "ok",
    "errors",
    "error_kinds",
    "duration_s",
    "rps",
    "late_starts",
    "latency_us",
    "ttfb_us",
    "ttft_us",
    "chunk_gap_us",
    "chunks_per_stream",
];

/// One run's numbers. Times are microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `closed` or `open`.
    pub mode: String,
    pub url: String,
    /// Measured requests that finished, successful or not.
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Failed requests by kind (`connect`, `timeout`, `http_4xx`, `http_5xx`, `body`, ...);
    /// kinds that did not occur are left out.
    pub error_kinds: BTreeMap<String, u64>,
    /// From the end of the warm-up until the last measured request finished.
    pub duration_s: f64,
    /// Successful requests per second of `duration_s`.
    pub rps: f64,
    /// Open loop: measured requests that started more than a catch-up window after their
    /// scheduled time (see [`super::schedule`]); always 0 in a closed loop.
    pub late_starts: u64,
    /// Send to last body byte, successful requests only.
    pub latency_us: Summary,
    /// Send to first body byte, successful requests only.
    pub ttfb_us: Summary,
    /// Streams: send to the first `data:` line carrying content.
    pub ttft_us: Option<Summary>,
    /// Streams: between successive content lines.
    pub chunk_gap_us: Option<Summary>,
    /// Streams: content lines per successful stream.
    pub chunks_per_stream: Option<ChunkSummary>,
}

impl Report {
    /// The report of a run of `config` that measured `stats` over `elapsed`.
    pub fn new(config: &LoadConfig, stats: &Stats, elapsed: Duration, late_starts: u64) -> Self {
        let duration_s = elapsed.as_secs_f64();
        let ok = stats.ok();
        let errors = stats.errors();
        Self {
            mode: config.mode.name().to_string(),
            url: config.url.to_string(),
            requests: ok + errors,
            ok,
            errors,
            error_kinds: stats
                .error_kinds()
                .into_iter()
                .map(|(kind, count)| (kind.to_string(), count))
                .collect(),
            duration_s,
            rps: if duration_s > 0.0 {
                ok as f64 / duration_s
            } else {
                0.0
            },
            late_starts,
            latency_us: stats.latency(),
            ttfb_us: stats.ttfb(),
            ttft_us: config.stream.then(|| stats.ttft()),
            chunk_gap_us: config.stream.then(|| stats.chunk_gap()),
            chunks_per_stream: config.stream.then(|| stats.chunks_per_stream()).flatten(),
        }
    }

    /// A few lines for a person.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} loop against {}: {} requests in {:.2} s, {} ok, {} errors, {:.0} ok/s",
            self.mode, self.url, self.requests, self.duration_s, self.ok, self.errors, self.rps
        );
        if !self.error_kinds.is_empty() {
            let kinds: Vec<String> = self
                .error_kinds
                .iter()
                .map(|(kind, count)| format!("{kind}={count}"))
                .collect();
            let _ = writeln!(out, "errors: {}", kinds.join(" "));
        }
        if self.late_starts > 0 {
            let _ = writeln!(
                out,
                "late starts: {} (the client could not keep the schedule)",
                self.late_starts
            );
        }
        line(&mut out, "latency", &self.latency_us);
        line(&mut out, "ttfb", &self.ttfb_us);
        if let Some(ttft) = &self.ttft_us {
            line(&mut out, "ttft", ttft);
        }
        if let Some(gap) = &self.chunk_gap_us {
            line(&mut out, "chunk gap", gap);
        }
        if let Some(chunks) = &self.chunks_per_stream {
            let _ = writeln!(
                out,
                "chunks/stream: mean {:.1}, min {}, max {}",
                chunks.mean, chunks.min, chunks.max
            );
        }
        out
    }
}

fn line(out: &mut String, name: &str, s: &Summary) {
    let ms = |us: u64| us as f64 / 1000.0;
    let _ = writeln!(
        out,
        "{name:>10} ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}",
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.p999),
        ms(s.max),
        s.mean / 1000.0
    );
}

#[cfg(test)]
mod tests {
    use super::super::config::Mode;
    use super::super::stats::{Outcome, Timings};
    use super::*;

    #[test]
    fn serializes_the_contract_fields() {
        let mut config = LoadConfig::new(
            "http://127.0.0.1:9/v1/chat/completions",
            Mode::Closed { concurrency: 2 },
            Duration::from_secs(1),
        )
        .unwrap();
        let mut stats = Stats::new().unwrap();
        stats.record(Outcome::Ok(Timings {
            latency: Duration::from_millis(3),
            ttfb: Duration::from_millis(1),
            ttft: None,
            content_chunks: None,
        }));
        let plain =
            serde_json::to_value(Report::new(&config, &stats, Duration::from_secs(2), 0)).unwrap();
        let keys: Vec<&str> = plain
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in JSON_KEYS {
            assert!(keys.contains(key), "{key}");
        }
        assert_eq!(keys.len(), JSON_KEYS.len());
        assert_eq!(plain["mode"], "closed");
        assert_eq!(plain["rps"], 0.5);
        assert!(plain["ttft_us"].is_null() && plain["chunks_per_stream"].is_null());
        assert_eq!(plain["error_kinds"], serde_json::json!({}));
        for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
            assert!(plain["latency_us"][key].is_number(), "{key}");
        }
        config.stream = true;
        let streamed =
            serde_json::to_value(Report::new(&config, &stats, Duration::from_secs(1), 0)).unwrap();
        assert!(streamed["ttft_us"]["p50"].is_number());
        assert!(streamed["chunk_gap_us"].is_object());
        let text = Report::new(&config, &stats, Duration::from_secs(1), 3).human();
        assert!(text.contains("late starts: 3"), "{text}");
    }
}
