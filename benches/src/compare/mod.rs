//! The comparison run behind `pylon-compare`: Pylon against the nginx floor and LiteLLM on the
//! same mock upstreams, in one run, under the same CPU pinning (system under test and mocks on
//! core 0, the load client alone on core 1), with one table of results. This module owns the order of
//! the run; the scenarios, the systems and the report live in the submodules. Beside nginx, a
//! bare Pingora reverse proxy (`pingora-floor`, run as pylon-proxy runs Pingora) is measured
//! the same way, so that the report tells what Pingora itself costs from what Pylon adds.

pub mod goals;
pub mod litellm;
pub mod load;
pub mod nginx;
pub mod options;
pub mod pingora_floor;
pub mod procfs;
pub mod procs;
pub mod pylon;
pub mod report;
pub mod results;
pub mod scenarios;
pub mod sut;
pub mod upstreams;

use anyhow::{Context, bail};
use options::{Options, Plan};
use results::{Comparison, SystemKind, SystemResult};
use scenarios::Ctx;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sut::Sut;
use upstreams::Mocks;

/// Open files allowed to everything this run starts (10 000 held streams need two sockets
/// each in a proxy).
const NOFILE: &str = "262144";
/// Share of direct-to-mock's closed-loop maximum the load client and mock surely sustain in an
/// open loop on their one core.
const OPEN_LOOP_SHARE: f64 = 0.35;
/// How long `--wait-quiet` waits for other builds and tests to finish, and how often it looks.
const QUIET_WAIT: Duration = Duration::from_secs(20 * 60);
const QUIET_POLL: Duration = Duration::from_secs(30);
/// Sockets a run needs besides the held streams' (listeners, databases, files).
const SPARE_FILES: usize = 300;

/// Where the binaries are (`target/release`) and the workspace root.
pub struct Layout {
    /// Directory of this executable and its sibling binaries.
    pub bin_dir: PathBuf,
    /// The workspace root (for `cargo build` and the git commit).
    pub workspace: PathBuf,
}

impl Layout {
    /// Derives the layout from this executable's path and the crate's manifest directory.
    pub fn detect() -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let bin_dir = exe
            .parent()
            .context("executable has no directory")?
            .to_path_buf();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("crate has no parent directory")?
            .to_path_buf();
        Ok(Self { bin_dir, workspace })
    }

    /// Where every run's report goes (`target/pylon-compare`).
    pub fn output_dir(&self) -> PathBuf {
        self.bin_dir
            .parent()
            .map_or_else(|| self.bin_dir.clone(), Path::to_path_buf)
            .join("pylon-compare")
    }
}

/// Runs the whole comparison.
pub async fn run(options: &Options, layout: &Layout) -> anyhow::Result<Comparison> {
    let started = Instant::now();
    if !options.no_build {
        build(layout).await?;
    }
    step_clock();
    let mut needed = vec!["pylon-proxy", "pylon-control-plane", "mock-upstream"];
    if !options.skipped("pingora") {
        needed.push(pingora_floor::BINARY);
    }
    for name in needed {
        if !layout.bin_dir.join(name).is_file() {
            bail!(
                "{} is missing: run `cargo build --release --bins` first",
                layout.bin_dir.join(name).display()
            );
        }
    }
    let load_bin = options
        .load_bin
        .clone()
        .unwrap_or_else(|| layout.bin_dir.join("pylon-load"));
    if !load_bin.is_file() {
        bail!("the load client {} is missing", load_bin.display());
    }
    raise_open_files().await;
    // The runner itself stays off the system-under-test core.
    let pid = std::process::id().to_string();
    let client_core = procs::CLIENT_CORE.to_string();
    if let Err(e) = procs::output("taskset", &["-a", "-p", "-c", &client_core, &pid]).await {
        eprintln!("pylon-compare: could not pin itself to core {client_core}: {e:#}");
    }
    let plan = Plan::new(options.quick);
    // A relayed stream holds two sockets in the proxy: the open-file limit caps held streams.
    let files = open_files_limit();
    let held = plan
        .long_streams
        .min(files.saturating_sub(SPARE_FILES) / 2 / 100 * 100);
    let mut limits = Vec::new();
    if held < plan.long_streams {
        limits.push(format!(
            "held streams capped at {held} instead of {}: the open-file limit here is {files} \
             and cannot be raised (no CAP_SYS_RESOURCE), and a proxy holds two sockets per \
             relayed stream",
            plan.long_streams
        ));
        eprintln!("pylon-compare: {}", limits[0]);
    }
    let run_dir = std::env::temp_dir().join(format!("pylon-compare-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir)?;
    eprintln!("pylon-compare: logs and configs in {}", run_dir.display());

    let mut busy = Vec::new();
    if options.wait_quiet {
        wait_quiet(&mut busy).await;
    }
    note_busy(&mut busy, "at start");
    let commit = git_commit(&layout.workspace).await;
    let mut versions = vec![("pylon".to_string(), format!("git {commit}"))];
    let mocks = Mocks::start(&layout.bin_dir, &run_dir, &plan).await?;
    let ctx = Ctx {
        load_bin: &load_bin,
        run_dir: &run_dir,
        plan: &plan,
    };
    let mut systems = Vec::new();

    // Direct to the mock first: the floor of client and mock, and the baselines of "added".
    let mut direct_sut = Sut::direct(&mocks);
    let mut direct = SystemResult::new(SystemKind::Direct);
    direct.version = direct_sut.version.clone();
    step("direct", "small JSON, maximum rate");
    direct.max = scenarios::max_throughput(&ctx, &mut direct_sut)
        .await
        .map_err(reason);
    for &concurrency in &plan.stream_concurrency {
        step("direct", &format!("{concurrency} streams"));
        let outcome = scenarios::streams(&ctx, &mut direct_sut, concurrency)
            .await
            .map_err(reason);
        direct.streams.push((concurrency, outcome));
    }
    step("direct", "1 MiB bodies");
    direct.big = scenarios::big_bodies(&ctx, &mut direct_sut)
        .await
        .map_err(reason);
    // What client and mock surely drive on their core in an open loop, where every request is a
    // task of its own (a trial at half of their closed-loop maximum already had a 100 ms p99):
    // the ceiling of the fixed-rate and overload runs.
    let client_cap = direct.max.as_ref().ok().map(|m| OPEN_LOOP_SHARE * m.rps);
    let mut runs = Runs {
        fixed_rate: None,
        held,
        client_cap,
        direct: direct_sut,
        baselines: BTreeMap::new(),
    };

    // nginx: its maximum sets the fixed rate for everyone.
    let mut fixed_rate_source = String::new();
    if options.skipped("nginx") {
        systems.push(unavailable(SystemKind::Nginx, "skipped (--skip nginx)"));
    } else {
        let result = match nginx::ensure_installed().await {
            Ok((path, note)) => match nginx::start(&path, &run_dir, &mocks).await {
                Ok(mut sut) => {
                    versions.push(("nginx".into(), sut.version.clone()));
                    if let Some(note) = note {
                        sut.notes.push(note);
                    }
                    let mut result =
                        measure(&ctx, &mut sut, &mut runs.fixed_rate, held, runs.client_cap).await;
                    if let (Some(rate), Ok(max)) = (runs.fixed_rate, &result.max) {
                        fixed_rate_source = if rate < max.rps / 2.0 - 0.5 {
                            format!(
                                "half of nginx's maximum ({:.0} req/s) would be {:.0} req/s, more \
                                 than the client and mock drive in an open loop on their core: \
                                 capped at {:.0}% of direct-to-mock's closed-loop maximum",
                                max.rps,
                                max.rps / 2.0,
                                OPEN_LOOP_SHARE * 100.0
                            )
                        } else {
                            format!("half of nginx's maximum ({:.0} req/s)", max.rps)
                        };
                    }
                    result.fixed_baseline = runs.baseline(&ctx, result.fixed_rate).await;
                    sut.stop().await;
                    result
                }
                Err(e) => unavailable(SystemKind::Nginx, &reason(e)),
            },
            Err(e) => unavailable(SystemKind::Nginx, &reason(e)),
        };
        systems.push(result);
    }
    if runs.fixed_rate.is_none() {
        // Without nginx, a quarter of the direct maximum stands in (and the report says so).
        if let Ok(max) = &direct.max {
            runs.fixed_rate = Some(max.rps / 4.0);
            fixed_rate_source = "a quarter of direct-to-mock's maximum (nginx not measured)".into();
        }
    }
    direct.fixed_rate = runs.fixed_rate;
    if let Some(rate) = runs.fixed_rate {
        direct.fixed = runs
            .baseline(&ctx, Some(rate))
            .await
            .ok_or_else(|| "n/a".to_string());
    }
    note_busy(&mut busy, "after nginx");

    // Pingora alone, right after nginx, at the fixed rate nginx set (it never sets it itself).
    if options.skipped("pingora") {
        systems.push(unavailable(
            SystemKind::PingoraFloor,
            "skipped (--skip pingora)",
        ));
    } else {
        let version = pingora_floor::version(&layout.workspace);
        versions.push(("pingora".into(), version.clone()));
        let result = match pingora_floor::start(&layout.bin_dir, &run_dir, &mocks, &version).await {
            Ok(sut) => runs.measure_then_stop(&ctx, sut).await,
            Err(e) => unavailable(SystemKind::PingoraFloor, &reason(e)),
        };
        systems.push(result);
    }
    note_busy(&mut busy, "after Pingora");

    if options.skipped("litellm") {
        systems.push(unavailable(SystemKind::LiteLlm, "skipped (--skip litellm)"));
    } else {
        let result = match litellm::ensure_installed().await {
            Ok((venv, note)) => {
                versions.push(("litellm".into(), format!("{} ({note})", litellm::VERSION)));
                match litellm::start(&venv, &run_dir, &mocks, &note).await {
                    Ok(sut) => runs.measure_then_stop(&ctx, sut).await,
                    Err(e) => unavailable(SystemKind::LiteLlm, &reason(e)),
                }
            }
            Err(e) => unavailable(SystemKind::LiteLlm, &reason(e)),
        };
        systems.push(result);
    }
    note_busy(&mut busy, "after LiteLLM");

    for (backend, kind, name) in [
        (pylon::Backend::Sqlite, SystemKind::PylonSqlite, "sqlite"),
        (pylon::Backend::MySqlRedis, SystemKind::PylonMysql, "mysql"),
    ] {
        if options.skipped(name) {
            systems.push(unavailable(kind, &format!("skipped (--skip {name})")));
            continue;
        }
        let version = format!("git {commit}");
        let result = match pylon::start(&layout.bin_dir, &run_dir, &mocks, backend, &version).await
        {
            Ok(sut) => runs.measure_then_stop(&ctx, sut).await,
            Err(e) => unavailable(kind, &reason(e)),
        };
        systems.push(result);
        note_busy(&mut busy, &format!("after Pylon ({name})"));
    }
    mocks.stop().await;
    systems.insert(0, direct);

    let comparison = Comparison {
        quick: options.quick,
        date: procs::output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
            .await
            .map(|d| d.trim().to_string())
            .unwrap_or_default(),
        machine: procfs::machine(),
        commit,
        fixed_rate: runs.fixed_rate,
        fixed_rate_source,
        busy,
        wall_s: started.elapsed().as_secs_f64(),
        systems,
        parameters: plan.describe(),
        long_streams_planned: plan.long_streams,
        long_streams_held: held,
        limits,
        long_chunks: plan.long_chunks,
        versions,
    };
    if options.keep {
        eprintln!("pylon-compare: kept {}", run_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    Ok(comparison)
}

/// Every scenario on one proxy, in an order that keeps the memory figures honest: idle
/// memory first, then the held streams (measured against an allocator that has not yet grown),
/// then throughput, streams, large bodies, overload and retries. LiteLLM holds its streams
/// last instead: it falls so far behind on them that anything measured after would be spoiled.
async fn measure(
    ctx: &Ctx<'_>,
    sut: &mut Sut,
    fixed_rate: &mut Option<f64>,
    held: usize,
    client_cap: Option<f64>,
) -> SystemResult {
    let kind = sut.kind;
    let name = kind.label();
    let mut result = SystemResult::new(kind);
    result.version = sut.version.clone();
    result.notes.append(&mut sut.notes);
    tokio::time::sleep(Duration::from_secs(2)).await;
    result.idle_rss_kib = sut.tree.map(|t| t.rss_kib());

    if kind != SystemKind::LiteLlm {
        step(name, &format!("{held} held streams"));
        result.long = scenarios::long_streams(ctx, sut, held)
            .await
            .map_err(reason);
        if let Err(why) = sut.check_running() {
            return dead(result, &format!("{why:#}"));
        }
    }

    step(name, "small JSON, maximum rate");
    result.max = scenarios::max_throughput(ctx, sut).await.map_err(reason);
    if kind == SystemKind::Nginx
        && fixed_rate.is_none()
        && let Ok(max) = &result.max
    {
        let half = max.rps / 2.0;
        *fixed_rate = Some(client_cap.map_or(half, |cap| half.min(cap)));
    }
    let own_max = result.max.as_ref().ok().map(|m| m.rps);
    // Each system runs at no more than half its own maximum (nginx, which sets the common
    // rate, at exactly half): an open loop close to a system's maximum measures the queue that
    // forms at the first hiccup, not the latency the system adds.
    let rate = match (*fixed_rate, own_max) {
        (Some(rate), Some(max)) if max / 2.0 < rate - 0.5 => {
            result.notes.push(format!(
                "fixed-rate run at {:.0} req/s (half its own maximum): the common {rate:.0} \
                 req/s is more than half of its maximum",
                max / 2.0
            ));
            Some(max / 2.0)
        }
        (Some(rate), Some(_)) => Some(rate),
        _ => None,
    };
    result.fixed_rate = rate;
    if let Some(rate) = rate {
        step(name, &format!("open loop at {rate:.0} req/s"));
        result.fixed = scenarios::fixed_rate(ctx, sut, rate).await.map_err(reason);
    } else if own_max.is_none() {
        result.fixed = Err("not run: no maximum rate to start from".into());
    }
    for &concurrency in &ctx.plan.stream_concurrency {
        step(name, &format!("{concurrency} streams"));
        let outcome = scenarios::streams(ctx, sut, concurrency)
            .await
            .map_err(reason);
        result.streams.push((concurrency, outcome));
    }
    step(name, "1 MiB bodies");
    result.big = scenarios::big_bodies(ctx, sut).await.map_err(reason);
    if let Ok(max) = &result.max {
        step(name, "overload at 2x maximum, then recovery");
        result.overload = scenarios::overload(ctx, sut, max, client_cap)
            .await
            .map_err(reason);
    }
    if kind.is_pylon() {
        step(name, "retries");
        result.retries = scenarios::retries(ctx, sut).await.map_err(reason);
        if let Some(rate) = rate {
            step(name, "Anthropic clients on the OpenAI channel (conversion)");
            result.conversion = scenarios::conversion(ctx, sut, rate).await.map_err(reason);
        }
    }
    if kind == SystemKind::LiteLlm {
        hold_litellm_streams(ctx, sut, &mut result, held).await;
    }
    result.peak_rss_kib = sut.tree.map(|t| t.peak_kib());
    if let Err(why) = sut.check_running() {
        result.notes.push(format!("exited during the run: {why:#}"));
    }
    result
}

/// LiteLLM's held streams: a tenth of the count first, all of them only if those completed.
async fn hold_litellm_streams(
    ctx: &Ctx<'_>,
    sut: &mut Sut,
    result: &mut SystemResult,
    held: usize,
) {
    let name = sut.kind.label();
    let first = (held / 10).max(1);
    result.notes.push(
        "held streams run last, after the other scenarios grew its heap: memory per stream is \
         understated"
            .into(),
    );
    step(name, &format!("{first} held streams"));
    result.long = scenarios::long_streams(ctx, sut, first)
        .await
        .map_err(reason);
    // Escalate only in a full run, and only if it kept up: every stream complete and the
    // first token within a second (the mock sends it at 200 ms).
    let kept_up = result.long.as_ref().is_ok_and(|l| {
        l.all_complete(Some(f64::from(ctx.plan.long_chunks)))
            && l.run.report.ttft_us.is_some_and(|t| t.p99 < 1e6)
    });
    if kept_up && !ctx.plan.quick {
        step(name, &format!("{held} held streams"));
        match scenarios::long_streams(ctx, sut, held).await {
            Ok(more) => result.long = Ok(more),
            Err(e) => result
                .notes
                .push(format!("{held} held streams failed: {e:#}")),
        }
    } else if ctx.plan.quick {
        result.notes.push(format!(
            "held streams: {first} only in a quick run (a tenth of the other systems')"
        ));
    } else {
        let why = match &result.long {
            Ok(l) => format!(
                "{} of {} completed, errors {:?}, TTFT p50 {:.1} s / p99 {:.1} s against the \
                 mock's 0.2 s",
                l.run.report.ok,
                l.streams,
                l.run.report.error_kinds,
                l.run.report.ttft_us.map_or(0.0, |t| t.p50 / 1e6),
                l.run.report.ttft_us.map_or(0.0, |t| t.p99 / 1e6)
            ),
            Err(e) => e.clone(),
        };
        result.notes.push(format!(
            "{held} held streams not attempted: at {first} it already could not keep up ({why})"
        ));
    }
}

/// What the systems measured after direct-to-mock share: the common fixed rate (set by nginx's
/// run), the held-stream count, the open-loop ceiling, and direct-to-mock's baselines per rate.
struct Runs {
    fixed_rate: Option<f64>,
    held: usize,
    client_cap: Option<f64>,
    direct: Sut,
    baselines: BTreeMap<u64, results::Outcome<load::Measured>>,
}

impl Runs {
    /// Measures a system (any but nginx, whose run also explains the common rate it sets), then
    /// its direct-to-mock baseline at the rate it ran, then stops it.
    async fn measure_then_stop(&mut self, ctx: &Ctx<'_>, mut sut: Sut) -> SystemResult {
        let mut result = measure(
            ctx,
            &mut sut,
            &mut self.fixed_rate,
            self.held,
            self.client_cap,
        )
        .await;
        result.fixed_baseline = self.baseline(ctx, result.fixed_rate).await;
        sut.stop().await;
        result
    }

    /// Direct-to-mock at `rate`, measured once per rate.
    async fn baseline(&mut self, ctx: &Ctx<'_>, rate: Option<f64>) -> Option<load::Measured> {
        let rate = rate?;
        let key = rate.round() as u64;
        if let std::collections::btree_map::Entry::Vacant(slot) = self.baselines.entry(key) {
            step(
                "direct",
                &format!("open loop at {rate:.0} req/s (baseline)"),
            );
            let outcome = scenarios::fixed_rate(ctx, &mut self.direct, rate)
                .await
                .map_err(reason);
            slot.insert(outcome);
        }
        self.baselines
            .get(&key)
            .and_then(|o| o.as_ref().ok())
            .cloned()
    }
}

fn dead(mut result: SystemResult, why: &str) -> SystemResult {
    let why = format!("not measured: the system exited ({why})");
    result.notes.push(why);
    result
}

fn unavailable(kind: SystemKind, why: &str) -> SystemResult {
    eprintln!("pylon-compare: {}: {why}", kind.label());
    let mut result = SystemResult::new(kind);
    result.unavailable = Some(why.to_string());
    result
}

fn reason(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// When the measuring began (progress lines show seconds since).
static STEP_CLOCK: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn step_clock() {
    let _ = STEP_CLOCK.set(Instant::now());
}

fn step(system: &str, what: &str) {
    let elapsed = STEP_CLOCK.get_or_init(Instant::now).elapsed().as_secs();
    eprintln!("pylon-compare: [{elapsed:>4} s] {system}: {what}");
}

/// Waits until no build or test runs on the machine, up to [`QUIET_WAIT`].
async fn wait_quiet(busy: &mut Vec<String>) {
    let deadline = Instant::now() + QUIET_WAIT;
    while let Some(what) = procfs::machine_busy() {
        if Instant::now() > deadline {
            busy.push(format!(
                "still busy after waiting {} minutes: {what}",
                QUIET_WAIT.as_secs() / 60
            ));
            return;
        }
        eprintln!("pylon-compare: waiting for a quiet machine ({what})");
        tokio::time::sleep(QUIET_POLL).await;
    }
}

fn note_busy(busy: &mut Vec<String>, when: &str) {
    if let Some(what) = procfs::machine_busy() {
        busy.push(format!(
            "{when}: {what} (load average {:.2})",
            procfs::load_average()
        ));
    }
}

/// `cargo build --release --bins`, so that the proxy and control plane measured are current.
async fn build(layout: &Layout) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("pylon-compare: cargo build --release --bins");
    let status = tokio::process::Command::new(cargo)
        .args(["build", "--release", "--bins"])
        .current_dir(&layout.workspace)
        .kill_on_drop(true)
        .status()
        .await
        .context("run cargo build --release --bins")?;
    if !status.success() {
        bail!("cargo build --release --bins failed ({status})");
    }
    Ok(())
}

/// Raises this process's open-file limit (inherited by everything it starts). As root with
/// CAP_SYS_RESOURCE the hard limit goes up too; otherwise the soft limit goes up to the hard
/// one (the held-stream count is then capped to fit, and the report says so).
async fn raise_open_files() {
    let pid = std::process::id().to_string();
    let both = format!("--nofile={NOFILE}:{NOFILE}");
    if procs::output("prlimit", &["--pid", &pid, &both])
        .await
        .is_ok()
    {
        return;
    }
    let hard = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(4))
                .map(str::to_string)
        })
        .unwrap_or_default();
    if hard.parse::<usize>().is_ok_and(|h| h > open_files_limit()) {
        let soft = format!("--nofile={hard}:{hard}");
        if let Err(e) = procs::output("prlimit", &["--pid", &pid, &soft]).await {
            eprintln!("pylon-compare: could not raise the open-file limit: {e:#}");
        }
    }
}

/// The soft open-file limit of this process (`/proc/self/limits`).
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(1024)
}

/// The short commit, with `-dirty` when tracked files have changes.
async fn git_commit(workspace: &Path) -> String {
    let dir = workspace.display().to_string();
    let commit = procs::output("git", &["-C", &dir, "rev-parse", "--short=12", "HEAD"])
        .await
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let dirty = procs::output(
        "git",
        &["-C", &dir, "status", "--porcelain", "--untracked-files=no"],
    )
    .await
    .map(|s| !s.trim().is_empty())
    .unwrap_or(false);
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}
