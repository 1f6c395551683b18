//! Thousands of slow clients while the steady load runs: how the normal requests fare (success
//! rate and p99 before and during the attack), the proxy's memory, and whether the slow
//! connections are cut (at `server.header_timeout_secs`, 10 s by default).

use super::bench::Bench;
use super::options::{Backend, Case, Options};
use super::outcome;
use super::report::{Figure, Table};
use super::setup::Channel;
use super::slow::Attack;
use std::time::Duration;

/// A header line every this long from each slow client.
const TRICKLE: Duration = Duration::from_secs(1);

/// `--slow` slow connections from a third of the way in to the end of the load.
pub async fn slow_clients(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    let bench = Bench::prepare(backend, Case::Slow, options, &[], |url| {
        vec![Channel::healthy(url, 0)]
    })
    .await?;
    let load = bench.load();
    let at = bench.fault_at();
    load.until(at).await;
    let rss_before = bench.node.rss_kib() as f64 / 1024.0;
    let addr = bench.node.listen.parse()?;
    let attack = Attack::start(addr, options.slow, TRICKLE).await;
    load.until(bench.duration).await;
    let tally = attack.stop().await;
    let outcomes = load.finish().await?;
    let (figures, settled) = bench.settle(&outcomes).await?;

    let before = outcome::sent_between(&outcomes, Duration::ZERO, at);
    // From a second in, when every slow connection is open.
    let during = outcome::sent_between(&outcomes, at + Duration::from_secs(1), bench.duration);
    let mut cut_after = tally.cut_after.clone();
    let mut table = Table::new(
        "slow",
        "slow clients trickling headers during the steady load",
        backend.label(),
    );
    table
        .add(
            "slow_opened",
            "slow connections opened",
            Figure::count(tally.opened),
        )
        .add(
            "slow_refused",
            "slow connections refused at once",
            Figure::count(tally.refused),
        )
        .add(
            "slow_cut",
            "slow connections closed by the proxy",
            Figure::count(tally.cut_after.len()),
        )
        .add(
            "slow_cut_p50",
            "closed after (p50)",
            Figure::Time(outcome::quantile(&mut cut_after, 0.5)),
        )
        .add(
            "slow_cut_max",
            "closed after (max)",
            Figure::Time(outcome::quantile(&mut cut_after, 1.0)),
        )
        .add(
            "slow_still_open",
            "slow connections still open at the end",
            Figure::count(tally.still_open()),
        )
        .add(
            "success_before",
            "normal requests completed, before the attack",
            Figure::Share(outcome::success_rate(&before)),
        )
        .add(
            "success_during",
            "normal requests completed, during the attack",
            Figure::Share(outcome::success_rate(&during)),
        )
        .add(
            "p99_before",
            "p99 of normal requests, before",
            Figure::Time(outcome::ok_latency_quantile(&before, 0.99)),
        )
        .add(
            "p99_during",
            "p99 of normal requests, during",
            Figure::Time(outcome::ok_latency_quantile(&during, 0.99)),
        )
        .add(
            "rss_before",
            "proxy RSS before the attack",
            Figure::MiB(rss_before),
        );
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}
