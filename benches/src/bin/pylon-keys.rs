//! `pylon-keys`: what a million keys cost the proxy. Fills a fresh database (SQLite, or
//! MySQL and Redis) with `--keys` keys of `--users` users by bulk insert, starts the release
//! `pylon-proxy` on it (which starts the control plane), and reports the time from start to the
//! first answered request, the latency of keys presented for the first time (cold) and again
//! (warm), and the proxy's resident memory (the proxy process alone; the control plane apart).
//!
//! Run: `cargo build --release -p pylon-proxy -p pylon-control-plane -p pylon-benches` then
//! `target/release/pylon-keys [--backend sqlite|mysql|both] [--keys N] [--users N]
//! [--cold N] [--bin-dir DIR]` (`--bin-dir` measures other binaries, e.g. an older build).
#![expect(
    clippy::print_stdout,
    reason = "a command-line benchmark: its report is its output"
)]

use anyhow::{Context, bail};
use pylon_benches::compare::procs::Spawned;
use pylon_benches::fresh::{
    Backend, Fresh, START_TIMEOUT, insert_rows, percentile, status_kib, wait_answer,
};
use pylon_shared::keys::lookup_hash;
use sqlx::AnyPool;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: pylon-keys [--backend sqlite|mysql|both] [--keys N] [--users N] \
                     [--cold N] [--bin-dir DIR]";
/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 1000;
/// Statements per transaction.
const INSERTS_PER_TRANSACTION: usize = 50;
/// How often the start probe asks.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);

struct Options {
    backends: Vec<Backend>,
    keys: usize,
    users: usize,
    cold: usize,
    bin_dir: PathBuf,
}

/// What one backend's run measured.
struct Figures {
    insert: Duration,
    start_to_first_answer: Duration,
    rss_after_start_kib: u64,
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    rss_after_cold_kib: u64,
    peak_kib: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse(std::env::args().skip(1))?;
    sqlx::any::install_default_drivers();
    println!(
        "pylon-keys: {} keys of {} users, {} cold keys, binaries in {}",
        options.keys,
        options.users,
        options.cold,
        options.bin_dir.display()
    );
    println!(
        "\n| backend | bulk insert | start to first answer | proxy RSS after start | cold key p50 / p99 / max | warm key p50 | proxy RSS after {} cold keys (peak) |",
        options.cold
    );
    println!("|---|---|---|---|---|---|---|");
    for backend in &options.backends {
        let figures = measure(*backend, &options).await?;
        println!(
            "| {} | {:.1} s | {} ms | {:.1} MiB | {} / {} / {} | {} | {:.1} MiB ({:.1} MiB) |",
            backend.label(),
            figures.insert.as_secs_f64(),
            figures.start_to_first_answer.as_millis(),
            mib(figures.rss_after_start_kib),
            micros(percentile(&figures.cold, 0.5)),
            micros(percentile(&figures.cold, 0.99)),
            micros(percentile(&figures.cold, 1.0)),
            micros(percentile(&figures.warm, 0.5)),
            mib(figures.rss_after_cold_kib),
            mib(figures.peak_kib),
        );
    }
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let exe = std::env::current_exe()?;
    let mut options = Options {
        backends: vec![Backend::Sqlite, Backend::MySqlRedis],
        keys: 1_000_000,
        users: 100_000,
        cold: 200,
        bin_dir: exe.parent().context("no executable directory")?.into(),
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--backend" => options.backends = Backend::parse_list(&value()?)?,
            "--keys" => options.keys = value()?.parse()?,
            "--users" => options.users = value()?.parse()?,
            "--cold" => options.cold = value()?.parse()?,
            "--bin-dir" => options.bin_dir = value()?.into(),
            _ => bail!("unknown argument {arg}\n{USAGE}"),
        }
    }
    if options.users == 0 || options.keys < options.cold + 1 {
        bail!("need at least one user and more keys than --cold");
    }
    Ok(options)
}

/// The key numbered `n` (48 characters of [A-Za-z0-9] after `sk-`).
fn key(n: usize) -> String {
    format!("sk-bench{n:043}")
}

async fn measure(backend: Backend, options: &Options) -> anyhow::Result<Figures> {
    let fresh = Fresh::create(backend, "pylon_keys").await?;
    let result = measure_in(&fresh, options).await;
    fresh.remove().await;
    result
}

async fn measure_in(fresh: &Fresh, options: &Options) -> anyhow::Result<Figures> {
    let (launch, base) = fresh.launch(&options.bin_dir)?;
    // A first start applies the migrations.
    let mut first = Spawned::start(&launch, &fresh.dir)?;
    wait_answer(&base, "/api/status", &mut first).await?;
    first.stop().await;
    let inserted = Instant::now();
    fill(&fresh.database_url, options).await?;
    let insert = inserted.elapsed();

    let started = Instant::now();
    let mut proxy = Spawned::start(&launch, &fresh.dir)?;
    let probe = key(0);
    loop {
        if answered(&base, &probe).await {
            break;
        }
        proxy.check_running()?;
        if started.elapsed() > START_TIMEOUT {
            bail!("no answer within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
    let start_to_first_answer = started.elapsed();
    let rss_after_start_kib = status_kib(proxy.pid, "VmRSS:");

    let client = reqwest::Client::new();
    let step = (options.keys - 1) / options.cold;
    let cold_keys: Vec<String> = (1..=options.cold).map(|i| key(i * step)).collect();
    let mut cold = Vec::with_capacity(cold_keys.len());
    for key in &cold_keys {
        cold.push(timed_answer(&client, &base, key).await?);
    }
    let mut warm = Vec::with_capacity(cold_keys.len());
    for key in &cold_keys {
        warm.push(timed_answer(&client, &base, key).await?);
    }
    let rss_after_cold_kib = status_kib(proxy.pid, "VmRSS:");
    let peak_kib = status_kib(proxy.pid, "VmHWM:");
    proxy.stop().await;
    Ok(Figures {
        insert,
        start_to_first_answer,
        rss_after_start_kib,
        cold,
        warm,
        rss_after_cold_kib,
        peak_kib,
    })
}

/// Whether `GET /v1/models` with `key` answers 200 (authenticated: the key was found).
async fn answered(base: &str, key: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{base}/v1/models"))
        .bearer_auth(key)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn timed_answer(client: &reqwest::Client, base: &str, key: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = client
        .get(format!("{base}/v1/models"))
        .bearer_auth(key)
        .send()
        .await?
        .status();
    let elapsed = started.elapsed();
    if !status.is_success() {
        bail!("{key} answered {status}");
    }
    Ok(elapsed)
}

/// Inserts the users and keys, many rows per statement, many statements per transaction.
async fn fill(database_url: &str, options: &Options) -> anyhow::Result<()> {
    let pool = AnyPool::connect(database_url).await?;
    let users: Vec<String> = (1..=options.users)
        .map(|n| format!("('bench-user-{n}', 1000000000)"))
        .collect();
    insert_rows(
        &pool,
        "INSERT INTO users (username, quota) VALUES ",
        &users,
        ROWS_PER_INSERT,
        INSERTS_PER_TRANSACTION,
    )
    .await?;
    let first_user: i64 =
        sqlx::query_scalar("SELECT MIN(id) FROM users WHERE username LIKE 'bench-user-%'")
            .fetch_one(&pool)
            .await?;
    let users = i64::try_from(options.users)?;
    let mut rows = Vec::with_capacity(ROWS_PER_INSERT * INSERTS_PER_TRANSACTION);
    let header =
        "INSERT INTO tokens (user_id, name, key_hash, key_ciphertext, remain_quota) VALUES ";
    for n in 0..options.keys {
        let user = first_user + i64::try_from(n)? % users;
        rows.push(format!(
            "({user}, 'bench-{n}', '{}', '', 1000000000)",
            lookup_hash(&key(n))
        ));
        if rows.len() == rows.capacity() {
            insert_rows(
                &pool,
                header,
                &rows,
                ROWS_PER_INSERT,
                INSERTS_PER_TRANSACTION,
            )
            .await?;
            rows.clear();
        }
    }
    insert_rows(
        &pool,
        header,
        &rows,
        ROWS_PER_INSERT,
        INSERTS_PER_TRANSACTION,
    )
    .await?;
    pool.close().await;
    Ok(())
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
