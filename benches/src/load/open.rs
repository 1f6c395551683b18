//! The open loop: requests start on the [`Schedule`], each on its own task, whether or not
//! earlier ones have finished. Latency is measured from the moment a request is released, so
//! time it spends queued (behind a slow server, or waiting for one of the `max_in_flight`
//! connections) is in its latency: coordinated omission avoided, as in wrk2.

use super::Phases;
use super::exchange::{Exchange, Target};
use super::schedule::Schedule;
use super::stats::{ErrorKind, Stats};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Runs the schedule through both phases; returns how many measured requests started late.
pub async fn run(
    target: Arc<Target>,
    stats: Arc<Mutex<Stats>>,
    rate: f64,
    max_in_flight: usize,
    phases: Phases,
) -> anyhow::Result<u64> {
    let warmup = phases.measure_from.saturating_duration_since(phases.start);
    let end = phases.end.saturating_duration_since(phases.start);
    let in_flight = Arc::new(Semaphore::new(max_in_flight));
    let mut schedule = Schedule::new(rate);
    let mut started = [0u64; 2];
    let mut late = 0;
    let mut tasks = JoinSet::new();
    loop {
        let due = schedule.next_due();
        if due >= end {
            break;
        }
        // A request belongs to the phase it is due in; warm-up ones are never recorded.
        let measured = due >= warmup;
        if started[usize::from(measured)] >= phases.max_requests {
            if measured {
                break;
            }
            schedule = Schedule::starting_at(rate, warmup);
            continue;
        }
        if phases.start.elapsed() < due {
            tokio::time::sleep_until((phases.start + due).into()).await;
        }
        let released = Instant::now();
        let now = released.saturating_duration_since(phases.start);
        if now >= end {
            break;
        }
        if schedule.start(now) && measured {
            late += 1;
        }
        started[usize::from(measured)] += 1;
        let target = Arc::clone(&target);
        let stats = Arc::clone(&stats);
        let in_flight = Arc::clone(&in_flight);
        tasks.spawn(async move {
            let exchange = send(&target, &in_flight, released).await;
            if measured {
                exchange.record_into(&stats);
            }
        });
        // Reap finished tasks so the set only holds those in flight.
        while let Some(done) = tasks.try_join_next() {
            done?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(late)
}

/// One request released at `released`: waits for a free slot, then sends. The timeout covers
/// the wait too, so that the run ends within one timeout of its schedule even when the server
/// stopped answering.
async fn send(target: &Target, in_flight: &Semaphore, released: Instant) -> Exchange {
    let deadline = released + target.timeout();
    let attempt = async {
        let Ok(_slot) = in_flight.acquire().await else {
            return Exchange::failed(ErrorKind::Other);
        };
        target.exchange_from(released).await
    };
    tokio::time::timeout_at(deadline.into(), attempt)
        .await
        .unwrap_or_else(|_| Exchange::failed(ErrorKind::Timeout))
}
