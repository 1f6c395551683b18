//! What one comparison run measured, per system under test, in plain data (serialised to
//! JSON beside the Markdown report so that runs can be compared later).

use super::load::Measured;
use super::procfs::Machine;
use serde::Serialize;

/// A scenario's outcome: measured, or why not (not applicable, skipped, failed).
pub type Outcome<T> = Result<T, String>;

/// The systems compared, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SystemKind {
    /// The load client straight to the mock: the floor of the client and mock themselves.
    Direct,
    /// nginx `proxy_pass` with upstream keep-alive: the floor of any proxy.
    Nginx,
    /// A bare Pingora reverse proxy (`pingora-floor`), run as pylon-proxy runs Pingora: the
    /// floor of the framework Pylon is built on.
    PingoraFloor,
    /// LiteLLM proxy.
    LiteLlm,
    /// Pylon, embedded (SQLite + in-process cache).
    PylonSqlite,
    /// Pylon on MySQL + Redis.
    PylonMysql,
}

impl SystemKind {
    /// Every system, in table order.
    pub const ALL: [SystemKind; 6] = [
        SystemKind::Direct,
        SystemKind::Nginx,
        SystemKind::PingoraFloor,
        SystemKind::LiteLlm,
        SystemKind::PylonSqlite,
        SystemKind::PylonMysql,
    ];

    /// The column title.
    pub fn label(self) -> &'static str {
        match self {
            SystemKind::Direct => "direct (mock)",
            SystemKind::Nginx => "nginx",
            SystemKind::PingoraFloor => "Pingora (bare proxy)",
            SystemKind::LiteLlm => "LiteLLM",
            SystemKind::PylonSqlite => "Pylon (SQLite)",
            SystemKind::PylonMysql => "Pylon (MySQL+Redis)",
        }
    }

    /// Whether this is one of the Pylon columns.
    pub fn is_pylon(self) -> bool {
        matches!(self, SystemKind::PylonSqlite | SystemKind::PylonMysql)
    }
}

/// The highest request rate with p99 under the bound, from the closed-loop search.
#[derive(Debug, Clone, Serialize)]
pub struct MaxThroughput {
    /// Requests per second of the best qualifying step.
    pub rps: f64,
    /// Its concurrency.
    pub concurrency: usize,
    /// Whether it met the p99 bound (false: no step did; this is the best step regardless).
    pub within_bound: bool,
    /// The best step's measurement.
    pub best: Measured,
    /// Every step: concurrency, requests/s, p99 µs, errors.
    pub steps: Vec<(usize, f64, f64, u64)>,
}

/// Streams opened at once and held: memory per stream and whether all completed.
#[derive(Debug, Clone, Serialize)]
pub struct LongStreams {
    /// Streams opened.
    pub streams: usize,
    /// Resident memory before, in KiB.
    pub rss_before_kib: u64,
    /// Largest resident memory while they were open, in KiB.
    pub rss_open_kib: u64,
    /// The run.
    pub run: Measured,
}

impl LongStreams {
    /// Memory per open stream, in bytes.
    pub fn bytes_per_stream(&self) -> f64 {
        self.rss_open_kib.saturating_sub(self.rss_before_kib) as f64 * 1024.0
            / self.streams.max(1) as f64
    }

    /// Whether every stream completed with every chunk.
    pub fn all_complete(&self, expected_chunks: Option<f64>) -> bool {
        let r = &self.run.report;
        let chunks_ok = match (expected_chunks, r.chunks_per_stream) {
            (Some(expected), Some(c)) => c.min >= expected,
            (None, _) => true,
            (Some(_), None) => false,
        };
        r.ok as usize == self.streams && r.errors == 0 && chunks_ok
    }
}

/// Twice the maximum rate, then the maximum again.
#[derive(Debug, Clone, Serialize)]
pub struct Overload {
    /// Offered requests per second (open loop).
    pub offered_rps: f64,
    /// The overload run.
    pub run: Measured,
    /// The run right after, closed loop at the best concurrency.
    pub recovery: Measured,
    /// The maximum it is compared with.
    pub max_rps: f64,
}

impl Overload {
    /// Whether the rate came back to 90% of the maximum, without errors.
    pub fn recovered(&self) -> bool {
        self.recovery.report.rps >= 0.9 * self.max_rps && self.recovery.report.errors == 0
    }
}

/// Retries across two channels, the first failing with 500.
#[derive(Debug, Clone, Serialize)]
pub struct Retries {
    /// The run.
    pub run: Measured,
    /// Retries the proxy counted (`pylon_proxy_relay_retries_total`) during it.
    pub retries: Option<f64>,
}

/// Anthropic clients on the OpenAI channel (Pylon converts both ways), beside the same load
/// in OpenAI's format on the same system.
#[derive(Debug, Clone, Serialize)]
pub struct Conversion {
    /// Small JSON at the fixed rate, Anthropic ingress.
    pub json: Measured,
    /// Streams at the first stream concurrency, Anthropic ingress (concurrency, run).
    pub stream: Option<(usize, Measured)>,
}

/// Everything measured on one system.
#[derive(Debug, Clone, Serialize)]
pub struct SystemResult {
    /// Which system.
    pub kind: SystemKind,
    /// Why it was not measured at all, if it was not.
    pub unavailable: Option<String>,
    /// Version string.
    pub version: String,
    /// Resident memory after start and setup, before any load, in KiB.
    pub idle_rss_kib: Option<u64>,
    /// Peak resident memory over the whole run (sum of each process's VmHWM), in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Small JSON, closed-loop search.
    pub max: Outcome<MaxThroughput>,
    /// Small JSON, open loop at the fixed rate.
    pub fixed: Outcome<Measured>,
    /// The fixed rate used.
    pub fixed_rate: Option<f64>,
    /// Direct-to-mock at the same fixed rate (what "added" is measured against).
    pub fixed_baseline: Option<Measured>,
    /// Streams at each concurrency.
    pub streams: Vec<(usize, Outcome<Measured>)>,
    /// Held long streams (memory per stream, completion).
    pub long: Outcome<LongStreams>,
    /// 1 MiB request bodies.
    pub big: Outcome<Measured>,
    /// Overload and recovery.
    pub overload: Outcome<Overload>,
    /// Upstream failures with retries (Pylon only).
    pub retries: Outcome<Retries>,
    /// Anthropic ingress converted for the OpenAI channel (Pylon only).
    pub conversion: Outcome<Conversion>,
    /// Anything noticed during the run.
    pub notes: Vec<String>,
}

impl SystemResult {
    /// A system with nothing measured yet.
    pub fn new(kind: SystemKind) -> Self {
        fn na<T>() -> Outcome<T> {
            Err("n/a".to_string())
        }
        Self {
            kind,
            unavailable: None,
            version: String::new(),
            idle_rss_kib: None,
            peak_rss_kib: None,
            max: na(),
            fixed: na(),
            fixed_rate: None,
            fixed_baseline: None,
            streams: Vec::new(),
            long: na(),
            big: na(),
            overload: na(),
            retries: na(),
            conversion: na(),
            notes: Vec::new(),
        }
    }

    /// The stream run at `concurrency`, if measured.
    pub fn streams_at(&self, concurrency: usize) -> Option<&Measured> {
        self.streams
            .iter()
            .find(|(c, _)| *c == concurrency)
            .and_then(|(_, m)| m.as_ref().ok())
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// `--quick` or full.
    pub quick: bool,
    /// When it ran (UTC).
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// Pylon's git commit (with `-dirty` when the tree had changes).
    pub commit: String,
    /// The fixed rate of the added-latency row (half of nginx's maximum).
    pub fixed_rate: Option<f64>,
    /// Where the fixed rate came from.
    pub fixed_rate_source: String,
    /// Other work seen on the machine during the run.
    pub busy: Vec<String>,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Per system, in table order.
    pub systems: Vec<SystemResult>,
    /// Scenario parameters, for the report.
    pub parameters: Vec<(String, String)>,
    /// Held streams planned (10 000 in a full run).
    pub long_streams_planned: usize,
    /// Held streams actually opened (capped by the open-file limit).
    pub long_streams_held: usize,
    /// Limits of this machine that changed the plan.
    pub limits: Vec<String>,
    /// Content chunks of a held stream.
    pub long_chunks: u32,
    /// Versions and installation notes (nginx, Pingora, LiteLLM, Pylon).
    pub versions: Vec<(String, String)>,
}

impl Comparison {
    /// The result of `kind`, if it was part of the run.
    pub fn system(&self, kind: SystemKind) -> Option<&SystemResult> {
        self.systems.iter().find(|s| s.kind == kind)
    }
}
