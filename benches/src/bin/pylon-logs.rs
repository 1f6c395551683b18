//! `pylon-logs`: logs and statistics at a real operator's size. Fills a fresh database
//! (SQLite, or MySQL and Redis) with `--rows` relay log rows (default 50 million, over 30
//! days, 1 000 users, 5 000 keys, 50 models, 20 channels) and their aggregates (every level),
//! starts `pylon-proxy` (which starts the control plane) on it, signs in as root and times the
//! admin and user log lists (first pages, every filter) and statistics (`/api/log/stat`,
//! `/api/data/`) over real HTTP, each `--repeat` times. Then the log retention deletes the
//! oldest day while a steady load of relayed requests keeps writing
//! ([`pylon_benches::retention_under_load`]).
//!
//! The log rows go in with the table's secondary indexes set aside, which are built again
//! afterwards ([`pylon_benches::bulk_indexes`]): the table ends as its migrations made it.
//!
//! Run: `cargo build --release -p pylon-proxy -p pylon-control-plane -p pylon-benches` then
//! `target/release/pylon-logs [--backend sqlite|mysql|both] [--rows N] [--users N]
//! [--repeat N] [--bin-dir DIR] [--keep] [--reuse NAME] [--no-retention]`. It needs about 400
//! bytes of disk per row (20 GB for 50 million on SQLite) and removes its database afterwards,
//! unless `--keep` (it prints the name) or `--reuse NAME` (measures a kept database again,
//! without filling it).
#![expect(
    clippy::print_stdout,
    reason = "a command-line benchmark: its report is its output"
)]

use anyhow::{Context, bail};
use pylon_benches::bulk_indexes;
use pylon_benches::compare::procs::{Launch, Spawned};
use pylon_benches::console::Console;
use pylon_benches::fresh::{Backend, Fresh, insert_rows, percentile, wait_answer};
use pylon_benches::log_rows::{self, ROWS_PER_STATEMENT, Shape};
use pylon_benches::retention_under_load;
use sqlx::{AnyPool, Executor};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: pylon-logs [--backend sqlite|mysql|both] [--rows N] [--users N] \
                     [--repeat N] [--bin-dir DIR] [--keep] [--reuse NAME] [--no-retention]";
const PASSWORD: &str = "bench-root-password";
const DAYS: u64 = 30;

struct Options {
    backends: Vec<Backend>,
    rows: u64,
    users: u64,
    repeat: usize,
    bin_dir: PathBuf,
    keep: bool,
    reuse: Option<String>,
    retention: bool,
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
        let (fresh, filled) = match &options.reuse {
            Some(name) => (Fresh::reopen(*backend, name).await?, true),
            None => (Fresh::create(*backend, "pylon_logs").await?, false),
        };
        let result = measure(&fresh, filled, &options).await;
        if options.keep || filled {
            println!(
                "\nkept: measure it again with --backend {} --reuse {}",
                match backend {
                    Backend::Sqlite => "sqlite",
                    Backend::MySqlRedis => "mysql",
                },
                fresh.name
            );
        } else {
            fresh.remove().await;
        }
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
        keep: false,
        reuse: None,
        retention: true,
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
            // Absolute: the processes start in the run's own directory.
            "--bin-dir" => options.bin_dir = std::fs::canonicalize(value()?)?,
            "--keep" => options.keep = true,
            "--reuse" => options.reuse = Some(value()?),
            "--no-retention" => options.retention = false,
            _ => bail!("unknown argument {arg}\n{USAGE}"),
        }
    }
    if options.users < 2 || options.rows == 0 || options.repeat == 0 {
        bail!("need at least 2 users, one row and one repeat\n{USAGE}");
    }
    Ok(options)
}

async fn measure(fresh: &Fresh, filled: bool, options: &Options) -> anyhow::Result<()> {
    let (launch, base) = fresh.launch(&options.bin_dir)?;
    // The retention task looks every second (it deletes nothing until the option is set).
    let launch = launch.env("PYLON__CONTROL_PLANE__LOG_RETENTION_INTERVAL_SECS", "1");
    if !filled {
        set_up_and_fill(fresh, &launch, &base, options).await?;
    }
    let pool = AnyPool::connect(&fresh.database_url).await?;
    let seen = Seen::read(&pool).await?;
    let bytes = database_bytes(&pool, fresh).await?;
    println!(
        "\n### {}: {} log rows ({} .. {}), {:.1} GB on disk\n",
        fresh.backend.label(),
        seen.rows,
        seen.first,
        seen.last,
        bytes as f64 / 1e9
    );

    let mut plane = Spawned::start(&launch, &fresh.dir)?;
    wait_answer(&base, "/api/status", &mut plane).await?;
    let client = reqwest::Client::builder().cookie_store(true).build()?;
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
    for (label, path) in requests(&seen) {
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
    let mut passed = true;
    if options.retention {
        let plan = retention_under_load::Plan {
            rate: 100.0,
            before: Duration::from_secs(15),
            limit: Duration::from_secs(1800),
            keep_days: i64::try_from(DAYS)? - 1,
            keys: 10,
        };
        println!(
            "\nRetention under load: {} requests/s, the retention ({} days) turned on after \
             {} s\n\n| | |\n|---|---|",
            plan.rate,
            plan.keep_days,
            plan.before.as_secs()
        );
        let found = retention_under_load::run(&base, PASSWORD, &pool, plan).await?;
        for (label, value) in &found.rows {
            println!("| {label} | {value} |");
        }
        passed = found.passed;
    }
    plane.stop().await;
    pool.close().await;
    if !passed {
        bail!("the retention under load did not pass (see the table)");
    }
    Ok(())
}

/// First start (migrations, root), then the rows.
async fn set_up_and_fill(
    fresh: &Fresh,
    launch: &Launch,
    base: &str,
    options: &Options,
) -> anyhow::Result<()> {
    let mut first = Spawned::start(launch, &fresh.dir)?;
    wait_answer(base, "/api/status", &mut first).await?;
    Console::set_up_root(base, PASSWORD).await?;
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
    let pool = AnyPool::connect(&fresh.database_url).await?;
    fill(&pool, fresh.backend, &shape).await?;
    let (logged, aggregated, hours, minutes): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM logs), (SELECT CAST(SUM(requests + errors) AS SIGNED) \
         FROM usage_hourly_models), (SELECT CAST(SUM(requests + errors) AS SIGNED) \
         FROM usage_model_hours), (SELECT CAST(SUM(requests + errors) AS SIGNED) \
         FROM usage_model_minutes)",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    if u64::try_from(logged)? != options.rows || [aggregated, hours, minutes] != [logged; 3] {
        bail!(
            "filled {logged} rows, aggregated {aggregated} (by model and hour {hours}, \
             by model and minute {minutes}); expected {}",
            options.rows
        );
    }
    Ok(())
}

/// What a filled database holds: the log rows' ids and time span.
struct Seen {
    /// The highest log id (the filled row count, before any deletion).
    rows: i64,
    first: i64,
    last: i64,
}

impl Seen {
    async fn read(pool: &AnyPool) -> anyhow::Result<Self> {
        let (rows, first, last): (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT MAX(id) FROM logs), (SELECT MIN(created_at) FROM logs), \
                 (SELECT MAX(created_at) FROM logs)",
        )
        .fetch_one(pool)
        .await?;
        match (rows, first, last) {
            (Some(rows), Some(first), Some(last)) => Ok(Self { rows, first, last }),
            _ => bail!("the logs table is empty"),
        }
    }
}

/// Users, keys, the log rows in statements of a million (their indexes set aside and built
/// again after) each followed by its per-key aggregates, then everyone's; each phase timed.
async fn fill(pool: &AnyPool, backend: Backend, shape: &Shape) -> anyhow::Result<()> {
    if backend == Backend::Sqlite {
        pool.execute("PRAGMA synchronous = OFF").await?;
    }
    let phase = Instant::now();
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
    let indexes = bulk_indexes::set_aside(pool, backend, "logs").await?;
    let started = Instant::now();
    let mut offset = 0;
    let mut last_id = max_log_id(pool).await?;
    while offset < shape.rows {
        let count = ROWS_PER_STATEMENT.min(shape.rows - offset);
        let sql = log_rows::logs_statement(backend, shape, offset, count);
        pool.execute(sqlx::AssertSqlSafe(sql)).await?;
        let up_to = max_log_id(pool).await?;
        for sql in [
            log_rows::per_key_aggregates(backend, last_id, up_to),
            log_rows::minute_aggregates(backend, last_id, up_to),
        ] {
            pool.execute(sqlx::AssertSqlSafe(sql)).await?;
        }
        last_id = up_to;
        offset += count;
        if offset % (10 * ROWS_PER_STATEMENT) == 0 || offset == shape.rows {
            println!(
                "  {offset} rows in {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let built = Instant::now();
    let statements = indexes.statements();
    indexes.rebuild(pool).await?;
    println!(
        "  {statements} index statements in {:.0} s",
        built.elapsed().as_secs_f64()
    );
    let aggregated = Instant::now();
    for sql in log_rows::model_aggregates() {
        pool.execute(sql).await?;
    }
    pool.execute("DROP TABLE bench_digits").await?;
    println!(
        "  everyone's aggregates in {:.0} s; filled in {:.0} s",
        aggregated.elapsed().as_secs_f64(),
        phase.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn max_log_id(pool: &AnyPool) -> anyhow::Result<i64> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM logs")
        .fetch_one(pool)
        .await?;
    Ok(id.unwrap_or(0))
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

/// What is timed: every log list filter's first page and every statistic; "last day" is the
/// day before the newest row.
fn requests(seen: &Seen) -> Vec<(&'static str, String)> {
    let day = format!(
        "start_timestamp={}&end_timestamp={}",
        seen.last - 86_400,
        seen.last
    );
    let month = format!("start_timestamp={}&end_timestamp={}", seen.first, seen.last);
    let page = "p=1&page_size=10";
    let middle = log_rows::request_id(u64::try_from(seen.rows / 2).unwrap_or(0));
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
            format!("/api/log/?{page}&request_id={middle}"),
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
        ("quota data, last day", format!("/api/data/?{day}")),
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
