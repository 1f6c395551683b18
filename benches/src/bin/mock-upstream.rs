//! `mock-upstream`: the mock LLM upstream as a standalone server for benchmarks.
//! Prints `listening on http://ADDR` once ready and runs until SIGINT/SIGTERM.

use anyhow::{Context, bail};
use pylon_benches::mock::{MockConfig, MockUpstream};
use std::io::Write;
use std::net::SocketAddr;
use std::str::FromStr;

const USAGE: &str = "\
usage: mock-upstream [options]
  --listen ADDR              address to listen on (default 127.0.0.1:9000; port 0 = any)
  --threads N                runtime worker threads (default: one per core)
  --delay-ms N               wait before the response head (default 0)
  --ttft-ms N                streams: wait before the first chunk (default 0)
  --chunks N                 content chunks per answer (default 10)
  --chunk-interval-ms N      streams: time between chunks (default 0)
  --response-bytes N         pad the content to about N bytes (default 0 = short words)
  --jitter-ms N              random 0..=N ms added to every deadline (default 0)
  --error-rate P             probability 0..1 of a 500 (default 0)
  --usage P,C,K              reported prompt, completion, cached tokens
  --record                   keep every request in memory (off: memory stays flat)
Every knob can also be set per request with an x-mock-* header (see benches/README.md).";

struct Args {
    listen: SocketAddr,
    threads: Option<usize>,
    config: MockConfig,
}

fn main() -> anyhow::Result<()> {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            writeln!(std::io::stdout(), "{USAGE}")?;
            return Ok(());
        }
        Err(e) => {
            eprintln!("mock-upstream: {e:#}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    runtime.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let mock = MockUpstream::bind(args.listen, args.config).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", mock.base_url())?;
    stdout.flush()?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    mock.shutdown().await;
    Ok(())
}

/// Parses `--flag value` and `--flag=value`; `None` for `--help`.
fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut out = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
        threads: None,
        config: MockConfig {
            record: false,
            ..MockConfig::default()
        },
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        let config = &mut out.config;
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--record" => config.record = true,
            _ => {
                let Some(value) = inline.or_else(|| args.next()) else {
                    bail!("{flag} needs a value");
                };
                match flag.as_str() {
                    "--listen" => out.listen = value_of(&flag, &value)?,
                    "--threads" => out.threads = Some(value_of(&flag, &value)?),
                    "--delay-ms" => config.delay_ms = value_of(&flag, &value)?,
                    "--ttft-ms" => config.ttft_ms = value_of(&flag, &value)?,
                    "--chunks" => config.chunks = value_of(&flag, &value)?,
                    "--chunk-interval-ms" => config.chunk_interval_ms = value_of(&flag, &value)?,
                    "--response-bytes" => config.response_bytes = value_of(&flag, &value)?,
                    "--jitter-ms" => config.jitter_ms = value_of(&flag, &value)?,
                    "--error-rate" => config.error_rate = value_of(&flag, &value)?,
                    "--usage" => usage(config, &value)?,
                    _ => bail!("unknown option {flag}"),
                }
            }
        }
    }
    Ok(Some(out))
}

fn value_of<T: FromStr>(flag: &str, value: &str) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .parse()
        .with_context(|| format!("{flag}: invalid value {value:?}"))
}

fn usage(config: &mut MockConfig, value: &str) -> anyhow::Result<()> {
    let mut parts = value.split(',').map(str::trim);
    if let Some(p) = parts.next().filter(|p| !p.is_empty()) {
        config.prompt_tokens = value_of("--usage", p)?;
    }
    if let Some(c) = parts.next().filter(|c| !c.is_empty()) {
        config.completion_tokens = Some(value_of("--usage", c)?);
    }
    if let Some(k) = parts.next().filter(|k| !k.is_empty()) {
        config.cached_tokens = value_of("--usage", k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> anyhow::Result<Option<Args>> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_flags_both_ways() {
        let parsed = args(&[
            "--listen=127.0.0.1:0",
            "--ttft-ms",
            "50",
            "--chunks=7",
            "--usage",
            "5,6,7",
            "--record",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(parsed.listen.port(), 0);
        assert_eq!(parsed.config.ttft_ms, 50);
        assert_eq!(parsed.config.chunks, 7);
        assert_eq!(parsed.config.completion_tokens, Some(6));
        assert!(parsed.config.record);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(args(&["--chunks"]).is_err());
        assert!(args(&["--chunks", "x"]).is_err());
        assert!(args(&["--bogus", "1"]).is_err());
        assert!(args(&["--help"]).unwrap().is_none());
    }
}
