//! The closed loop: N workers, each sending its next request as soon as the previous one ends.
//! Throughput then follows the server's latency (the loop waits for it), which is what a fixed
//! pool of clients sees.

use super::Phases;
use super::exchange::Target;
use super::stats::Stats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::task::JoinSet;

/// Requests started in the warm-up and in the measured phase.
#[derive(Default)]
struct Started {
    warmup: AtomicU64,
    measured: AtomicU64,
}

/// Runs `concurrency` workers through both phases.
pub async fn run(
    target: Arc<Target>,
    stats: Arc<Mutex<Stats>>,
    concurrency: usize,
    phases: Phases,
) -> anyhow::Result<()> {
    let started = Arc::new(Started::default());
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(worker(
            Arc::clone(&target),
            Arc::clone(&stats),
            phases,
            Arc::clone(&started),
        ));
    }
    while let Some(done) = workers.join_next().await {
        done?;
    }
    Ok(())
}

async fn worker(
    target: Arc<Target>,
    stats: Arc<Mutex<Stats>>,
    phases: Phases,
    started: Arc<Started>,
) {
    loop {
        let now = Instant::now();
        if now >= phases.end {
            break;
        }
        // A request belongs to the phase it starts in; warm-up ones are never recorded.
        let measured = now >= phases.measure_from;
        let counter = if measured {
            &started.measured
        } else {
            &started.warmup
        };
        if counter.fetch_add(1, Ordering::Relaxed) >= phases.max_requests {
            if measured {
                break;
            }
            tokio::time::sleep_until(phases.measure_from.into()).await;
            continue;
        }
        let exchange = target.exchange().await;
        if measured {
            exchange.record_into(&stats);
        }
    }
}
