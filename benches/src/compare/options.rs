//! The command line of `pylon-compare` and the plan it implies (which scenarios, how long,
//! how many streams): full, or `--quick` (a subset with shorter runs, under 3 minutes).

use anyhow::bail;
use std::path::PathBuf;

/// Usage text.
pub const USAGE: &str = "\
usage: pylon-compare [--quick] [--results FILE] [--skip nginx,pingora,litellm,mysql] [--no-build]
                     [--wait-quiet] [--load-bin PATH] [--keep]
  --quick          a subset with shorter runs (under 3 minutes)
  --results FILE   also write the Markdown report to FILE (e.g. benches/RESULTS.md)
  --skip LIST      leave systems out: nginx, pingora (the bare Pingora proxy), litellm, sqlite,
                   mysql
  --no-build       do not run `cargo build --release --bins` first
  --wait-quiet     before measuring, wait (up to 20 min, checking every 30 s) until no rustc
                   or cargo build/nextest/clippy runs on the machine
  --load-bin PATH  the load client (default: pylon-load beside this executable)
  --keep           keep the run directory (logs, configs, databases) afterwards
Every run writes target/pylon-compare/latest.md and latest.json.";

/// Parsed command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Shorter runs, fewer scenarios.
    pub quick: bool,
    /// Where to write the Markdown report besides target/pylon-compare/.
    pub results: Option<PathBuf>,
    /// Systems left out.
    pub skip: Vec<String>,
    /// Skip the release build.
    pub no_build: bool,
    /// Wait for a quiet machine before measuring.
    pub wait_quiet: bool,
    /// Load client override.
    pub load_bin: Option<PathBuf>,
    /// Keep the run directory.
    pub keep: bool,
}

impl Options {
    /// Parses the arguments after the program name; `None` for `--help`.
    pub fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Self>> {
        let mut out = Options::default();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| match args.next() {
                Some(v) => Ok(v),
                None => bail!("{flag} needs a value"),
            };
            match arg.as_str() {
                "--quick" => out.quick = true,
                "--results" => out.results = Some(PathBuf::from(value("--results")?)),
                "--skip" => out.skip.extend(
                    value("--skip")?
                        .split(',')
                        .map(|s| s.trim().to_lowercase())
                        .filter(|s| !s.is_empty()),
                ),
                "--no-build" => out.no_build = true,
                "--wait-quiet" => out.wait_quiet = true,
                "--load-bin" => out.load_bin = Some(PathBuf::from(value("--load-bin")?)),
                "--keep" => out.keep = true,
                "--help" | "-h" => return Ok(None),
                other => bail!("unknown argument {other}"),
            }
        }
        for name in &out.skip {
            if !["nginx", "pingora", "litellm", "sqlite", "mysql"].contains(&name.as_str()) {
                bail!("--skip: unknown system {name} (nginx, pingora, litellm, sqlite, mysql)");
            }
        }
        Ok(Some(out))
    }

    /// Whether `name` was left out with `--skip`.
    pub fn skipped(&self, name: &str) -> bool {
        self.skip.iter().any(|s| s == name)
    }
}

/// How long and how big each scenario is.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Quick mode.
    pub quick: bool,
    /// Seconds per step of the maximum-rate search.
    pub step_s: f64,
    /// Closed-loop concurrency steps of the search, tried in order.
    pub concurrency_steps: Vec<usize>,
    /// The p99 bound of the search, µs.
    pub p99_bound_us: f64,
    /// Seconds of the fixed-rate run.
    pub fixed_s: f64,
    /// Streams: content chunks per stream (every 20 ms after a 200 ms TTFT).
    pub stream_chunks: u32,
    /// Streams: concurrency levels.
    pub stream_concurrency: Vec<usize>,
    /// Streams: seconds per run.
    pub stream_s: f64,
    /// Held streams for memory per stream.
    pub long_streams: usize,
    /// Chunks of a held stream.
    pub long_chunks: u32,
    /// Milliseconds between chunks of a held stream.
    pub long_interval_ms: u64,
    /// 1 MiB bodies: seconds and concurrency.
    pub big_s: f64,
    /// 1 MiB bodies: concurrency.
    pub big_concurrency: usize,
    /// Overload: seconds at twice the maximum, then seconds of recovery.
    pub overload_s: f64,
    /// Recovery run seconds.
    pub recovery_s: f64,
    /// Retries: seconds and concurrency.
    pub retry_s: f64,
    /// Retries: concurrency.
    pub retry_concurrency: usize,
}

/// Mock stream timing shared by every plan.
pub const TTFT_MS: u64 = 200;
/// Milliseconds between stream chunks.
pub const CHUNK_INTERVAL_MS: u64 = 20;

impl Plan {
    /// The plan for `quick` or full mode.
    pub fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                step_s: 1.0,
                concurrency_steps: vec![1, 4, 16, 64],
                p99_bound_us: 10_000.0,
                fixed_s: 2.0,
                stream_chunks: 20,
                stream_concurrency: vec![100],
                stream_s: 3.0,
                long_streams: 1000,
                long_chunks: 6,
                long_interval_ms: 500,
                big_s: 2.0,
                big_concurrency: 4,
                overload_s: 2.0,
                recovery_s: 2.0,
                retry_s: 2.0,
                retry_concurrency: 16,
            }
        } else {
            Plan {
                quick,
                step_s: 3.0,
                concurrency_steps: vec![1, 2, 4, 8, 16, 32, 64, 128],
                p99_bound_us: 10_000.0,
                fixed_s: 10.0,
                stream_chunks: 200,
                stream_concurrency: vec![100, 1000],
                stream_s: 9.0,
                long_streams: 10_000,
                long_chunks: 20,
                long_interval_ms: 1000,
                big_s: 5.0,
                big_concurrency: 4,
                overload_s: 6.0,
                recovery_s: 4.0,
                retry_s: 5.0,
                retry_concurrency: 16,
            }
        }
    }

    /// Seconds a held stream lasts.
    pub fn long_stream_s(&self) -> f64 {
        (TTFT_MS + u64::from(self.long_chunks.saturating_sub(1)) * self.long_interval_ms) as f64
            / 1000.0
    }

    /// The parameters, for the report.
    pub fn describe(&self) -> Vec<(String, String)> {
        vec![
            (
                "small JSON".into(),
                format!(
                    "200 B request, ~1 KB answer; max rate = best closed-loop step of {:?} \
                     connections ({} s each) with p99 < {} ms and no errors",
                    self.concurrency_steps,
                    self.step_s,
                    self.p99_bound_us / 1000.0
                ),
            ),
            (
                "added latency".into(),
                format!(
                    "open loop at half of nginx's maximum (at most 35% of direct-to-mock's \
                     maximum; a system whose own maximum is less than twice that runs at half its own \
                     maximum) for \
                     {} s; minus direct-to-mock at the same rate",
                    self.fixed_s
                ),
            ),
            (
                "streams".into(),
                format!(
                    "{TTFT_MS} ms TTFT, {} chunks every {CHUNK_INTERVAL_MS} ms, {:?} concurrent, \
                     {} s each; TTFT and chunk gaps minus direct-to-mock",
                    self.stream_chunks, self.stream_concurrency, self.stream_s
                ),
            ),
            (
                "held streams".into(),
                format!(
                    "{} streams opened at once, {} chunks every {} ms; memory per stream = (peak \
                     RSS while open - RSS before) / streams",
                    self.long_streams, self.long_chunks, self.long_interval_ms
                ),
            ),
            (
                "1 MiB bodies".into(),
                format!("{} connections, {} s", self.big_concurrency, self.big_s),
            ),
            (
                "overload".into(),
                format!(
                    "open loop at 2x the system's own maximum (at most 35% of direct-to-mock's \
                     maximum, what the client and mock surely drive in an open loop) for {} s (2 s timeout), then \
                     {} s closed loop at the best concurrency (recovered: >= 90% of the maximum, \
                     no errors)",
                    self.overload_s, self.recovery_s
                ),
            ),
            (
                "retries".into(),
                format!(
                    "Pylon only: two channels, the higher-priority one answering 500 (mock \
                     header knob); {} connections, {} s",
                    self.retry_concurrency, self.retry_s
                ),
            ),
            (
                "pinning".into(),
                "system under test and mock upstreams on core 0 (taskset -c 0, one \
                 worker/thread where configurable); the load client alone on core 1"
                    .into(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::Options;

    fn parse(line: &str) -> anyhow::Result<Option<Options>> {
        Options::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn the_bare_pingora_proxy_can_be_skipped_like_the_other_systems() {
        let options = parse("--skip pingora,LiteLLM --quick").unwrap().unwrap();
        assert!(options.skipped("pingora") && options.skipped("litellm"));
        assert!(!options.skipped("nginx"));
        assert!(parse("--skip pingora-floor").is_err());
    }
}
