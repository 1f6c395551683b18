//! Settlements this node has made but not yet sent to the shared `held` counters (Redis).
//!
//! A request's settlement (its hold replaced by the real charge) costs no Redis round trip of
//! its own: it waits here, and the next reservation this node sends carries every waiting
//! settlement in the same script call, applied before that reservation is weighed. So the
//! client's next request on this node always finds its previous hold released. A flusher sends
//! what no reservation took within `billing.settle_fold_ms` (an idle node), so other nodes see
//! a released hold at most that much later than before.
//!
//! Order against the settlement writer: a charge written to the database takes its part off
//! the node's `held` field, which must come after the settlement that set that part. The
//! writer therefore calls [`PendingSettlements::drained`] first: it waits for reservations
//! carrying settlements to be answered, then hands over what is still waiting.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{Notify, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `held` hash key → the change this node's field in it is waiting for.
#[derive(Default)]
pub struct PendingSettlements {
    deltas: Mutex<HashMap<String, i64>>,
    /// Woken when the map stops being empty.
    ready: Notify,
    /// How many times settlements were taken out (by carriers or flushes).
    takes: AtomicU64,
    /// Held for reading by each reservation carrying settlements until Redis answered it; for
    /// writing while settlements are handed to a flush.
    carriers: RwLock<()>,
}

/// Settlements taken out to be sent, with the guard that orders them before a flush.
pub struct Carried<'a> {
    pub deltas: Vec<(String, i64)>,
    _guard: Option<RwLockReadGuard<'a, ()>>,
}

/// Every settlement still waiting, taken once no reservation carrying settlements is in flight;
/// nothing new is carried until this is dropped.
pub struct Drained<'a> {
    pub deltas: Vec<(String, i64)>,
    _guard: RwLockWriteGuard<'a, ()>,
}

impl PendingSettlements {
    /// Adds `delta` to this node's field in each of the `held` hashes.
    pub fn add(&self, held_keys: impl IntoIterator<Item = String>, delta: i64) {
        if delta == 0 {
            return;
        }
        let mut deltas = self.lock();
        let was_empty = deltas.is_empty();
        for key in held_keys {
            match deltas.entry(key) {
                Entry::Occupied(mut entry) => {
                    let sum = entry.get().saturating_add(delta);
                    if sum == 0 {
                        entry.remove();
                    } else {
                        entry.insert(sum);
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(delta);
                }
            }
        }
        if was_empty && !deltas.is_empty() {
            self.ready.notify_one();
        }
    }

    /// Puts back settlements whose carrier failed (Redis did not answer).
    pub fn restore(&self, taken: Vec<(String, i64)>) {
        for (key, delta) in taken {
            self.add([key], delta);
        }
    }

    /// What a reservation about to be sent carries: every waiting settlement (possibly none).
    pub async fn carry(&self) -> Carried<'_> {
        if self.lock().is_empty() {
            return Carried {
                deltas: Vec::new(),
                _guard: None,
            };
        }
        let guard = self.carriers.read().await;
        Carried {
            deltas: self.take(),
            _guard: Some(guard),
        }
    }

    /// Waits until no carrier is in flight, then takes everything still waiting.
    pub async fn drained(&self) -> Drained<'_> {
        let guard = self.carriers.write().await;
        Drained {
            deltas: self.take(),
            _guard: guard,
        }
    }

    /// Resolves once settlements are waiting (at once if some were added since the last call).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Counts the times settlements were taken out: unchanged over a window, nothing carried
    /// them in it.
    pub fn takes(&self) -> u64 {
        self.takes.load(Ordering::Relaxed)
    }

    /// Whether no settlement waits.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn take(&self) -> Vec<(String, i64)> {
        let taken: Vec<_> = self.lock().drain().collect();
        if !taken.is_empty() {
            self.takes.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.deltas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sorted(mut deltas: Vec<(String, i64)>) -> Vec<(String, i64)> {
        deltas.sort();
        deltas
    }

    #[tokio::test]
    async fn settlements_add_up_per_hash_and_are_carried_once() {
        let pending = PendingSettlements::default();
        pending.add(["u".to_string(), "t".to_string()], -30);
        pending.add(["t".to_string()], 5);
        pending.add(["x".to_string()], 7);
        pending.add(["x".to_string()], -7);
        let carried = pending.carry().await;
        assert_eq!(
            sorted(carried.deltas.clone()),
            [("t".to_string(), -25), ("u".to_string(), -30)]
        );
        drop(carried);
        assert!(pending.carry().await.deltas.is_empty());
    }

    #[tokio::test]
    async fn a_failed_carrier_puts_its_settlements_back() {
        let pending = PendingSettlements::default();
        pending.add(["u".to_string()], -10);
        let carried = pending.carry().await;
        pending.add(["u".to_string()], -1);
        let taken = carried.deltas.clone();
        drop(carried);
        pending.restore(taken);
        assert_eq!(pending.drained().await.deltas, [("u".to_string(), -11)]);
    }

    #[tokio::test]
    async fn draining_waits_for_carriers_in_flight() {
        let pending = std::sync::Arc::new(PendingSettlements::default());
        pending.add(["u".to_string()], -10);
        let carried = pending.carry().await;
        pending.add(["u".to_string()], -1);
        let drain = tokio::spawn({
            let pending = std::sync::Arc::clone(&pending);
            async move { pending.drained().await.deltas }
        });
        // The drain cannot finish while the carrier is in flight.
        tokio::task::yield_now().await;
        assert!(!drain.is_finished());
        drop(carried);
        assert_eq!(drain.await.unwrap(), [("u".to_string(), -1)]);
    }

    #[tokio::test]
    async fn takes_count_only_what_took_something() {
        let pending = PendingSettlements::default();
        drop(pending.carry().await);
        assert_eq!(pending.takes(), 0);
        pending.add(["u".to_string()], -1);
        assert!(!pending.is_empty());
        drop(pending.carry().await);
        assert_eq!(pending.takes(), 1);
        assert!(pending.is_empty());
    }

    #[tokio::test]
    async fn the_flusher_is_woken_when_settlements_arrive() {
        let pending = PendingSettlements::default();
        pending.add(["u".to_string()], -1);
        tokio::time::timeout(Duration::from_secs(5), pending.ready())
            .await
            .expect("woken");
    }
}
