//! The keys and users in use, bounded (`relay.key_cache_capacity` of each): a key the cache
//! does not hold is read from the database (one indexed query, its owner joined), once however
//! many requests present it at the same time, then kept; a key the database does not know is
//! remembered as unknown for `relay.unknown_key_ttl_ms`, so a flood of bad keys costs no
//! database work. The change feed updates or drops what the cache holds.
//!
//! A load and a change event for the same key can cross (the load read the row just before the
//! change committed, and the event found nothing cached to update). Every key or user event
//! bumps `epoch` before it reads the database, and a load that sees the epoch move re-reads, so
//! one of the two always sees the other.

use super::{TokenEntry, UserEntry};
use crate::metrics::ProxyMetrics;
use crate::relay::billing::Balances;
use pylon_shared::db::{Db, DbError, KeyWithOwner, TokenRow, UserBrief};
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Database lookups of uncached keys running at once; more wait (a flood of distinct unknown
/// keys must not take every database connection).
const CONCURRENT_LOOKUPS: usize = 8;
/// Re-reads of a load that keeps crossing change events, before it gives up caching.
const LOAD_ATTEMPTS: usize = 3;

/// Sizes and lifetimes of the cache.
#[derive(Debug, Clone, Copy)]
pub struct KeyCacheSettings {
    /// Keys held at most (and users held at most).
    pub capacity: usize,
    /// How long a key the database does not know is refused without asking again.
    pub unknown_ttl: Duration,
}

/// Where uncached keys and users are read from.
pub struct KeySource {
    pub db: Db,
    pub balances: Arc<Balances>,
    pub metrics: Arc<ProxyMetrics>,
    /// Embedded mode: balances live in this process, and reading one must hold the flush lock
    /// (see `Balances`). With Redis the shared ledger reads balances itself.
    pub in_memory_balances: bool,
}

/// What the cache knows about a presented key.
#[derive(Clone)]
enum KeyState {
    Known(Arc<TokenEntry>),
    Unknown { until: Instant },
}

/// What the cache knows about a user.
#[derive(Clone)]
enum UserState {
    Live(Arc<UserEntry>),
    Gone { until: Instant },
}

/// The bounded cache of keys (by lookup hash) and users (by id).
pub struct KeyCache {
    keys: Cache<String, KeyState>,
    users: Cache<i64, UserState>,
    settings: KeyCacheSettings,
    epoch: AtomicU64,
    lookups: Semaphore,
    source: Option<KeySource>,
}

impl KeyCache {
    /// A cache that loads what it lacks from `source` (`None`: it only holds what is put in).
    pub fn new(settings: KeyCacheSettings, source: Option<KeySource>) -> Self {
        let capacity = settings.capacity.max(1);
        Self {
            keys: Cache::new(capacity),
            users: Cache::new(capacity),
            settings,
            epoch: AtomicU64::new(0),
            lookups: Semaphore::new(CONCURRENT_LOOKUPS),
            source,
        }
    }

    /// Keys held now (known and unknown).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The key with lookup hash `hash`, loading it when not held. `Ok(None)`: no such key.
    pub async fn token(&self, hash: &str) -> Result<Option<Arc<TokenEntry>>, DbError> {
        loop {
            match self.keys.get_value_or_guard_async(hash).await {
                Ok(KeyState::Known(entry)) => return Ok(Some(entry)),
                Ok(KeyState::Unknown { until }) => {
                    if Instant::now() < until {
                        return Ok(None);
                    }
                    self.keys.remove_if(
                        hash,
                        |state| matches!(state, KeyState::Unknown { until: u } if *u == until),
                    );
                }
                Err(guard) => {
                    let Some(source) = &self.source else {
                        return Ok(None);
                    };
                    let _permit = self.lookups.acquire().await;
                    let _flush = balance_lock(source).await;
                    let epoch = self.epoch.load(Ordering::SeqCst);
                    let state = self.read_key(source, hash).await?;
                    let _ = guard.insert(state.clone());
                    let state = self.settle_key(source, hash, epoch, state).await?;
                    return Ok(match state {
                        KeyState::Known(entry) => Some(entry),
                        KeyState::Unknown { .. } => None,
                    });
                }
            }
        }
    }

    /// The live user `id`, loading it when not held. `Ok(None)`: no such live user.
    pub async fn user(&self, id: i64) -> Result<Option<Arc<UserEntry>>, DbError> {
        loop {
            match self.users.get_value_or_guard_async(&id).await {
                Ok(UserState::Live(entry)) => return Ok(Some(entry)),
                Ok(UserState::Gone { until }) => {
                    if Instant::now() < until {
                        return Ok(None);
                    }
                    self.users.remove_if(
                        &id,
                        |state| matches!(state, UserState::Gone { until: u } if *u == until),
                    );
                }
                Err(guard) => {
                    let Some(source) = &self.source else {
                        return Ok(None);
                    };
                    let _permit = self.lookups.acquire().await;
                    let _flush = balance_lock(source).await;
                    let mut epoch = self.epoch.load(Ordering::SeqCst);
                    let row = source.db.user_brief(id).await?;
                    let mut state = self.user_state(source, id, row);
                    let _ = guard.insert(state.clone());
                    let mut settled = false;
                    for _ in 0..LOAD_ATTEMPTS {
                        if self.epoch.load(Ordering::SeqCst) == epoch {
                            settled = true;
                            break;
                        }
                        epoch = self.epoch.load(Ordering::SeqCst);
                        let row = match source.db.user_brief(id).await {
                            Ok(row) => row,
                            Err(error) => {
                                self.users.remove(&id);
                                return Err(error);
                            }
                        };
                        state = self.user_state(source, id, row);
                        self.users.insert(id, state.clone());
                    }
                    if !settled && self.epoch.load(Ordering::SeqCst) != epoch {
                        self.users.remove(&id);
                    }
                    return Ok(match state {
                        UserState::Live(entry) => Some(entry),
                        UserState::Gone { .. } => None,
                    });
                }
            }
        }
    }

    /// Holds a loaded key and its owner without asking the database (benchmarks, tests).
    pub fn put(&self, hash: String, token: Arc<TokenEntry>, user: Arc<UserEntry>) {
        self.users.insert(user.id, UserState::Live(user));
        self.keys.insert(hash, KeyState::Known(token));
    }

    /// A key changed: update or drop what is held of it. The caller holds the flush lock.
    pub async fn token_changed(&self, id: i64) -> Result<(), DbError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match source.db.token_by_id(id).await? {
            Some(row) => {
                // A key held as unknown becomes known here too (created after a failed try).
                if self.keys.contains_key(row.key_hash.as_str()) {
                    self.replace_token(source, &row);
                }
                // Its hash never changes, but drop any other entry of this id to be sure.
                self.keys.retain(|hash, state| {
                    !matches!(state, KeyState::Known(t) if t.id == id && *hash != row.key_hash)
                });
            }
            None => self
                .keys
                .retain(|_, state| !matches!(state, KeyState::Known(t) if t.id == id)),
        }
        Ok(())
    }

    /// A user changed: update or drop what is held of them. The caller holds the flush lock.
    pub async fn user_changed(&self, id: i64) -> Result<(), DbError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let row = source.db.user_brief(id).await?;
        if self.users.contains_key(&id) {
            let state = self.user_state(source, id, row);
            let _ = self.users.replace(id, state, true);
        }
        Ok(())
    }

    /// Re-reads every key and user held (change events may have been lost). The caller holds
    /// the flush lock.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let token_ids: Vec<i64> = self
            .keys
            .iter()
            .filter_map(|(_, state)| match state {
                KeyState::Known(t) => Some(t.id),
                KeyState::Unknown { .. } => None,
            })
            .collect();
        let rows = source.db.tokens_by_ids(&token_ids).await?;
        let live: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
        for row in &rows {
            self.replace_token(source, row);
        }
        self.keys
            .retain(|_, state| !matches!(state, KeyState::Known(t) if !live.contains(&t.id)));
        let user_ids: Vec<i64> = self
            .users
            .iter()
            .filter_map(|(id, state)| matches!(state, UserState::Live(_)).then_some(id))
            .collect();
        let rows = source.db.user_briefs_by_ids(&user_ids).await?;
        let live: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
        for row in rows {
            let id = row.id;
            let _ = self
                .users
                .replace(id, self.user_state(source, id, Some(row)), true);
        }
        for id in user_ids.into_iter().filter(|id| !live.contains(id)) {
            let _ = self
                .users
                .replace(id, self.user_state(source, id, None), true);
        }
        Ok(())
    }

    /// Reads a key and its owner; records the balances read and holds the owner.
    async fn read_key(&self, source: &KeySource, hash: &str) -> Result<KeyState, DbError> {
        let found = match source.db.key_with_owner(hash).await {
            Ok(found) => found,
            Err(error) => {
                source.metrics.key_lookup("failed");
                return Err(error);
            }
        };
        let Some(KeyWithOwner { token, owner }) = found else {
            source.metrics.key_lookup("unknown");
            return Ok(KeyState::Unknown {
                until: Instant::now() + self.settings.unknown_ttl,
            });
        };
        source.metrics.key_lookup("found");
        let owner_state = self.user_state(source, token.user_id, owner);
        self.users.insert(token.user_id, owner_state);
        source
            .balances
            .set_token_stored(token.id, token.remain_quota);
        Ok(KeyState::Known(Arc::new(TokenEntry::from_row(&token))))
    }

    /// After a load: while change events crossed it, read again; the last read stays held.
    async fn settle_key(
        &self,
        source: &KeySource,
        hash: &str,
        mut epoch: u64,
        mut state: KeyState,
    ) -> Result<KeyState, DbError> {
        for _ in 0..LOAD_ATTEMPTS {
            if self.epoch.load(Ordering::SeqCst) == epoch {
                return Ok(state);
            }
            epoch = self.epoch.load(Ordering::SeqCst);
            state = match self.read_key(source, hash).await {
                Ok(state) => state,
                Err(error) => {
                    self.keys.remove(hash);
                    return Err(error);
                }
            };
            self.keys.insert(hash.to_string(), state.clone());
        }
        if self.epoch.load(Ordering::SeqCst) != epoch {
            // Still moving: serve this request with the last read, hold nothing.
            self.keys.remove(hash);
        }
        Ok(state)
    }

    fn replace_token(&self, source: &KeySource, row: &TokenRow) {
        source.balances.set_token_stored(row.id, row.remain_quota);
        let entry = KeyState::Known(Arc::new(TokenEntry::from_row(row)));
        let _ = self.keys.replace(row.key_hash.clone(), entry, true);
    }

    fn user_state(&self, source: &KeySource, id: i64, row: Option<UserBrief>) -> UserState {
        match row {
            Some(row) => {
                source.balances.set_user_stored(row.id, row.quota);
                for subscription in row.subscriptions.iter().filter(|s| s.amount_total > 0) {
                    source.balances.set_subscription_stored(
                        subscription.id,
                        subscription.amount_total - subscription.amount_used,
                    );
                }
                UserState::Live(Arc::new(UserEntry::from(row)))
            }
            None => {
                tracing::debug!(user = id, "user not found or deleted");
                UserState::Gone {
                    until: Instant::now() + self.settings.unknown_ttl,
                }
            }
        }
    }
}

/// Embedded mode: balances are read under the flush lock.
async fn balance_lock(source: &KeySource) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    if source.in_memory_balances {
        Some(source.balances.flush_lock.lock().await)
    } else {
        None
    }
}
