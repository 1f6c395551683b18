//! Running the load client (`pylon-load`, pinned to the client core) once, and measuring the
//! system under test meanwhile: CPU time used and resident memory sampled every 100 ms.

use super::procfs::Tree;
use super::procs::{CLIENT_CORE, Launch};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// How often the system under test's memory is sampled during a load run.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Closed loop (a fixed number of connections, each sending the next request when the last
/// answered) or open loop (requests started at a fixed rate, whatever the answers).
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// N concurrent connections.
    Closed(usize),
    /// R requests per second.
    Open(f64),
}

/// One invocation of the load client.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Full endpoint URL.
    pub url: String,
    /// Bearer key.
    pub key: Option<String>,
    /// The `model` of the request body.
    pub model: String,
    /// Extra request headers (`Name: value`).
    pub headers: Vec<String>,
    /// Closed or open loop.
    pub mode: Mode,
    /// Seconds of measurement.
    pub duration_s: f64,
    /// Cap on the number of requests.
    pub max_requests: Option<u64>,
    /// Ask for a stream.
    pub stream: bool,
    /// Request body size.
    pub body_bytes: Option<usize>,
    /// Send Anthropic messages (`--format anthropic`) instead of chat completions.
    pub anthropic: bool,
    /// Per-request timeout.
    pub timeout_ms: u64,
}

impl LoadSpec {
    /// A closed-loop spec for `url` and `model`.
    pub fn closed(url: &str, model: &str, concurrency: usize, duration_s: f64) -> Self {
        Self {
            url: url.to_string(),
            key: None,
            model: model.to_string(),
            headers: Vec::new(),
            mode: Mode::Closed(concurrency),
            duration_s,
            max_requests: None,
            stream: false,
            body_bytes: None,
            anthropic: false,
            timeout_ms: 10_000,
        }
    }

    /// An open-loop spec for `url` and `model`.
    pub fn open(url: &str, model: &str, rate: f64, duration_s: f64) -> Self {
        Self {
            mode: Mode::Open(rate),
            ..Self::closed(url, model, 1, duration_s)
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--url".to_string(), self.url.clone()];
        if let Some(key) = &self.key {
            args.extend(["--key".into(), key.clone()]);
        }
        args.extend(["--model".into(), self.model.clone()]);
        for header in &self.headers {
            args.extend(["--header".into(), header.clone()]);
        }
        match self.mode {
            Mode::Closed(n) => {
                args.extend(["--mode".into(), "closed".into()]);
                args.extend(["--concurrency".into(), n.to_string()]);
            }
            Mode::Open(rate) => {
                args.extend(["--mode".into(), "open".into()]);
                args.extend(["--rate".into(), format!("{}", rate.round().max(1.0))]);
            }
        }
        args.extend(["--duration".into(), format!("{}", self.duration_s)]);
        args.extend(["--warmup".into(), "0".into()]);
        if let Some(max) = self.max_requests {
            args.extend(["--max-requests".into(), max.to_string()]);
        }
        if self.stream {
            args.push("--stream".into());
        }
        if let Some(bytes) = self.body_bytes {
            args.extend(["--body-bytes".into(), bytes.to_string()]);
        }
        if self.anthropic {
            args.extend(["--format".into(), "anthropic".into()]);
        }
        args.extend(["--timeout-ms".into(), self.timeout_ms.to_string()]);
        args.push("--json".into());
        args
    }
}

/// Percentiles in microseconds, as `pylon-load` reports them.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Chunks per completed stream.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct ChunkStats {
    /// Mean.
    pub mean: f64,
    /// Fewest.
    pub min: f64,
    /// Most.
    pub max: f64,
}

/// The load client's JSON report (its fixed contract).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LoadReport {
    /// Requests finished (ok + errors).
    pub requests: u64,
    /// Answered 2xx and read completely.
    pub ok: u64,
    /// Everything else.
    pub errors: u64,
    /// Errors by kind (`status_500`, `timeout`, `connect`, ...).
    #[serde(default)]
    pub error_kinds: BTreeMap<String, u64>,
    /// Measured seconds.
    pub duration_s: f64,
    /// ok / duration.
    pub rps: f64,
    /// Open loop: requests started later than scheduled (the client could not keep up).
    #[serde(default)]
    pub late_starts: u64,
    /// Whole-request latency.
    pub latency_us: Percentiles,
    /// Time to the response head.
    pub ttfb_us: Percentiles,
    /// Streams: time to the first content event.
    pub ttft_us: Option<Percentiles>,
    /// Streams: time between events.
    pub chunk_gap_us: Option<Percentiles>,
    /// Streams: events per stream.
    pub chunks_per_stream: Option<ChunkStats>,
}

/// A load run and what the system under test used meanwhile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measured {
    /// The client's report.
    pub report: LoadReport,
    /// CPU time of the system under test per finished request, in microseconds.
    pub cpu_us_per_request: Option<f64>,
    /// Largest resident memory of the system under test seen during the run, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Resident memory of the system under test just before the run, in KiB.
    pub rss_before_kib: Option<u64>,
}

/// Runs the load client once with `spec`, measuring `sut` (when there is one) meanwhile.
/// Bounded: the client is killed if it runs past its duration plus its timeout plus 30 s.
pub async fn run(
    load_bin: &Path,
    run_dir: &Path,
    spec: &LoadSpec,
    sut: Option<Tree>,
) -> anyhow::Result<Measured> {
    let args = spec.args();
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let launch = Launch::new("pylon-load", load_bin, &arg_refs, CLIENT_CORE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("pylon-load.log"))?;
    let mut child = launch
        .command(run_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("start {}", load_bin.display()))?;
    let mut stdout = child.stdout.take().context("load client stdout")?;
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        stdout.read_to_string(&mut text).await.map(|_| text)
    });

    let rss_before = sut.map(|t| t.rss_kib());
    let cpu_before = sut.map(|t| t.cpu_us());
    let mut peak = rss_before;
    let limit = Duration::from_secs_f64(spec.duration_s + spec.timeout_ms as f64 / 1000.0 + 30.0);
    let started = Instant::now();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(SAMPLE_EVERY) => {
                if let Some(tree) = sut {
                    let rss = tree.rss_kib();
                    peak = peak.map(|p| p.max(rss));
                }
                if started.elapsed() > limit {
                    let _ = child.start_kill();
                    bail!("the load client ran longer than {limit:?} ({:?})", spec.mode);
                }
            }
        }
    };
    let cpu_after = sut.map(|t| t.cpu_us());
    let text = reader.await??;
    if !status.success() {
        bail!(
            "the load client failed ({status}) with {}; see pylon-load.log",
            args.join(" ")
        );
    }
    let json = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the load client printed no JSON")?;
    let report: LoadReport = serde_json::from_str(json)
        .with_context(|| format!("the load client's JSON does not parse: {json}"))?;
    let cpu_us_per_request = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if report.requests > 0 => {
            Some(after.saturating_sub(before) as f64 / report.requests as f64)
        }
        _ => None,
    };
    Ok(Measured {
        report,
        cpu_us_per_request,
        peak_rss_kib: peak,
        rss_before_kib: rss_before,
    })
}
