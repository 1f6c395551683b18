//! Log retention while the relay writes, for `pylon-logs`: on a node whose `logs` table is
//! already full, a steady load of chat completions (every other one streamed, through a mock
//! upstream) runs while the retention task, turned on mid-load by the `LogRetentionDays`
//! option, deletes every row older than that many days. Reported: how many rows went and how
//! long it took, what the clients saw before and during the deletion (failures, latency), and
//! whether every request was still billed and logged exactly once (the balances reconcile
//! with the charges, no settlement went to the dead letters).

use crate::console::Console;
use crate::faults::bench::healthy_mock;
use crate::faults::ledger;
use crate::faults::outcome::{self, Outcome};
use crate::faults::setup::{self, Channel};
use crate::faults::traffic::{self, Load};
use crate::mock::MockUpstream;
use reqwest::Method;
use serde_json::json;
use sqlx::AnyPool;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Requests per second of the load.
    pub rate: f64,
    /// How long the load runs before the retention is turned on.
    pub before: Duration,
    /// The longest the deletion may take.
    pub limit: Duration,
    /// The retention age set then.
    pub keep_days: i64,
    /// Keys the load spreads over.
    pub keys: usize,
}

/// The load runs in rounds of this length until the deletion is done.
const ROUND: Duration = Duration::from_secs(10);

/// What it found, as Markdown table rows.
pub struct Found {
    pub rows: Vec<(String, String)>,
    /// Whether the run met its bar: the old rows all went, no request failed, every charge
    /// reconciled, nothing went to the dead letters.
    pub passed: bool,
}

/// Runs the plan on the node at `base` (root's `password`), whose database `pool` reads.
pub async fn run(base: &str, password: &str, pool: &AnyPool, plan: Plan) -> anyhow::Result<Found> {
    let mock = MockUpstream::start(healthy_mock()).await?;
    let console = Console::log_in_at(base, "root", password).await?;
    let channels = [Channel::healthy(&mock.base_url(), 1)];
    let keys = setup::provision(&console, base, &channels, plan.keys).await?;
    let dead_before = dead_letters(pool).await?;
    let mut load = Rounds {
        base: base.to_string(),
        keys: keys.iter().map(|k| k.key.clone()).collect(),
        rate: plan.rate,
        began: Instant::now(),
        outcomes: Vec::new(),
    };

    load.round(plan.before).await?;
    let cutoff = now_secs() - plan.keep_days * 86_400;
    let old_rows = count_before(pool, cutoff).await?;
    let on_at = load.began.elapsed();
    console
        .call(
            Method::PUT,
            "/api/option/",
            json!({"key": "LogRetentionDays", "value": plan.keep_days.to_string()}),
        )
        .await?;
    // Done when no row older than the cut-off is left (the task's own cut-off moves on with
    // the clock, so it deletes at least these); the load goes on round by round until then.
    let watcher = tokio::spawn(watch(pool.clone(), cutoff, plan.limit));
    while !watcher.is_finished() {
        load.round(ROUND).await?;
    }
    let deleted_at = watcher.await??.map(|at| at.duration_since(load.began));
    let left = count_before(pool, cutoff).await?;
    console
        .call(
            Method::PUT,
            "/api/option/",
            json!({"key": "LogRetentionDays", "value": "0"}),
        )
        .await?;
    let outcomes = load.outcomes;
    let balances: Vec<(i64, i64)> = keys.iter().map(|k| (k.id, k.start)).collect();
    let (figures, _) = ledger::settled(
        pool,
        &outcomes,
        &balances,
        Duration::from_secs(3),
        Duration::from_secs(120),
    )
    .await?;
    let dead = dead_letters(pool).await? - dead_before;
    mock.shutdown().await;

    let deleting_until = deleted_at.unwrap_or(Duration::MAX);
    let before = outcome::sent_between(&outcomes, Duration::ZERO, on_at);
    let during = outcome::sent_between(&outcomes, on_at, deleting_until);
    let failed = outcome::failed(&outcomes);
    // p50 / p99 of one kind (streamed or not: a stream lasts the mock's 200 ms by itself).
    let latency = |set: &[Outcome], stream: bool| {
        let kind: Vec<Outcome> = set.iter().filter(|o| o.stream == stream).copied().collect();
        let at = |q| {
            outcome::ok_latency_quantile(&kind, q)
                .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "-".into())
        };
        format!("{} / {}", at(0.5), at(0.99))
    };
    let (took, rate) = match deleted_at {
        Some(at) => {
            let secs = (at - on_at).as_secs_f64().max(0.001);
            (
                format!("{secs:.1} s"),
                format!("{:.0} rows/s", (old_rows - left) as f64 / secs),
            )
        }
        None => (
            format!(
                "not done within {} s: {left} rows left",
                plan.limit.as_secs()
            ),
            "-".into(),
        ),
    };
    let rows = vec![
        (
            "rows older than the retention age".into(),
            format!("{old_rows} (older than {} days)", plan.keep_days),
        ),
        ("deleted in".into(), took),
        ("deletion rate".into(), rate),
        (
            "requests (rate)".into(),
            format!("{} ({} /s)", outcomes.len(), plan.rate),
        ),
        (
            "failed at the client".into(),
            format!("{failed} {:?}", outcome::by_result(&outcomes)),
        ),
        (
            "latency p50 / p99 before: whole answers, streams".into(),
            format!("{}, {}", latency(&before, false), latency(&before, true)),
        ),
        (
            "latency p50 / p99 while deleting: whole answers, streams".into(),
            format!("{}, {}", latency(&during, false), latency(&during, true)),
        ),
        (
            "billing".into(),
            format!(
                "{} lost, {} double-charged, balances reconcile: {}",
                figures.lost,
                figures.double_charged,
                figures.reconciled()
            ),
        ),
        ("settlements in the dead letters".into(), dead.to_string()),
    ];
    let passed = deleted_at.is_some()
        && failed == 0
        && figures.lost == 0
        && figures.double_charged == 0
        && figures.reconciled()
        && dead == 0;
    Ok(Found { rows, passed })
}

/// The load, round after round, every request with its own number and times from `began`.
struct Rounds {
    base: String,
    keys: Vec<String>,
    rate: f64,
    began: Instant,
    outcomes: Vec<Outcome>,
}

impl Rounds {
    async fn round(&mut self, length: Duration) -> anyhow::Result<()> {
        let offset = self.began.elapsed();
        let sent = traffic::start(Load {
            base: self.base.clone(),
            keys: self.keys.clone(),
            rate: self.rate,
            duration: length,
            timeout: Duration::from_secs(30),
            first: u32::try_from(self.outcomes.len())?,
        })
        .finish()
        .await?;
        self.outcomes.extend(sent.into_iter().map(|mut o| {
            o.started += offset;
            o.ended += offset;
            o
        }));
        Ok(())
    }
}

/// When no row older than `cutoff` is left (`None`: still some after `limit`).
async fn watch(pool: AnyPool, cutoff: i64, limit: Duration) -> anyhow::Result<Option<Instant>> {
    let asked = Instant::now();
    loop {
        if !any_before(&pool, cutoff).await? {
            return Ok(Some(Instant::now()));
        }
        if asked.elapsed() >= limit {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Log rows created before `cutoff`.
async fn count_before(pool: &AnyPool, cutoff: i64) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM logs WHERE created_at < ?")
            .bind(cutoff)
            .fetch_one(pool)
            .await?,
    )
}

/// Whether any log row was created before `cutoff` (one index probe).
async fn any_before(pool: &AnyPool, cutoff: i64) -> anyhow::Result<bool> {
    let found: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT id FROM logs WHERE created_at < ? LIMIT 1) probe",
    )
    .bind(cutoff)
    .fetch_one(pool)
    .await?;
    Ok(found > 0)
}

async fn dead_letters(pool: &AnyPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM settlement_dead_letters")
            .fetch_one(pool)
            .await?,
    )
}

fn now_secs() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
