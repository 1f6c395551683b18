//! What a load run does ([`LoadConfig`]) and the `pylon-load` command line that sets it. The
//! command line is a contract: the comparison runner calls it.

use anyhow::{Context, bail, ensure};
use reqwest::Url;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use super::body::BodyFormat;

/// The `--help` text.
pub const USAGE: &str = "\
usage: pylon-load --url URL [--key KEY] [--model MODEL] [--header 'Name: value']...
                  (--mode closed --concurrency N | --mode open --rate R_PER_S [--concurrency N])
                  --duration SECS [--warmup SECS] [--max-requests N]
                  [--stream] [--body-bytes N] [--format chat|anthropic] [--timeout-ms N]
                  [--json]
  --url URL            chat-completions URL on a loopback address
  --key KEY            sent as Authorization: Bearer KEY
  --model MODEL        model in the body (default gpt-4o-mini)
  --header 'N: v'      extra request header (repeatable)
  --mode closed        N workers, each sends its next request when the previous one ends
  --mode open          requests start at start + i / rate, each on its own task; with
                       --concurrency, at most N in flight (default 1024), later ones wait
                       (and that wait counts in their latency)
  --duration SECS      measured time after the warm-up (fractions allowed)
  --warmup SECS        unrecorded time before it (default 0)
  --max-requests N     at most N requests per phase (default 100000000)
  --stream             \"stream\": true; measures time to first token and chunk gaps
  --body-bytes N       request body size (default 256)
  --format F           chat (OpenAI chat completions, the default) or anthropic (an Anthropic
                       message, with anthropic-version; point --url at /v1/messages)
  --timeout-ms N       whole-request timeout (default 30000)
  --json               print one JSON object instead of a summary";

/// Requests per phase when `--max-requests` is not given: the loops stay bounded in count.
pub const DEFAULT_MAX_REQUESTS: u64 = 100_000_000;

/// Open loop: requests in flight (so connections) when `--concurrency` is not given.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// How requests are offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// `concurrency` workers, each sending its next request when the previous one finishes.
    Closed { concurrency: usize },
    /// Requests started on a fixed schedule of `rate` per second, at most `max_in_flight` at
    /// once: as in wrk2, the connections are bounded and a request that waits for one has the
    /// wait in its latency. Unbounded, a server hiccup makes the client open a connection per
    /// request, and the client itself collapses under the connection storm.
    Open { rate: f64, max_in_flight: usize },
}

impl Mode {
    /// An open loop at `rate` per second with the default bound on requests in flight.
    pub fn open(rate: f64) -> Self {
        Self::Open {
            rate,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// `closed` or `open`, as the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::Open { .. } => "open",
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where to POST (a loopback address).
    pub url: Url,
    /// Sent as `Authorization: Bearer` when set.
    pub key: Option<String>,
    pub model: String,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    pub mode: Mode,
    /// The measured phase.
    pub duration: Duration,
    /// The unrecorded phase before it.
    pub warmup: Duration,
    /// At most this many requests start in each phase.
    pub max_requests: u64,
    pub stream: bool,
    pub body_bytes: usize,
    /// The API of the body.
    pub format: BodyFormat,
    /// Whole-request timeout (connect to last byte).
    pub timeout: Duration,
}

impl LoadConfig {
    /// A run of `mode` against `url` for `duration`, with the defaults for everything else.
    pub fn new(url: &str, mode: Mode, duration: Duration) -> anyhow::Result<Self> {
        let config = Self {
            url: loopback_url(url)?,
            key: None,
            model: "gpt-4o-mini".to_string(),
            headers: Vec::new(),
            mode,
            duration,
            warmup: Duration::ZERO,
            max_requests: DEFAULT_MAX_REQUESTS,
            stream: false,
            body_bytes: 256,
            format: BodyFormat::Chat,
            timeout: Duration::from_secs(30),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the limits (also for configs built field by field).
    pub fn validate(&self) -> anyhow::Result<()> {
        loopback_url(self.url.as_str())?;
        match self.mode {
            Mode::Closed { concurrency } => ensure!(
                (1..=100_000).contains(&concurrency),
                "--concurrency must be 1..=100000"
            ),
            Mode::Open {
                rate,
                max_in_flight,
            } => {
                ensure!(
                    rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0,
                    "--rate must be > 0 and at most 10000000"
                );
                ensure!(
                    (1..=100_000).contains(&max_in_flight),
                    "--concurrency must be 1..=100000"
                );
            }
        }
        let day = Duration::from_secs(86_400);
        ensure!(
            !self.duration.is_zero() && self.duration <= day,
            "--duration must be > 0 and at most a day"
        );
        ensure!(self.warmup <= day, "--warmup must be at most a day");
        ensure!(self.max_requests > 0, "--max-requests must be > 0");
        ensure!(
            self.body_bytes <= 256 << 20,
            "--body-bytes must be at most 256 MiB"
        );
        ensure!(
            !self.timeout.is_zero() && self.timeout <= day,
            "--timeout-ms must be > 0 and at most a day"
        );
        Ok(())
    }
}

/// The parsed command line.
#[derive(Debug)]
pub struct Args {
    pub config: LoadConfig,
    /// Print the JSON report instead of the summary.
    pub json: bool,
}

/// `url` if it is http(s) on a loopback address: the load client never targets another host.
pub fn loopback_url(url: &str) -> anyhow::Result<Url> {
    let parsed = Url::parse(url).with_context(|| format!("--url: invalid URL {url:?}"))?;
    ensure!(
        matches!(parsed.scheme(), "http" | "https"),
        "--url must be http or https"
    );
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    ensure!(
        loopback,
        "--url must point at a loopback address (127.0.0.0/8, ::1 or localhost), not {url}"
    );
    Ok(parsed)
}

/// Parses the arguments (after the program name); `None` for `--help`.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut url = None;
    let mut key = None;
    let mut model = None;
    let mut headers = Vec::new();
    let mut mode = None;
    let mut concurrency = None;
    let mut rate = None;
    let mut duration = None;
    let mut warmup = None;
    let mut max_requests = None;
    let mut stream = false;
    let mut body_bytes = None;
    let mut format = BodyFormat::Chat;
    let mut timeout_ms = None;
    let mut json = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--stream" => stream = true,
            "--json" => json = true,
            _ => {
                let Some(value) = inline.or_else(|| args.next()) else {
                    bail!("{flag} needs a value");
                };
                match flag.as_str() {
                    "--url" => url = Some(value),
                    "--key" => key = Some(value),
                    "--model" => model = Some(value),
                    "--header" => headers.push(header(&value)?),
                    "--mode" => mode = Some(value),
                    "--concurrency" => concurrency = Some(number::<usize>(&flag, &value)?),
                    "--rate" => rate = Some(number::<f64>(&flag, &value)?),
                    "--duration" => duration = Some(seconds(&flag, &value)?),
                    "--warmup" => warmup = Some(seconds(&flag, &value)?),
                    "--max-requests" => max_requests = Some(number(&flag, &value)?),
                    "--body-bytes" => body_bytes = Some(number(&flag, &value)?),
                    "--format" => {
                        format = match value.as_str() {
                            "chat" => BodyFormat::Chat,
                            "anthropic" => BodyFormat::Anthropic,
                            other => bail!("--format must be chat or anthropic, not {other:?}"),
                        }
                    }
                    "--timeout-ms" => timeout_ms = Some(number(&flag, &value)?),
                    _ => bail!("unknown option {flag}"),
                }
            }
        }
    }
    let url = url.context("--url is required")?;
    let duration = duration.context("--duration is required")?;
    let mode = match (mode.as_deref(), concurrency, rate) {
        (Some("closed"), Some(concurrency), None) => Mode::Closed { concurrency },
        (Some("open"), max_in_flight, Some(rate)) => Mode::Open {
            rate,
            max_in_flight: max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        },
        (Some("closed"), _, _) => bail!("--mode closed takes --concurrency N (and no --rate)"),
        (Some("open"), _, _) => bail!("--mode open takes --rate R"),
        (Some(other), _, _) => bail!("--mode must be closed or open, not {other:?}"),
        (None, _, _) => bail!("--mode is required"),
    };
    let mut config = LoadConfig::new(&url, mode, duration)?;
    config.key = key;
    if let Some(model) = model {
        config.model = model;
    }
    config.headers = headers;
    config.warmup = warmup.unwrap_or(Duration::ZERO);
    config.max_requests = max_requests.unwrap_or(DEFAULT_MAX_REQUESTS);
    config.stream = stream;
    config.format = format;
    config.body_bytes = body_bytes.unwrap_or(config.body_bytes);
    if let Some(ms) = timeout_ms {
        config.timeout = Duration::from_millis(ms);
    }
    config.validate()?;
    Ok(Some(Args { config, json }))
}

fn number<T: FromStr>(flag: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .trim()
        .parse()
        .with_context(|| format!("{flag}: invalid value {value:?}"))
}

fn seconds(flag: &str, value: &str) -> anyhow::Result<Duration> {
    let secs: f64 = number(flag, value)?;
    Duration::try_from_secs_f64(secs).with_context(|| format!("{flag}: invalid seconds {value:?}"))
}

fn header(value: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = value
        .split_once(':')
        .with_context(|| format!("--header: expected 'Name: value', got {value:?}"))?;
    let name = name.trim();
    ensure!(!name.is_empty(), "--header: empty header name");
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> anyhow::Result<Option<Args>> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_the_contract() {
        let parsed = args(&[
            "--url",
            "http://127.0.0.1:3000/v1/chat/completions",
            "--key=sk-abc",
            "--header",
            "X-Mock-Chunks: 5",
            "--header=x-a:b",
            "--mode",
            "open",
            "--rate",
            "2500.5",
            "--duration",
            "1.5",
            "--warmup=0.25",
            "--max-requests",
            "10",
            "--stream",
            "--body-bytes",
            "1024",
            "--timeout-ms",
            "750",
            "--json",
        ])
        .unwrap()
        .unwrap();
        let c = &parsed.config;
        assert!(parsed.json);
        assert_eq!(c.mode, Mode::open(2500.5));
        assert_eq!(c.key.as_deref(), Some("sk-abc"));
        assert_eq!(
            c.headers,
            vec![
                ("X-Mock-Chunks".to_string(), "5".to_string()),
                ("x-a".to_string(), "b".to_string())
            ]
        );
        assert_eq!(c.duration, Duration::from_millis(1500));
        assert_eq!(c.warmup, Duration::from_millis(250));
        assert_eq!((c.max_requests, c.body_bytes), (10, 1024));
        assert_eq!(c.timeout, Duration::from_millis(750));
        assert!(c.stream);
        assert_eq!(c.model, "gpt-4o-mini");

        let parsed = args(&[
            "--url=http://localhost:9/x",
            "--mode=closed",
            "--concurrency=8",
            "--duration=2",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(parsed.config.mode, Mode::Closed { concurrency: 8 });
        assert!(!parsed.json && !parsed.config.stream);
        assert_eq!(parsed.config.max_requests, DEFAULT_MAX_REQUESTS);
    }

    #[test]
    fn refuses_bad_input() {
        let base = ["--url", "http://127.0.0.1:1/", "--duration", "1"];
        let with = |extra: &[&str]| {
            let mut list: Vec<&str> = base.to_vec();
            list.extend_from_slice(extra);
            args(&list)
        };
        assert!(with(&["--mode", "closed", "--concurrency", "4"]).is_ok());
        let capped = with(&["--mode", "open", "--rate", "5", "--concurrency", "16"]);
        assert_eq!(
            capped.unwrap().unwrap().config.mode,
            Mode::Open {
                rate: 5.0,
                max_in_flight: 16
            }
        );
        for bad in [
            &["--mode", "closed"][..],
            &["--mode", "open", "--concurrency", "4"],
            &["--mode", "open", "--rate", "5", "--concurrency", "0"],
            &["--mode", "open", "--rate", "0"],
            &["--mode", "open", "--rate", "NaN"],
            &["--mode", "closed", "--concurrency", "0"],
            &["--mode", "sideways", "--concurrency", "1"],
            &["--concurrency", "1"],
            &["--mode", "closed", "--concurrency", "x"],
            &["--mode", "closed", "--concurrency", "1", "--bogus", "1"],
            &[
                "--mode",
                "closed",
                "--concurrency",
                "1",
                "--header",
                "novalue",
            ],
            &["--mode", "closed", "--concurrency", "1", "--warmup", "-1"],
            &["--mode", "closed", "--concurrency", "1", "--timeout-ms"],
        ] {
            assert!(with(bad).is_err(), "{bad:?}");
        }
        assert!(args(&["--mode", "closed", "--concurrency", "1", "--duration", "1"]).is_err());
        assert!(args(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn targets_loopback_only() {
        for ok in [
            "http://127.0.0.1:3000/v1/chat/completions",
            "http://127.9.9.9/",
            "https://localhost/",
            "http://[::1]:8080/",
        ] {
            assert!(loopback_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1/",
            "http://example.com/",
            "http://0.0.0.0/",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad}");
        }
    }
}
