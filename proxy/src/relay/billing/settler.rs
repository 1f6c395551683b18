//! The settlement writer: takes finished requests off the hot path and writes their log rows and
//! charges in batches (every `relay.flush_interval_ms` or `relay.flush_batch` records).
//!
//! What it guarantees:
//! - **Nothing is billed twice.** Log rows carry a unique request id, so a batch re-sent after
//!   an uncertain failure (the commit may have happened) or replayed from the journal skips
//!   what the database already has.
//! - **A crash loses at most one flush interval.** Finished requests go to a journaling task
//!   first, which appends them to the [`Journal`] and fsyncs it every flush interval (or
//!   `relay.flush_batch` records) and only then hands them to the writer; it empties the
//!   journal whenever everything it handed over is written. The journal is replayed at the next
//!   start. The database being slow or down never delays the journal.
//! - **One bad row blocks nothing.** When a batch fails while the database answers other
//!   queries, its records are written one by one; a record refused `billing.dead_letter_after`
//!   times is set aside (`settlement_dead_letters`, shown to administrators) and its hold
//!   released.
//! - **The queue is bounded.** [`Settler::saturated`] tells admission to answer 503 while
//!   `billing.queue_capacity` records wait.
//! - **A stop drains.** [`Settler::drain`] journals and writes everything received before it.

use super::balances::accounts;
use super::journal::Journal;
use super::ledger::WrittenCharge;
use super::{Balances, Ledger, Payer, Reservation};
use crate::metrics::ProxyMetrics;
use pylon_shared::db::{Db, LOG_TYPE_CONSUME, RelayRecord, Written};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};

/// One finished request: its log row, and the charge to move into the database.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Settlement {
    pub record: RelayRecord,
    /// The key whose balance was charged (None for unlimited keys).
    pub charged_token: Option<i64>,
    /// Whether the subscription that paid (`record.subscription_id`) has a limited quota, so
    /// a balance held from.
    #[serde(default)]
    pub subscription_limited: bool,
}

impl Settlement {
    /// What paid.
    pub fn payer(&self) -> Payer {
        match self.record.subscription_id {
            0 => Payer::Wallet,
            id => Payer::Subscription {
                id,
                limited: self.subscription_limited,
            },
        }
    }
}

/// How the writer works.
pub struct SettlerSettings {
    /// Longest wait before a batch is written.
    pub interval: Duration,
    /// Records per database transaction.
    pub batch: usize,
    /// Records waiting beyond which admission is refused.
    pub capacity: usize,
    /// Failed single writes (with the database up) before a record is set aside.
    pub dead_letter_after: u32,
}

/// Handle to the journaling and writing tasks.
#[derive(Clone)]
pub struct Settler {
    mailbox: Arc<Mailbox>,
    drains: mpsc::UnboundedSender<oneshot::Sender<()>>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

/// Finished requests on their way to the journaling task. Submitting only pushes onto a vector
/// under a lock the journaling task takes once per flush interval: no task is woken and no
/// thread is signalled per request (a channel would wake the journaling task's runtime thread
/// for every record), except when a batch is full.
struct Mailbox {
    inbox: Mutex<Vec<Settlement>>,
    /// Rung when the inbox holds a full batch.
    full: Notify,
    batch: usize,
}

impl Mailbox {
    fn post(&self, settlement: Settlement) {
        let waiting = {
            let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
            inbox.push(settlement);
            inbox.len()
        };
        if waiting == self.batch {
            self.full.notify_one();
        }
    }

    /// Moves everything posted so far onto the end of `into`.
    fn collect(&self, into: &mut Vec<Settlement>) {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        if into.is_empty() {
            std::mem::swap(into, &mut inbox);
        } else {
            into.append(&mut inbox);
        }
    }
}

/// What the journaling task hands to the writer.
enum Journaled {
    Batch(Vec<Settlement>),
    Drain(oneshot::Sender<()>),
}

/// Counts shared by the tasks.
#[derive(Default)]
struct Progress {
    /// Records handed to the writer since start (replayed ones included).
    handed: AtomicU64,
    /// Records the writer finished (written or set aside).
    settled: AtomicU64,
}

/// The journaling task: appends and fsyncs, then hands over.
struct Journaler {
    mailbox: Arc<Mailbox>,
    journal: Arc<Mutex<Journal>>,
    to_writer: mpsc::UnboundedSender<Journaled>,
    progress: Arc<Progress>,
    metrics: Arc<ProxyMetrics>,
    interval: Duration,
    buffer: Vec<Settlement>,
}

/// The writing task.
struct Writer {
    db: Db,
    balances: Arc<Balances>,
    ledger: Arc<Ledger>,
    metrics: Arc<ProxyMetrics>,
    settings: SettlerSettings,
    queued: Arc<AtomicUsize>,
    progress: Arc<Progress>,
    pending: Vec<Pending>,
}

/// A record waiting for the database.
struct Pending {
    settlement: Settlement,
    /// Found in the journal at start: this process holds nothing for it.
    replayed: bool,
    /// Failed single writes while the database answered.
    failures: u32,
    /// A write of it was tried and failed, perhaps after its commit: it may be written.
    attempted: bool,
}

impl Pending {
    fn new(settlement: Settlement, replayed: bool) -> Self {
        Self {
            settlement,
            replayed,
            failures: 0,
            attempted: false,
        }
    }
}

impl Settler {
    /// Starts the journaling and writing tasks on the current runtime; `replay` (what the
    /// journal held at start) is written first. Written charges leave the ledger's holds: in
    /// `balances` (embedded mode) or in the shared Redis counters.
    pub fn start(
        db: Db,
        balances: Arc<Balances>,
        ledger: Arc<Ledger>,
        metrics: Arc<ProxyMetrics>,
        journal: Journal,
        replay: Vec<Settlement>,
        settings: SettlerSettings,
    ) -> Self {
        let (drains, drain_requests) = mpsc::unbounded_channel();
        let (to_writer, from_journaler) = mpsc::unbounded_channel();
        let mailbox = Arc::new(Mailbox {
            inbox: Mutex::new(Vec::new()),
            full: Notify::new(),
            batch: settings.batch.max(1),
        });
        let queued = Arc::new(AtomicUsize::new(replay.len()));
        let progress = Arc::new(Progress::default());
        progress.handed.store(replay.len() as u64, Ordering::SeqCst);
        metrics.settlement("replayed", replay.len());
        let capacity = settings.capacity;
        let journaler = Journaler {
            mailbox: Arc::clone(&mailbox),
            journal: Arc::new(Mutex::new(journal)),
            to_writer,
            progress: Arc::clone(&progress),
            metrics: Arc::clone(&metrics),
            interval: settings.interval,
            buffer: Vec::new(),
        };
        let writer = Writer {
            db,
            balances,
            ledger,
            metrics,
            settings,
            queued: Arc::clone(&queued),
            progress,
            pending: replay
                .into_iter()
                .map(|settlement| Pending::new(settlement, true))
                .collect(),
        };
        tokio::spawn(journaler.run(drain_requests));
        tokio::spawn(writer.run(from_journaler));
        Self {
            mailbox,
            drains,
            queued,
            capacity,
        }
    }

    /// Queues a finished request. Never blocks (it may be called from `Drop`).
    pub fn submit(&self, settlement: Settlement) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.mailbox.post(settlement);
    }

    /// Whether so many records wait for the database that admission should refuse.
    pub fn saturated(&self) -> bool {
        self.queued.load(Ordering::Relaxed) >= self.capacity
    }

    /// Records waiting for the database.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Journals and writes everything submitted before this call, then stops both tasks;
    /// returns when done or after `limit` (what is not written stays in the journal).
    pub async fn drain(&self, limit: Duration) {
        let (done, finished) = oneshot::channel();
        if self.drains.send(done).is_err() {
            return;
        }
        if tokio::time::timeout(limit, finished).await.is_err() {
            tracing::warn!(
                queued = self.queued(),
                "settlements not all written before the stop; the journal keeps them"
            );
        }
    }
}

impl Journaler {
    async fn run(mut self, mut drain_requests: mpsc::UnboundedReceiver<oneshot::Sender<()>>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let drain = tokio::select! {
                request = drain_requests.recv() => Some(request),
                () = self.mailbox.full.notified() => None,
                _ = ticker.tick() => None,
            };
            self.mailbox.collect(&mut self.buffer);
            self.hand_over().await;
            match drain {
                None => {}
                Some(Some(done)) => {
                    let _ = self.to_writer.send(Journaled::Drain(done));
                    return;
                }
                // Every handle is gone: nothing more can arrive.
                Some(None) => return,
            }
        }
    }

    /// Empties the journal if everything handed over is written, appends the buffer, fsyncs,
    /// and hands the buffer to the writer.
    async fn hand_over(&mut self) {
        let handed = self.progress.handed.load(Ordering::SeqCst);
        let all_settled = self.progress.settled.load(Ordering::SeqCst) >= handed;
        if self.buffer.is_empty() && !all_settled {
            return;
        }
        let batch = std::mem::take(&mut self.buffer);
        let mut lines = Vec::with_capacity(batch.len() * 512);
        for settlement in &batch {
            if serde_json::to_writer(&mut lines, settlement).is_ok() {
                lines.push(b'\n');
            }
        }
        let journal = Arc::clone(&self.journal);
        let result = tokio::task::spawn_blocking(move || {
            let mut journal = journal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if all_settled {
                journal.clear()?;
            }
            journal.append_lines(&lines)
        })
        .await;
        match result {
            Ok(Ok(())) => self.metrics.settlement("journaled", batch.len()),
            Ok(Err(error)) => {
                tracing::error!(%error, "writing the settlement journal failed");
                self.metrics.settlement("journal_failed", batch.len());
            }
            Err(error) => {
                tracing::error!(%error, "the settlement journal task failed");
                self.metrics.settlement("journal_failed", batch.len());
            }
        }
        if batch.is_empty() {
            return;
        }
        self.progress
            .handed
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
        if let Err(error) = self.to_writer.send(Journaled::Batch(batch))
            && let Journaled::Batch(lost) = error.0
        {
            tracing::error!(
                records = lost.len(),
                "settlement writer is gone; the journal keeps the records"
            );
        }
    }
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Journaled>) {
        let mut ticker = tokio::time::interval(self.settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = receiver.recv() => match command {
                    Some(Journaled::Batch(batch)) => {
                        self.pending.extend(
                            batch.into_iter().map(|settlement| Pending::new(settlement, false)),
                        );
                    }
                    Some(Journaled::Drain(done)) => {
                        self.drain().await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.drain().await;
                        return;
                    }
                },
                _ = ticker.tick() => {}
            }
            self.flush_once().await;
        }
    }

    /// Writes batches until nothing is left or the database stops taking them.
    async fn drain(&mut self) {
        while !self.pending.is_empty() {
            let before = self.pending.len();
            self.flush_once().await;
            if self.pending.len() >= before {
                // The database is not taking them: they stay in the journal.
                return;
            }
        }
    }

    /// Writes one batch.
    async fn flush_once(&mut self) {
        if self.pending.is_empty() {
            self.metrics
                .settlement_queue(self.queued.load(Ordering::Relaxed));
            return;
        }
        let take = self.pending.len().min(self.settings.batch);
        let mut batch: Vec<Pending> = self.pending.drain(..take).collect();
        let unwritten = match self.write(&batch).await {
            Ok(()) => Vec::new(),
            Err(error) => {
                self.metrics.settlement("write_failed", 1);
                for pending in &mut batch {
                    pending.attempted = true;
                }
                if error.is_transient() || self.db.ping().await.is_err() {
                    tracing::warn!(%error, records = batch.len(), "the database is not taking settlements; they wait in the journal");
                    batch
                } else {
                    tracing::warn!(%error, records = batch.len(), "a settlement batch was refused; writing its records one by one");
                    self.isolate(batch).await
                }
            }
        };
        self.pending.splice(0..0, unwritten);
        self.metrics
            .settlement_queue(self.queued.load(Ordering::Relaxed));
    }

    /// Counts records finished (written or set aside).
    fn settled(&self, count: usize) {
        self.queued.fetch_sub(count, Ordering::Relaxed);
        self.progress
            .settled
            .fetch_add(count as u64, Ordering::SeqCst);
    }

    /// Writes each record of a refused batch alone; sets aside the ones refused too often.
    /// Returns the ones to try again.
    async fn isolate(&mut self, batch: Vec<Pending>) -> Vec<Pending> {
        let mut again = Vec::new();
        for mut pending in batch {
            let error = match self.write(std::slice::from_ref(&pending)).await {
                Ok(()) => continue,
                Err(error) => error,
            };
            pending.failures += 1;
            if pending.failures < self.settings.dead_letter_after {
                again.push(pending);
                continue;
            }
            let record = &pending.settlement.record;
            let failures = i64::from(pending.failures);
            match self
                .db
                .set_aside(record, failures, &error.to_string())
                .await
            {
                Ok(()) => {
                    tracing::error!(request_id = %record.request_id, %error, "settlement set aside as a dead letter");
                    self.metrics.settlement("dead_letter", 1);
                    self.settled(1);
                    if !pending.replayed && record.log_type == LOG_TYPE_CONSUME {
                        // Release the hold: nothing will be charged unless an administrator
                        // acts on the dead letter.
                        self.ledger.settle(
                            &Reservation {
                                user_id: record.user_id,
                                payer: pending.settlement.payer(),
                                token_id: pending.settlement.charged_token,
                                amount: record.quota,
                            },
                            0,
                        );
                    }
                }
                Err(set_aside_error) => {
                    tracing::warn!(%set_aside_error, "setting a settlement aside failed; keeping it");
                    again.push(pending);
                }
            }
        }
        again
    }

    /// Writes records in one transaction and moves their charges out of the holds.
    async fn write(&self, batch: &[Pending]) -> Result<(), pylon_shared::db::DbError> {
        let records: Vec<&RelayRecord> = batch.iter().map(|p| &p.settlement.record).collect();
        // Only a replayed record or one whose earlier write failed (perhaps after its commit)
        // can be in the database already; a batch of neither skips looking for them.
        let written = if batch.iter().any(|p| p.replayed || p.attempted) {
            Written::Maybe
        } else {
            Written::Never
        };
        // Embedded mode: a snapshot reload must not read balances between the commit and the
        // in-memory move below.
        let _flush = if self.ledger.in_memory() {
            Some(self.balances.flush_lock.lock().await)
        } else {
            None
        };
        self.db.apply_relay_batch(&records, written).await?;
        self.settled(batch.len());
        self.metrics.settlement("written", batch.len());
        // Records skipped as already applied were applied by an earlier attempt (or before a
        // crash), whose move below did not happen: move every record now. Charges are summed
        // per account first, so the shared ledger gets one update per account and batch.
        let mut written: BTreeMap<(i64, Payer, Option<i64>, bool), i64> = BTreeMap::new();
        for pending in batch {
            let settlement = &pending.settlement;
            let r = &settlement.record;
            if r.log_type == LOG_TYPE_CONSUME {
                *written
                    .entry((
                        r.user_id,
                        settlement.payer(),
                        settlement.charged_token,
                        !pending.replayed,
                    ))
                    .or_default() += r.quota;
            }
        }
        if self.ledger.in_memory() {
            for ((user_id, payer, token_id, held), charge) in written {
                let accounts = accounts(user_id, payer, token_id);
                if held {
                    self.balances.flushed(&accounts, charge);
                } else {
                    self.balances.written_elsewhere(&accounts, charge);
                }
            }
        } else {
            // Off the shared counters, then `stored` re-read from the database for each account.
            let charges: Vec<WrittenCharge> = written
                .into_iter()
                .map(|((user_id, payer, token_id, held), charge)| WrittenCharge {
                    user_id,
                    payer,
                    token_id,
                    charge,
                    held,
                })
                .collect();
            self.ledger.written(&charges).await;
        }
        Ok(())
    }
}
