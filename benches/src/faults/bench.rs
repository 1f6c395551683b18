//! What every case does around its fault: a mock upstream, a fresh node set up with the
//! case's channels and keys, the steady load, and afterwards the billing check and the
//! figures every table shares.

use super::ledger::{self, Figures};
use super::node::Node;
use super::options::{Backend, Case, Options};
use super::outcome::{self, Outcome};
use super::report::{Figure, Table};
use super::scratch::Scratch;
use super::setup::{self, Channel, Key};
use super::traffic::{self, Load, Running};
use crate::mock::{MockConfig, MockUpstream};
use sqlx::AnyPool;
use std::time::Duration;

/// The client's whole-request timeout.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The settlement is done when the log rows have not moved for this long (and balances
/// reconcile)...
const SETTLED_QUIET: Duration = Duration::from_secs(3);
/// ...or when this much time has passed.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

/// A case's node, mock and keys.
pub struct Bench {
    pub node: Node,
    pub keys: Vec<Key>,
    pub mock: MockUpstream,
    pub backend: Backend,
    pub rate: f64,
    pub duration: Duration,
}

/// The healthy upstream: 10-chunk streams 20 ms apart after 20 ms (about 0.2 s a stream).
pub fn healthy_mock() -> MockConfig {
    MockConfig {
        delay_ms: 20,
        chunks: 10,
        chunk_interval_ms: 20,
        record: false,
        ..MockConfig::default()
    }
}

impl Bench {
    /// Starts a mock and a node with the settings `env` on `backend`, and sets it up with
    /// the channels `channels` makes of the mock's URL.
    pub async fn prepare(
        backend: Backend,
        case: Case,
        options: &Options,
        env: &[(&str, String)],
        channels: impl FnOnce(&str) -> Vec<Channel>,
    ) -> anyhow::Result<Self> {
        let mock = MockUpstream::start(healthy_mock()).await?;
        let scratch = Scratch::create(backend, case.name()).await?;
        let node = Node::start(scratch, &options.bin_dir, env).await?;
        let keys = setup::set_up(&node.base, &channels(&mock.base_url()), options.keys).await?;
        node.reset_peak();
        Ok(Self {
            node,
            keys,
            mock,
            backend,
            rate: options.rate,
            duration: options.duration,
        })
    }

    /// Starts the steady load.
    pub fn load(&self) -> Running {
        traffic::start(Load {
            base: self.node.base.clone(),
            keys: self.keys.iter().map(|k| k.key.clone()).collect(),
            rate: self.rate,
            duration: self.duration,
            timeout: CLIENT_TIMEOUT,
            first: 0,
        })
    }

    /// When the fault begins: a third of the way into the load.
    pub fn fault_at(&self) -> Duration {
        self.duration / 3
    }

    /// A direct connection to the node's database (never through a gate).
    pub async fn database(&self) -> anyhow::Result<AnyPool> {
        Ok(AnyPool::connect(&self.node.scratch.database_url()).await?)
    }

    /// Waits for the settlement and checks the charges against `outcomes`.
    pub async fn settle(
        &self,
        outcomes: &[Outcome],
    ) -> anyhow::Result<(Figures, Option<Duration>)> {
        let db = self.database().await?;
        let keys: Vec<(i64, i64)> = self.keys.iter().map(|k| (k.id, k.start)).collect();
        let settled = ledger::settled(&db, outcomes, &keys, SETTLED_QUIET, SETTLE_LIMIT).await;
        db.close().await;
        settled
    }

    /// Adds the figures every case shares, stops the node and returns the table.
    pub async fn finish(
        self,
        mut table: Table,
        outcomes: &[Outcome],
        figures: &Figures,
        settled_after: Option<Duration>,
    ) -> Table {
        shared_rows(
            &mut table,
            outcomes,
            figures,
            settled_after,
            self.node.peak_mib(),
        );
        self.node.stop().await;
        self.mock.shutdown().await;
        table
    }
}

/// The figures every case reports, after its own.
pub fn shared_rows(
    table: &mut Table,
    outcomes: &[Outcome],
    figures: &Figures,
    settled_after: Option<Duration>,
    peak_mib: f64,
) {
    let kinds = outcome::by_result(outcomes)
        .into_iter()
        .filter(|(kind, _)| kind != "ok")
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    table
        .add("requests", "requests sent", Figure::count(outcomes.len()))
        .add(
            "failed",
            "failed at the client",
            Figure::count(outcome::failed(outcomes)),
        )
        .add(
            "failed_kinds",
            "failures by kind",
            Figure::Text(if kinds.is_empty() {
                "none".into()
            } else {
                kinds
            }),
        )
        .add(
            "p99_ok",
            "p99 of completed requests",
            Figure::Time(outcome::ok_latency_quantile(outcomes, 0.99)),
        )
        .add(
            "lost",
            "charges lost (completed, never billed)",
            Figure::count(figures.lost),
        )
        .add(
            "double_charged",
            "double-charged (rows per request > 1)",
            Figure::count(figures.double_charged),
        )
        .add(
            "charged_failed",
            "failed at the client but billed for what was delivered",
            Figure::count(figures.charged_failed),
        )
        .add(
            "unmatched_rows",
            "charge rows of no request",
            Figure::count(figures.unmatched_rows),
        )
        .add(
            "reconciled",
            "balances reconcile (drop = logged quota, every key)",
            Figure::Yes(figures.reconciled()),
        )
        .add(
            "balance_gap",
            "balance drop minus logged quota (absolute)",
            Figure::Count(figures.balance_gap.unsigned_abs()),
        )
        .add(
            "settled_after",
            "all charges written, after the load",
            Figure::Time(settled_after),
        )
        .add("peak_rss_mib", "proxy peak RSS", Figure::MiB(peak_mib));
}

/// The requests in flight when `event` happened at `at`: how many completed, how many failed.
pub fn in_flight_rows(table: &mut Table, outcomes: &[Outcome], at: Duration, event: &str) {
    let (completed, failed) = outcome::in_flight_at(outcomes, at);
    table
        .add(
            "in_flight_completed",
            &format!("in flight at {event}: completed"),
            Figure::count(completed),
        )
        .add(
            "in_flight_failed",
            &format!("in flight at {event}: failed"),
            Figure::count(failed),
        );
}

/// The requests sent during an outage: how many, how many completed.
pub fn outage_rows(table: &mut Table, during: &[Outcome]) {
    table
        .add(
            "sent_during",
            "sent during the outage",
            Figure::count(during.len()),
        )
        .add(
            "completed_during",
            "completed of those",
            Figure::count(during.len() - outcome::failed(during)),
        );
}
