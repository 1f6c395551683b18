//! The proxy dies or is stopped under load. `kill -9` (the proxy and its control plane, as a
//! crashed machine would lose them), restarted at once: what the clients lost, what the
//! journal replayed, how long until answers came again. SIGTERM: what the requests in flight
//! got, whether every charge was written, how long the stop took; then a restart.

use super::bench::{Bench, in_flight_rows};
use super::options::{Backend, Case, Options};
use super::outcome;
use super::report::{Figure, Table};
use super::setup::Channel;
use std::time::Duration;

/// How long a stopping proxy may take before it is counted as hung and killed.
const STOP_LIMIT: Duration = Duration::from_secs(60);

fn healthy(url: &str) -> Vec<Channel> {
    vec![Channel::healthy(url, 0)]
}

/// `kill -9` mid-load, restart at once.
pub async fn kill9(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    let mut bench = Bench::prepare(backend, Case::Kill9, options, &[], healthy).await?;
    let load = bench.load();
    let at = bench.fault_at();
    load.until(at).await;
    bench.node.kill9().await;
    let restart_at = load.now();
    let listening = bench.node.spawn().await?;
    let replayed_metric = "pylon_proxy_settlement_events_total{event=\"replayed\"}";
    let outcomes = load.finish().await?;
    let replayed = bench.node.metric(replayed_metric).await;
    let (figures, settled) = bench.settle(&outcomes).await?;

    let mut table = Table::new(
        "kill9",
        "kill -9 of the proxy under load, restarted at once",
        backend.label(),
    );
    in_flight_rows(&mut table, &outcomes, at, "the kill");
    table
        .add(
            "restart_to_listen",
            "restart to listening",
            Figure::Time(Some(listening)),
        )
        .add(
            "down_for",
            "kill to the first completed request",
            Figure::Time(outcome::first_ok_after(&outcomes, at)),
        )
        .add(
            "restarted_after",
            "kill to restart begun",
            Figure::Time(Some(restart_at.saturating_sub(at))),
        )
        .add(
            "lost_window",
            "lost charges: completed this long before the kill, at most",
            Figure::Time(
                figures
                    .lost_ended
                    .iter()
                    .map(|ended| at.saturating_sub(*ended))
                    .max(),
            ),
        )
        .add(
            "replayed",
            "charges replayed from the journal at restart",
            Figure::Count(replayed as u64),
        );
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}

/// SIGTERM mid-load; once the proxy has exited, start it again.
pub async fn sigterm(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    let mut bench = Bench::prepare(backend, Case::Sigterm, options, &[], healthy).await?;
    let load = bench.load();
    let at = bench.fault_at();
    load.until(at).await;
    let (exit_took, status) = bench.node.terminate(STOP_LIMIT).await;
    let listening = bench.node.spawn().await?;
    let outcomes = load.finish().await?;
    let (figures, settled) = bench.settle(&outcomes).await?;

    let exit = match status {
        Some(status) if status.success() => "0".to_string(),
        Some(status) => status.to_string(),
        None => format!("still running after {STOP_LIMIT:?}: killed"),
    };
    let mut table = Table::new(
        "sigterm",
        "SIGTERM of the proxy under load, then a restart",
        backend.label(),
    );
    in_flight_rows(&mut table, &outcomes, at, "SIGTERM");
    table
        .add(
            "exit_time",
            "SIGTERM to exit",
            Figure::Time(Some(exit_took)),
        )
        .add("exit_status", "exit status", Figure::Text(exit))
        .add(
            "restart_to_listen",
            "restart to listening",
            Figure::Time(Some(listening)),
        )
        .add(
            "down_for",
            "SIGTERM to the first completed request sent after it",
            Figure::Time(outcome::first_ok_after(&outcomes, at)),
        );
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}
