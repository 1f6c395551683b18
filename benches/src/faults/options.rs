//! The command line of `pylon-faults`: which backends and cases, the load's rate, length and
//! keys, and where the binaries are.

pub use crate::fresh::Backend;
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Duration;

/// Usage text.
pub const USAGE: &str = "\
usage: pylon-faults [--backend sqlite|mysql|both] [--cases LIST] [--rate N] [--duration SECS]
                    [--keys N] [--slow N] [--bin-dir DIR]
  --backend   SQLite, MySQL + Redis, or both (default)
  --cases     comma-separated: kill9,sigterm,redis,database,slow,upstreams (default: all;
              redis runs on MySQL + Redis only)
  --rate      requests per second of the steady load (default 150), half of them streamed
  --duration  seconds of load per case (default 24); the fault starts a third of the way in
  --keys      keys the load spreads over (default 8)
  --slow      slow connections of the slow-client case (default 2000)
  --bin-dir   where pylon-proxy and pylon-control-plane are (default: beside this program)";

/// The fault cases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Kill9,
    Sigterm,
    Redis,
    Database,
    Slow,
    Upstreams,
}

impl Case {
    pub const ALL: [Case; 6] = [
        Case::Kill9,
        Case::Sigterm,
        Case::Redis,
        Case::Database,
        Case::Slow,
        Case::Upstreams,
    ];

    /// The name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Case::Kill9 => "kill9",
            Case::Sigterm => "sigterm",
            Case::Redis => "redis",
            Case::Database => "database",
            Case::Slow => "slow",
            Case::Upstreams => "upstreams",
        }
    }

    /// Whether it applies to `backend` (Redis exists only beside MySQL).
    pub fn runs_on(self, backend: Backend) -> bool {
        self != Case::Redis || backend == Backend::MySqlRedis
    }
}

/// Parsed command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub backends: Vec<Backend>,
    pub cases: Vec<Case>,
    pub rate: f64,
    pub duration: Duration,
    pub keys: usize,
    pub slow: usize,
    pub bin_dir: PathBuf,
}

impl Options {
    /// Parses the arguments after the program name.
    pub fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut options = Options {
            backends: vec![Backend::Sqlite, Backend::MySqlRedis],
            cases: Case::ALL.to_vec(),
            rate: 150.0,
            duration: Duration::from_secs(24),
            keys: 8,
            slow: 2000,
            bin_dir: exe.parent().context("no executable directory")?.into(),
        };
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .with_context(|| format!("{arg} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                "--backend" => options.backends = Backend::parse_list(&value()?)?,
                "--cases" => options.cases = cases(&value()?)?,
                "--rate" => options.rate = value()?.parse()?,
                "--duration" => options.duration = Duration::from_secs_f64(value()?.parse()?),
                "--keys" => options.keys = value()?.parse()?,
                "--slow" => options.slow = value()?.parse()?,
                "--bin-dir" => options.bin_dir = value()?.into(),
                "--help" | "-h" => bail!("{USAGE}"),
                _ => bail!("unknown argument {arg}\n{USAGE}"),
            }
        }
        if options.rate <= 0.0 || options.keys == 0 || options.duration < Duration::from_secs(6) {
            bail!("need a positive rate, at least one key and at least 6 s of load\n{USAGE}");
        }
        Ok(options)
    }
}

fn cases(list: &str) -> anyhow::Result<Vec<Case>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            Case::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .with_context(|| format!("unknown case {name}\n{USAGE}"))
        })
        .collect()
}
