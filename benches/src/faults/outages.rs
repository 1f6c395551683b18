//! Redis or the database gone for a while under load, then back. Redis (MySQL + Redis only)
//! is cut at its gate: admission should answer 503 fast and serve again once it is back. The
//! database is cut at its gate (MariaDB) or locked by another writer (SQLite): finished
//! requests wait in the journal and are written once it is back.

use super::bench::{Bench, outage_rows};
use super::node::Node;
use super::options::{Backend, Case, Options};
use super::outcome::{self, Result};
use super::report::{Figure, Table};
use super::setup::Channel;
use super::traffic;
use anyhow::Context;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// How long each outage lasts.
pub const OUTAGE: Duration = Duration::from_secs(5);
/// How often the journal (during the database outage) and the database (after it) are read.
const JOURNAL_EVERY: Duration = Duration::from_millis(100);

fn healthy(url: &str) -> Vec<Channel> {
    vec![Channel::healthy(url, 0)]
}

/// Redis cut for [`OUTAGE`], then restored.
pub async fn redis(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    let bench = Bench::prepare(backend, Case::Redis, options, &[], healthy).await?;
    let load = bench.load();
    let at = bench.fault_at();
    load.until(at).await;
    let gate = bench.node.redis_gate.as_ref().context("no Redis gate")?;
    gate.cut();
    load.until(at + OUTAGE).await;
    gate.restore();
    let restored = at + OUTAGE;
    let outcomes = load.finish().await?;
    let (figures, settled) = bench.settle(&outcomes).await?;

    let during = outcome::sent_between(&outcomes, at, restored);
    let unavailable = outcomes
        .iter()
        .filter(|o| o.result == Result::Status(503))
        .count();
    let mut latencies: Vec<Duration> = during.iter().map(|o| o.ended - o.started).collect();
    let mut table = Table::new(
        "redis",
        "Redis cut for 5 s under load, then restored",
        backend.label(),
    );
    outage_rows(&mut table, &during);
    table
        .add(
            "answered_503",
            "answered 503 (whole run)",
            Figure::count(unavailable),
        )
        .add(
            "first_503",
            "cut to the first 503",
            Figure::Time(outcome::first_after(&outcomes, at, Result::Status(503))),
        )
        .add(
            "max_latency_during",
            "slowest answer to a request sent during the outage",
            Figure::Time(outcome::quantile(&mut latencies, 1.0)),
        )
        .add(
            "recovered_after",
            "restore to the first completed request sent after it",
            Figure::Time(outcome::first_ok_after(&outcomes, restored)),
        );
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}

/// A database outage: MariaDB's gate cut, or SQLite's file locked by another writer.
enum Outage {
    Gate,
    Lock(sqlx::AnyConnection),
}

impl Outage {
    async fn begin(node: &Node) -> anyhow::Result<Self> {
        match node.scratch.backend {
            Backend::MySqlRedis => {
                node.database_gate.as_ref().context("no gate")?.cut();
                Ok(Outage::Gate)
            }
            Backend::Sqlite => {
                let mut locker = sqlx::AnyConnection::connect(&node.scratch.database_url()).await?;
                sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await?;
                Ok(Outage::Lock(locker))
            }
        }
    }

    async fn end(self, node: &Node) -> anyhow::Result<()> {
        match self {
            Outage::Gate => node.database_gate.as_ref().context("no gate")?.restore(),
            Outage::Lock(mut locker) => {
                sqlx::query("ROLLBACK").execute(&mut locker).await?;
                locker.close().await?;
            }
        }
        Ok(())
    }
}

/// Charges the journal holds now.
fn journaled(node: &Node) -> usize {
    std::fs::read_to_string(node.scratch.journal())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("\"log_type\":2"))
        .count()
}

/// Charge rows, read now, of the load's requests numbered below `sent`.
async fn charged_before(db: &sqlx::AnyPool, sent: u32) -> Option<usize> {
    let ips: Vec<(String,)> = sqlx::query_as("SELECT ip FROM logs WHERE type = 2")
        .fetch_all(db)
        .await
        .ok()?;
    Some(
        ips.iter()
            .filter(|(ip,)| traffic::request_number(ip).is_some_and(|n| n < sent))
            .count(),
    )
}

/// The first time in `series` (time, count) at which the count reached `total`.
pub fn first_reaching(series: &[(Duration, usize)], total: usize) -> Option<Duration> {
    series
        .iter()
        .find(|(_, count)| *count >= total)
        .map(|(at, _)| *at)
}

/// The database gone for [`OUTAGE`], then back.
pub async fn database(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    sqlx::any::install_default_drivers();
    let bench = Bench::prepare(backend, Case::Database, options, &[], healthy).await?;
    let load = bench.load();
    let at = bench.fault_at();
    load.until(at).await;
    let outage = Outage::begin(&bench.node).await?;
    let mut journal_peak = 0;
    while load.now() < at + OUTAGE {
        journal_peak = journal_peak.max(journaled(&bench.node));
        tokio::time::sleep(JOURNAL_EVERY).await;
    }
    outage.end(&bench.node).await?;
    let restored = load.now();
    let restored_at = Instant::now();
    // Requests numbered below this were sent before the restore.
    let sent_before = (restored.as_secs_f64() * bench.rate).ceil() as u32;
    let db = bench.database().await?;
    let mut series = Vec::new();
    while load.now() < bench.duration {
        if let Some(count) = charged_before(&db, sent_before).await {
            series.push((restored_at.elapsed(), count));
        }
        tokio::time::sleep(JOURNAL_EVERY).await;
    }
    let outcomes = load.finish().await?;
    let (figures, settled) = bench.settle(&outcomes).await?;
    let written = charged_before(&db, sent_before).await.unwrap_or(0);
    db.close().await;
    let backlog = first_reaching(&series, written);

    let during = outcome::sent_between(&outcomes, at, restored);
    let mut table = Table::new(
        "database",
        "database cut (MariaDB) or locked (SQLite) for 5 s under load, then back",
        backend.label(),
    );
    outage_rows(&mut table, &during);
    table
        .add(
            "p99_during",
            "p99 of those completed",
            Figure::Time(outcome::ok_latency_quantile(&during, 0.99)),
        )
        .add(
            "journal_peak",
            "charges held in the journal (peak)",
            Figure::count(journal_peak),
        )
        .add(
            "backlog_written",
            "restore to every charge of the requests sent before it written",
            Figure::Time(backlog),
        )
        .add(
            "recovered_after",
            "restore to the first completed request sent after it",
            Figure::Time(outcome::first_ok_after(&outcomes, restored)),
        );
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}
