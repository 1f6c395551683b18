//! The settlement writer: takes finished requests off the hot path and writes their log rows and
//! charges in batches (every `relay.flush_interval_ms` or `relay.flush_batch` records). A batch
//! that fails is retried as it is; log rows carry a unique request id, so a retried batch whose
//! first attempt did commit is not applied twice.

use super::ledger::WrittenCharge;
use super::{Balances, Ledger};
use pylon_shared::db::{Db, RelayRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One finished request: its log row, and the charge to move into the database.
#[derive(Debug)]
pub struct Settlement {
    pub record: RelayRecord,
    /// The key whose balance was charged (None for unlimited keys).
    pub charged_token: Option<i64>,
}

/// Handle to the writer task.
#[derive(Clone)]
pub struct Settler {
    sender: mpsc::UnboundedSender<Settlement>,
}

impl Settler {
    /// Starts the writer on the current runtime.
    /// Written charges leave the ledger's holds: in `balances` (embedded mode) or in the shared
    /// Redis counters.
    pub fn start(
        db: Db,
        balances: Arc<Balances>,
        ledger: Arc<Ledger>,
        interval: Duration,
        batch: usize,
    ) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(db, balances, ledger, receiver, interval, batch));
        Self { sender }
    }

    /// Queues a finished request. Never blocks (it may be called from `Drop`).
    pub fn submit(&self, settlement: Settlement) {
        if let Err(error) = self.sender.send(settlement) {
            tracing::error!(request_id = %error.0.record.request_id, "settlement writer is gone; charge lost");
        }
    }
}

async fn run(
    db: Db,
    balances: Arc<Balances>,
    ledger: Arc<Ledger>,
    mut receiver: mpsc::UnboundedReceiver<Settlement>,
    interval: Duration,
    batch_size: usize,
) {
    let mut pending: Vec<Settlement> = Vec::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closed = false;
    while !closed || !pending.is_empty() {
        tokio::select! {
            received = receiver.recv(), if !closed && pending.len() < batch_size => match received {
                Some(settlement) => {
                    pending.push(settlement);
                    if pending.len() < batch_size {
                        continue;
                    }
                }
                None => closed = true,
            },
            _ = ticker.tick() => {}
        }
        if pending.is_empty() {
            continue;
        }
        let take = pending.len().min(batch_size);
        let batch: Vec<Settlement> = pending.drain(..take).collect();
        if let Err(unwritten) = write(&db, &balances, &ledger, batch).await {
            // Put it back in front and try again on the next tick.
            pending.splice(0..0, unwritten);
        }
    }
}

/// Writes one batch; on failure hands the batch back.
async fn write(
    db: &Db,
    balances: &Balances,
    ledger: &Ledger,
    batch: Vec<Settlement>,
) -> Result<(), Vec<Settlement>> {
    let records: Vec<RelayRecord> = batch.iter().map(|s| s.record.clone()).collect();
    // Embedded mode: a snapshot reload must not read balances between the commit and the
    // in-memory move below.
    let _flush = if ledger.in_memory() {
        Some(balances.flush_lock.lock().await)
    } else {
        None
    };
    if let Err(error) = db.apply_relay_records(&records).await {
        tracing::warn!(%error, records = batch.len(), "writing settlements failed; retrying");
        return Err(batch);
    }
    // Records skipped as already applied were applied by an earlier attempt of this very batch,
    // whose move below did not happen: move every record now. Charges are summed per account
    // first, so the shared ledger gets one update per account and batch, not one per request.
    let mut written: BTreeMap<(i64, Option<i64>), i64> = BTreeMap::new();
    for settlement in &batch {
        let r = &settlement.record;
        if r.log_type == pylon_shared::db::LOG_TYPE_CONSUME {
            *written
                .entry((r.user_id, settlement.charged_token))
                .or_default() += r.quota;
        }
    }
    if ledger.in_memory() {
        for ((user_id, token_id), charge) in written {
            balances.flushed(user_id, token_id, charge);
        }
    } else {
        // Off the shared counters, then `stored` re-read from the database for each account.
        let charges: Vec<WrittenCharge> = written
            .into_iter()
            .map(|((user_id, token_id), charge)| WrittenCharge {
                user_id,
                token_id,
                charge,
                held: true,
            })
            .collect();
        ledger.written(&charges).await;
    }
    Ok(())
}
