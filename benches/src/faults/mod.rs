//! `pylon-faults`: issue 10's heavy fault scenarios under load, measured. For each case a
//! fresh Pylon node (`pylon-proxy` from `--bin-dir`, on SQLite or MySQL + Redis) takes a
//! steady open-loop load (half of it streamed, spread over several keys) while a fault is
//! injected: `kill -9` and SIGTERM of the proxy, Redis and the database cut and restored,
//! thousands of slow clients, upstreams that stall, cut, fail, send garbage or absurd usage.
//! Every request has a source address of its own, which its log row records, so each one the
//! client saw complete is matched with its charges: lost and double charges are counted
//! exactly, and each key's balance drop is checked against its logged charges. One table per
//! case (Markdown, then a JSON line).

pub mod bench;
pub mod crash;
pub mod crowd;
pub mod garbage;
pub mod ledger;
pub mod node;
pub mod options;
pub mod outages;
pub mod outcome;
pub mod report;
pub mod scratch;
pub mod setup;
pub mod slow;
pub mod traffic;
pub mod upstreams;

use options::{Backend, Case, Options};
use report::Table;

/// Runs one case on one backend.
pub async fn run_case(case: Case, backend: Backend, options: &Options) -> anyhow::Result<Table> {
    match case {
        Case::Kill9 => crash::kill9(backend, options).await,
        Case::Sigterm => crash::sigterm(backend, options).await,
        Case::Redis => outages::redis(backend, options).await,
        Case::Database => outages::database(backend, options).await,
        Case::Slow => crowd::slow_clients(backend, options).await,
        Case::Upstreams => upstreams::upstreams(backend, options).await,
    }
}
