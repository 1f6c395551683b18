//! `pylon-logs`: logs and statistics at a real operator's size. Fills a fresh database
//! (SQLite, or MySQL and Redis) with `--rows` relay log rows (default 50 million, over 30
//! days, 1 000 users, 5 000 keys, 50 models, 20 channels) and their per-hour aggregates,
//! starts `pylon-proxy` (which starts the control plane) on it, signs in as root and times the
//! admin and user log lists (first pages, every filter) and statistics (`/api/log/stat`,
//! `/api/data/`) over real HTTP, each `--repeat` times.
//!
//! Run: `cargo build --release -p pylon-proxy -p pylon-control-plane -p pylon-benches` then
//! `target/release/pylon-logs [--backend sqlite|mysql|both] [--rows N] [--users N]
//! [--repeat N] [--bin-dir DIR]`. It needs about 400 bytes of disk per row (20 GB for 50
//! million on SQLite) and removes its database afterwards.
#![expect(
    clippy::print_stdout,
    reason = "a command-line benchmark: its report is its output"
)]

use anyhow::{Context, bail};
use pylon_benches::compare::procs::Spawned;
use pylon_benches::fresh::{Backend, Fresh, insert_rows, percentile, wait_answer};
use pylon_benches::log_rows::{self, ROWS_PER_STATEMENT, Shape};
use sqlx::{AnyPool, Executor};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: pylon-logs [--backend sqlite|mysql|both] [--rows N] [--users N] \
                     [--repeat N] [--bin-dir DIR]";
const PASSWORD: &str = "bench-root-password";
const DAYS: u64 = 30;

struct Options {
    backends: Vec<Backend>,
    rows: u64,
    users: u64,
    repeat: usize,
    bin_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse(std::env::args().skip(1))?;
    sqlx::any::install_default_drivers();
    println!(
        "pylon-logs: {} log rows over {DAYS} days, {} users, {} keys; each request {} times; \
         binaries in {}",
        options.rows,
        options.users,
        options.users * log_rows::KEYS_PER_USER,
        options.repeat,
        options.bin_dir.display()
    );
    for backend in &options.backends {
        let fresh = Fresh::create(*backend, "pylon_logs").await?;
        let result = measure(&fresh, &options).await;
        fresh.remove().await;
        result?;
    }
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let exe = std::env::current_exe()?;
    let mut options = Options {
        backends: vec![Backend::Sqlite, Backend::MySqlRedis],
        rows: 50_000_000,
        users: 1000,
        repeat: 5,
        bin_dir: exe.parent().context("no executable directory")?.into(),
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--backend" => options.backends = Backend::parse_list(&value()?)?,
            "--rows" => options.rows = value()?.parse()?,
            "--users" => options.users = value()?.parse()?,
            "--repeat" => options.repeat = value()?.parse()?,
            "--bin-dir" => options.bin_dir = value()?.into(),
            _ => bail!("unknown argument {arg}\n{USAGE}"),
        }
    }
    if options.users < 2 || options.rows == 0 || options.repeat == 0 {
        bail!("need at least 2 users, one row and one repeat\n{USAGE}");
    }
    Ok(options)
}

async fn measure(fresh: &Fresh, options: &Options) -> anyhow::Result<()> {
    let (launch, base) = fresh.launch(&options.bin_dir)?;
    // A first start applies the migrations and creates root (user 1).
    let mut first = Spawned::start(&launch, &fresh.dir)?;
    wait_answer(&base, "/api/status", &mut first).await?;
    let client = reqwest::Client::builder().cookie_store(true).build()?;
    let setup = client
        .post(format!("{base}/api/setup"))
        .json(
            &serde_json::json!({"username": "root", "password": PASSWORD,
                                  "confirmPassword": PASSWORD}),
        )
        .send()
        .await?
        .text()
        .await?;
    if !setup.contains("\"success\":true") {
        bail!("setup failed: {setup}");
    }
    first.stop().await;

    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    let shape = Shape {
        rows: options.rows,
        users: options.users,
        start: now - i64::try_from(DAYS * 86_400)?,
        days: DAYS,
    };
    let filled = Instant::now();
    let pool = AnyPool::connect(&fresh.database_url).await?;
    fill(&pool, fresh.backend, &shape).await?;
    let fill_time = filled.elapsed();
    let (logged, aggregated): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM logs), (SELECT CAST(SUM(requests + errors) AS SIGNED) \
         FROM usage_hourly)",
    )
    .fetch_one(&pool)
    .await?;
    if u64::try_from(logged)? != options.rows || logged != aggregated {
        bail!(
            "filled {logged} rows, aggregated {aggregated}; expected {}",
            options.rows
        );
    }
    let bytes = database_bytes(&pool, fresh).await?;
    pool.close().await;
    println!(
        "\n### {}: {} rows filled in {:.0} s, {:.1} GB on disk\n",
        fresh.backend.label(),
        options.rows,
        fill_time.as_secs_f64(),
        bytes as f64 / 1e9
    );

    let mut plane = Spawned::start(&launch, &fresh.dir)?;
    wait_answer(&base, "/api/status", &mut plane).await?;
    let login = client
        .post(format!("{base}/api/user/login"))
        .json(&serde_json::json!({"username": "root", "password": PASSWORD}))
        .send()
        .await?
        .text()
        .await?;
    if !login.contains("\"success\":true") {
        bail!("login failed: {login}");
    }
    println!("| request | first | p50 | max | answer |\n|---|---|---|---|---|");
    for (label, path) in requests(&shape, now) {
        let mut times = Vec::with_capacity(options.repeat);
        let mut summary = String::new();
        for _ in 0..options.repeat {
            let started = Instant::now();
            let answer = client
                .get(format!("{base}{path}"))
                .header("New-Api-User", "1")
                .send()
                .await?;
            let status = answer.status();
            let text = answer.text().await?;
            times.push(started.elapsed());
            if !status.is_success() || !text.contains("\"success\":true") {
                bail!("{path} answered {status}: {text}");
            }
            summary = summarize(&text);
        }
        println!(
            "| {label} (`{path}`) | {} | {} | {} | {summary} |",
            ms(times[0]),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 1.0)),
        );
    }
    plane.stop().await;
    Ok(())
}

/// Users, keys, the log rows in statements of a million, then their aggregates.
async fn fill(pool: &AnyPool, backend: Backend, shape: &Shape) -> anyhow::Result<()> {
    if backend == Backend::Sqlite {
        pool.execute("PRAGMA synchronous = OFF").await?;
    }
    insert_rows(
        pool,
        "INSERT INTO users (id, username, `group`, quota) VALUES ",
        &log_rows::user_rows(shape),
        1000,
        10,
    )
    .await?;
    insert_rows(
        pool,
        "INSERT INTO tokens (id, user_id, name, key_hash, key_ciphertext, remain_quota) VALUES ",
        &log_rows::key_rows(shape),
        1000,
        10,
    )
    .await?;
    for statement in log_rows::digits_statements() {
        pool.execute(sqlx::AssertSqlSafe(statement)).await?;
    }
    let started = Instant::now();
    let mut offset = 0;
    while offset < shape.rows {
        let count = ROWS_PER_STATEMENT.min(shape.rows - offset);
        let sql = log_rows::logs_statement(backend, shape, offset, count);
        pool.execute(sqlx::AssertSqlSafe(sql)).await?;
        offset += count;
        if offset % (10 * ROWS_PER_STATEMENT) == 0 || offset == shape.rows {
            println!(
                "  {offset} rows in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    pool.execute(sqlx::AssertSqlSafe(log_rows::aggregates_statement(backend)))
        .await?;
    pool.execute("DROP TABLE bench_digits").await?;
    Ok(())
}

/// The database's size: the SQLite file (and its WAL), or MySQL's data and index lengths.
async fn database_bytes(pool: &AnyPool, fresh: &Fresh) -> anyhow::Result<u64> {
    Ok(match fresh.backend {
        Backend::Sqlite => ["pylon.db", "pylon.db-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(fresh.dir.join("data").join(f)).ok())
            .map(|m| m.len())
            .sum(),
        Backend::MySqlRedis => {
            let bytes: i64 = sqlx::query_scalar(
                "SELECT CAST(SUM(data_length + index_length) AS SIGNED) \
                 FROM information_schema.tables WHERE table_schema = ?",
            )
            .bind(&fresh.name)
            .fetch_one(pool)
            .await?;
            u64::try_from(bytes).unwrap_or(0)
        }
    })
}

/// What is timed: every log list filter's first page and every statistic.
fn requests(shape: &Shape, now: i64) -> Vec<(&'static str, String)> {
    let day = format!("start_timestamp={}&end_timestamp={now}", now - 86_400);
    let month = format!("start_timestamp={}&end_timestamp={now}", shape.start);
    let page = "p=1&page_size=10";
    let middle = shape.rows / 2;
    vec![
        ("log list, first page", format!("/api/log/?{page}")),
        (
            "log list, by user",
            format!("/api/log/?{page}&username=bench-user-7"),
        ),
        (
            "log list, by model",
            format!("/api/log/?{page}&model_name=bench-model-3"),
        ),
        ("log list, by key", format!("/api/log/?{page}&token_id=42")),
        (
            "log list, by channel",
            format!("/api/log/?{page}&channel=5"),
        ),
        ("log list, last day", format!("/api/log/?{page}&{day}")),
        (
            "log list, by request id",
            format!("/api/log/?{page}&request_id=bench-{middle}"),
        ),
        ("own log list", format!("/api/log/self?{page}")),
        ("log stat, all", "/api/log/stat?type=2".to_string()),
        (
            "log stat, by model",
            "/api/log/stat?type=2&model_name=bench-model-3".to_string(),
        ),
        (
            "log stat, by user",
            "/api/log/stat?type=2&username=bench-user-7".to_string(),
        ),
        ("log stat, last day", format!("/api/log/stat?type=2&{day}")),
        ("own log stat", "/api/log/self/stat?type=2".to_string()),
        ("quota data, 30 days", format!("/api/data/?{month}")),
        ("own quota data, 30 days", format!("/api/data/self?{month}")),
    ]
}

/// A short description of an answer: its total, quota or number of rows.
fn summarize(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let data = &value["data"];
    if let Some(total) = data.get("total") {
        return format!("total {total}");
    }
    if let Some(quota) = data.get("quota") {
        return format!("quota {quota}");
    }
    match data.as_array() {
        Some(rows) => format!("{} rows", rows.len()),
        None => String::new(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
